//! Topologies as data: the TOML format the harness runs (see `docs/tools.md`).

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use crate::error::CliError;
use crate::json::from_json_or_text;

/// A topology: nodes, their links and subscriptions, and the steps to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Name shown in reports.
    pub name: String,
    /// What the topology exercises.
    #[serde(default)]
    pub description: String,
    /// The nodes (`[[node]]` tables).
    #[serde(rename = "node")]
    pub nodes: Vec<NodeSpec>,
    /// The steps, in order (`[[step]]` tables).
    #[serde(rename = "step", default)]
    pub steps: Vec<Step>,
    /// The groups (`count = N` nodes), each with the indices of its members; filled
    /// when the topology is expanded.
    #[serde(skip)]
    pub groups: Vec<(String, Vec<usize>)>,
}

/// One endpoint of a topology.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Unique name.
    pub name: String,
    /// Nodes this one peers with (they listen).
    #[serde(default)]
    pub peers: Vec<String>,
    /// Topic prefixes this node subscribes to.
    #[serde(default)]
    pub subscribe: Vec<String>,
    /// Topic prefixes this node forwards between its peers without subscribing
    /// (a node forwards only what it or its peers' filters name).
    #[serde(default)]
    pub forward: Vec<String>,
    /// Stores whose master this node holds (in memory).
    #[serde(default)]
    pub master: Vec<String>,
    /// Stores this node holds a clone of; the master must be on a node it is linked to.
    #[serde(default)]
    pub clone: Vec<String>,
    /// Makes this entry a group of `count` alike nodes named `<name>1` ..
    /// `<name><count>`: `peers` and steps naming the group mean every member, and
    /// `{name}` in a topic stands for the member's name.
    #[serde(default)]
    pub count: Option<usize>,
}

impl NodeSpec {
    /// A node called `name` with no peers, subscriptions or stores.
    pub fn named(name: &str) -> Self {
        NodeSpec {
            name: name.to_owned(),
            peers: Vec::new(),
            subscribe: Vec::new(),
            forward: Vec::new(),
            master: Vec::new(),
            clone: Vec::new(),
            count: None,
        }
    }
}

/// One step of a run.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Publish `count` messages on `topic` from node `from` (from each member of a
    /// group).
    Publish {
        /// Publishing node, or group.
        from: String,
        /// Topic.
        topic: String,
        /// Number of messages.
        count: u64,
    },
    /// Pause for `ms` milliseconds.
    Wait {
        /// Milliseconds.
        ms: u64,
    },
    /// Wait (at most `timeout_ms`) until `node` received `count` distinct messages
    /// (on topics under `topic`, if given) from other nodes; a check of the report.
    /// Without `count`: every message published so far that it subscribes to. A group
    /// is one check that every member passes.
    Expect {
        /// Receiving node, or group.
        node: String,
        /// Expected number of distinct messages received so far; all by default.
        #[serde(default)]
        count: Option<u64>,
        /// Only count messages under this prefix.
        #[serde(default)]
        topic: Option<String>,
        /// Bound of the wait.
        #[serde(default = "default_expect_timeout")]
        timeout_ms: u64,
    },
    /// Shut a node (every member of a group) down.
    Kill {
        /// The node, or group.
        node: String,
    },
    /// Start a killed node (every member of a group) again (new port, same links and
    /// subscriptions).
    Restart {
        /// The node, or group.
        node: String,
    },
    /// Write to `store` through `node` (its master or a clone): the `entries`, and
    /// `count` more entries `"<node>/<i>" = i` (`i` a count, numbered on from earlier
    /// puts of the node).
    Put {
        /// The writing node.
        node: String,
        /// The store.
        store: String,
        /// Keys and values (values in the JSON notation of `--json`).
        #[serde(default)]
        entries: BTreeMap<String, serde_json::Value>,
        /// Number of generated entries.
        #[serde(default)]
        count: u64,
    },
    /// Wait (at most `timeout_ms`) until every running replica of `store` holds `keys`
    /// keys and the `values`; a check of the report.
    #[serde(alias = "expect-store")]
    ExpectStore {
        /// The store.
        store: String,
        /// Expected number of keys.
        #[serde(default)]
        keys: Option<u64>,
        /// Expected values of some keys (JSON notation of `--json`).
        #[serde(default)]
        values: BTreeMap<String, serde_json::Value>,
        /// Bound of the wait.
        #[serde(default = "default_expect_timeout")]
        timeout_ms: u64,
    },
    /// Cut the link between two nodes.
    Partition {
        /// The link, by its two nodes (either order).
        link: [String; 2],
    },
    /// Restore a cut link.
    Heal {
        /// The link, by its two nodes (either order).
        link: [String; 2],
    },
}

fn default_expect_timeout() -> u64 {
    10_000
}

impl Topology {
    /// Parses a topology, expands its groups and checks that every name it uses is a
    /// node (or group) and every link a link.
    pub fn parse(text: &str) -> Result<Topology, CliError> {
        Topology::parse_scaled(text, &[])
    }

    /// [`Topology::parse`] with the sizes of some groups changed: `(group, count)`.
    pub fn parse_scaled(text: &str, counts: &[(String, usize)]) -> Result<Topology, CliError> {
        let mut topology: Topology =
            toml::from_str(text).map_err(|e| CliError::Topology(e.to_string()))?;
        for (group, count) in counts {
            let spec = topology
                .nodes
                .iter_mut()
                .find(|n| &n.name == group && n.count.is_some())
                .ok_or_else(|| CliError::Topology(format!("no group named {group:?}")))?;
            spec.count = Some(*count);
        }
        let topology = topology.expand();
        topology.validate()?;
        Ok(topology)
    }

    /// Reads and parses a topology file, with the sizes of some groups changed.
    pub fn load(path: &std::path::Path, counts: &[(String, usize)]) -> Result<Topology, CliError> {
        let text = std::fs::read_to_string(path).map_err(|e| CliError::file(path, e))?;
        Topology::parse_scaled(&text, counts)
            .map_err(|e| CliError::Topology(format!("{}: {e}", path.display())))
    }

    /// The topology with every group replaced by its members, and `peers` naming a
    /// group replaced by the members' names.
    fn expand(mut self) -> Topology {
        let members = |spec: &NodeSpec| -> Vec<String> {
            match spec.count {
                None => vec![spec.name.clone()],
                Some(count) => (1..=count).map(|i| format!("{}{i}", spec.name)).collect(),
            }
        };
        let by_group: BTreeMap<String, Vec<String>> = self
            .nodes
            .iter()
            .filter(|spec| spec.count.is_some())
            .map(|spec| (spec.name.clone(), members(spec)))
            .collect();
        let mut nodes = Vec::new();
        let mut groups = Vec::new();
        for spec in &self.nodes {
            let first = nodes.len();
            for name in members(spec) {
                let named = |topics: &[String]| -> Vec<String> {
                    topics.iter().map(|t| t.replace("{name}", &name)).collect()
                };
                let peers = spec
                    .peers
                    .iter()
                    .flat_map(|p| by_group.get(p).cloned().unwrap_or_else(|| vec![p.clone()]))
                    .collect();
                nodes.push(NodeSpec {
                    name: name.clone(),
                    peers,
                    subscribe: named(&spec.subscribe),
                    forward: named(&spec.forward),
                    count: None,
                    ..spec.clone()
                });
            }
            if spec.count.is_some() {
                groups.push((spec.name.clone(), (first..nodes.len()).collect()));
            }
        }
        self.nodes = nodes;
        self.groups = groups;
        self
    }

    /// The indices of the nodes `name` stands for: a group's members, or one node.
    pub fn members(&self, name: &str) -> Result<Vec<usize>, CliError> {
        match self.groups.iter().find(|(group, _)| group == name) {
            Some((_, members)) => Ok(members.clone()),
            None => self.node(name).map(|node| vec![node]),
        }
    }

    /// The group node `node` belongs to, if any.
    pub fn group_of(&self, node: usize) -> Option<&str> {
        self.groups
            .iter()
            .find(|(_, members)| members.contains(&node))
            .map(|(group, _)| group.as_str())
    }

    /// The links `(dialer, listener)` as node indices, in declaration order.
    pub fn links(&self) -> Vec<(usize, usize)> {
        let index = |name: &str| {
            self.nodes
                .iter()
                .position(|n| n.name == name)
                .expect("validated")
        };
        self.nodes
            .iter()
            .enumerate()
            .flat_map(|(i, n)| n.peers.iter().map(move |p| (i, index(p))))
            .collect()
    }

    /// The index of the node named `name`.
    pub fn node(&self, name: &str) -> Result<usize, CliError> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .ok_or_else(|| CliError::Topology(format!("no node named {name:?}")))
    }

    /// The index in [`Topology::links`] of the link between `a` and `b`.
    pub fn link(&self, [a, b]: &[String; 2]) -> Result<usize, CliError> {
        let (a, b) = (self.node(a)?, self.node(b)?);
        self.links()
            .iter()
            .position(|&(x, y)| (x, y) == (a, b) || (x, y) == (b, a))
            .ok_or_else(|| {
                CliError::Topology(format!(
                    "no link between {} and {}",
                    self.nodes[a].name, self.nodes[b].name
                ))
            })
    }

    /// The nodes holding a replica (master or clone) of `store`.
    pub fn replicas(&self, store: &str) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| {
                let node = &self.nodes[i];
                node.master.iter().chain(&node.clone).any(|s| s == store)
            })
            .collect()
    }

    fn validate(&self) -> Result<(), CliError> {
        let mut names = HashSet::new();
        for node in &self.nodes {
            if !names.insert(node.name.as_str()) {
                return Err(CliError::Topology(format!(
                    "node {:?} is declared twice",
                    node.name
                )));
            }
        }
        for node in &self.nodes {
            for peer in &node.peers {
                self.node(peer)?;
            }
        }
        self.validate_stores()?;
        for step in &self.steps {
            match step {
                Step::Publish { from: node, .. }
                | Step::Expect { node, .. }
                | Step::Kill { node }
                | Step::Restart { node } => {
                    self.members(node)?;
                }
                Step::Partition { link } | Step::Heal { link } => {
                    self.link(link)?;
                }
                Step::Put {
                    node,
                    store,
                    entries,
                    ..
                } => {
                    if !self.replicas(store).contains(&self.node(node)?) {
                        return Err(CliError::Topology(format!(
                            "node {node:?} holds no replica of store {store:?}"
                        )));
                    }
                    entries
                        .values()
                        .try_for_each(|v| from_json_or_text(v).map(drop))?;
                }
                Step::ExpectStore { store, values, .. } => {
                    if self.replicas(store).is_empty() {
                        return Err(CliError::Topology(format!("no store named {store:?}")));
                    }
                    values
                        .values()
                        .try_for_each(|v| from_json_or_text(v).map(drop))?;
                }
                Step::Wait { .. } => {}
            }
        }
        Ok(())
    }

    /// Every store has one master, and every clone a link to it (clones attach to a
    /// master on a direct peer).
    fn validate_stores(&self) -> Result<(), CliError> {
        let links = self.links();
        for (i, node) in self.nodes.iter().enumerate() {
            for store in &node.clone {
                let masters: Vec<usize> = (0..self.nodes.len())
                    .filter(|&m| self.nodes[m].master.contains(store))
                    .collect();
                let linked = masters
                    .iter()
                    .any(|&m| links.contains(&(i, m)) || links.contains(&(m, i)));
                if !linked {
                    return Err(CliError::Topology(format!(
                        "clone of {store:?} on {:?} is not linked to a master of it",
                        node.name
                    )));
                }
            }
            for store in &node.master {
                let count = self
                    .nodes
                    .iter()
                    .filter(|n| n.master.contains(store))
                    .count();
                if count > 1 {
                    return Err(CliError::Topology(format!(
                        "store {store:?} has {count} masters"
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_resolve() {
        let base =
            "name = \"t\"\n[[node]]\nname = \"a\"\npeers = [\"b\"]\n[[node]]\nname = \"b\"\n";
        assert_eq!(Topology::parse(base).unwrap().links(), [(0, 1)]);
        let bad_peer = base.replace("peers = [\"b\"]", "peers = [\"c\"]");
        assert!(Topology::parse(&bad_peer)
            .unwrap_err()
            .to_string()
            .contains("no node named \"c\""));
        let bad_link = format!("{base}[[step]]\npartition = {{ link = [\"a\", \"a\"] }}\n");
        assert!(Topology::parse(&bad_link)
            .unwrap_err()
            .to_string()
            .contains("no link"));
        let unknown_step = format!("{base}[[step]]\nexplode = {{ node = \"a\" }}\n");
        assert!(Topology::parse(&unknown_step).is_err());
    }

    #[test]
    fn groups_expand_into_members() {
        let text = "name = \"t\"\n\
             [[node]]\nname = \"hub\"\n\
             [[node]]\nname = \"p\"\ncount = 2\npeers = [\"hub\"]\n\
             [[node]]\nname = \"w\"\ncount = 3\npeers = [\"hub\", \"p\"]\nsubscribe = [\"/n/{name}\"]\n\
             [[step]]\npublish = { from = \"w\", topic = \"/x\", count = 1 }\n\
             [[step]]\nexpect = { node = \"w\" }\n";
        let topology = Topology::parse(text).unwrap();
        let names: Vec<&str> = topology.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["hub", "p1", "p2", "w1", "w2", "w3"]);
        assert_eq!(topology.nodes[4].peers, ["hub", "p1", "p2"]);
        assert_eq!(topology.nodes[4].subscribe, ["/n/w2"]);
        assert_eq!(topology.members("w").unwrap(), [3, 4, 5]);
        assert_eq!(topology.members("hub").unwrap(), [0]);
        assert_eq!(topology.group_of(1), Some("p"));
        // Each w dials the hub and both p: 2 + 3 * 3 links.
        assert_eq!(topology.links().len(), 11);
        let scaled = Topology::parse_scaled(text, &[("w".into(), 10)]).unwrap();
        assert_eq!(scaled.members("w").unwrap().len(), 10);
        assert!(Topology::parse_scaled(text, &[("hub".into(), 2)])
            .unwrap_err()
            .to_string()
            .contains("no group named \"hub\""));
    }

    #[test]
    fn stores_must_be_consistent() {
        let nodes = |a: &str, b: &str, c: &str| {
            format!(
                "name = \"t\"\n[[node]]\nname = \"a\"\n{a}\n[[node]]\nname = \"b\"\npeers = [\"a\"]\n{b}\n\
                 [[node]]\nname = \"c\"\npeers = [\"b\"]\n{c}\n"
            )
        };
        let error = |text: &str| Topology::parse(text).unwrap_err().to_string();
        let good = nodes("master = [\"s\"]", "clone = [\"s\"]", "");
        let topology = Topology::parse(&format!(
            "{good}[[step]]\nput = {{ node = \"b\", store = \"s\", entries = {{ k = \"v\" }} }}\n\
             [[step]]\nexpect-store = {{ store = \"s\", keys = 1, values = {{ k = \"v\" }} }}\n"
        ))
        .unwrap();
        assert_eq!(topology.replicas("s"), [0, 1]);
        assert!(error(&nodes("master = [\"s\"]", "", "clone = [\"s\"]")).contains("not linked"));
        assert!(error(&nodes("master = [\"s\"]", "master = [\"s\"]", "")).contains("2 masters"));
        assert!(error(&format!(
            "{good}[[step]]\nput = {{ node = \"c\", store = \"s\", count = 1 }}\n"
        ))
        .contains("no replica"));
        assert!(error(&format!(
            "{good}[[step]]\nexpect_store = {{ store = \"x\", keys = 1 }}\n"
        ))
        .contains("no store"));
        assert!(error(&format!(
            "{good}[[step]]\nexpect_store = {{ store = \"s\", values = {{ k = {{ \"@data-type\" = \"count\", data = \"x\" }} }} }}\n"
        ))
        .contains("invalid JSON"));
    }
}
