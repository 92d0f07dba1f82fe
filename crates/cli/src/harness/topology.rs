//! Topologies as data: the TOML format the harness runs (see `docs/tools.md`).

use std::collections::HashSet;

use serde::Deserialize;

use crate::error::CliError;

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
}

/// One step of a run.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Publish `count` messages on `topic` from node `from`.
    Publish {
        /// Publishing node.
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
    Expect {
        /// Receiving node.
        node: String,
        /// Expected number of distinct messages received so far.
        count: u64,
        /// Only count messages under this prefix.
        #[serde(default)]
        topic: Option<String>,
        /// Bound of the wait.
        #[serde(default = "default_expect_timeout")]
        timeout_ms: u64,
    },
    /// Shut a node down.
    Kill {
        /// The node.
        node: String,
    },
    /// Start a killed node again (new port, same links and subscriptions).
    Restart {
        /// The node.
        node: String,
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
    /// Parses a topology and checks that every name it uses is a node and every
    /// link a link.
    pub fn parse(text: &str) -> Result<Topology, CliError> {
        let topology: Topology =
            toml::from_str(text).map_err(|e| CliError::Topology(e.to_string()))?;
        topology.validate()?;
        Ok(topology)
    }

    /// Reads and parses a topology file.
    pub fn load(path: &std::path::Path) -> Result<Topology, CliError> {
        let text = std::fs::read_to_string(path).map_err(|e| CliError::file(path, e))?;
        Topology::parse(&text).map_err(|e| CliError::Topology(format!("{}: {e}", path.display())))
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
        for step in &self.steps {
            match step {
                Step::Publish { from: node, .. }
                | Step::Expect { node, .. }
                | Step::Kill { node }
                | Step::Restart { node } => {
                    self.node(node)?;
                }
                Step::Partition { link } | Step::Heal { link } => {
                    self.link(link)?;
                }
                Step::Wait { .. } => {}
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
}
