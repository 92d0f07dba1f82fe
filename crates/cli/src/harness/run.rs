//! Running a topology: a node per endpoint (in this process or each in a child
//! process), a proxy per link that a step acts on.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use broker_wire::Topic;

use super::child::ChildNode;
use super::node::{LocalNode, Node, StoreExpectation, StoreWrite};
use super::proxy::Proxy;
use super::report::{Check, NodeReport, Report};
use super::topology::{Step, Topology};
use crate::error::CliError;
use crate::stats::LatencySummary;

/// Bound of waiting for links to come up (after start, restart and heal).
const LINK_WAIT: Duration = Duration::from_secs(10);
/// Pause after links are up, for subscriptions to reach every node.
const SETTLE: Duration = Duration::from_millis(200);

/// Runs `topology` to the end, every node in this process, and reports what every
/// node received.
pub fn run(topology: &Topology) -> Result<Report, CliError> {
    run_nodes(topology, |name| Box::new(LocalNode::new(name)))
}

/// Runs `topology` to the end, every node in a child process running
/// `program --node NAME` (the `broker-harness` binary), and reports what every node
/// received.
pub fn run_processes(topology: &Topology, program: &Path) -> Result<Report, CliError> {
    run_nodes(topology, |name| Box::new(ChildNode::new(name, program)))
}

fn run_nodes(
    topology: &Topology,
    new_node: impl Fn(&str) -> Box<dyn Node>,
) -> Result<Report, CliError> {
    let mut run = Run::start(topology, new_node)?;
    for (i, step) in topology.steps.iter().enumerate() {
        run.step(i + 1, step)?;
    }
    Ok(run.report())
}

/// Per link, whether a step acts on it: cuts it (partition, heal) or restarts its
/// listening node (on a new port, where the link's proxy then forwards).
fn links_steps_act_on(
    topology: &Topology,
    links: &[(usize, usize)],
) -> Result<Vec<bool>, CliError> {
    let mut acted_on = vec![false; links.len()];
    for step in &topology.steps {
        match step {
            Step::Partition { link } | Step::Heal { link } => {
                acted_on[topology.link(link)?] = true;
            }
            Step::Restart { node } => {
                let restarted = topology.members(node)?;
                for (link, (_, listener)) in links.iter().enumerate() {
                    acted_on[link] |= restarted.contains(listener);
                }
            }
            _ => {}
        }
    }
    Ok(acted_on)
}

struct Run<'t> {
    topology: &'t Topology,
    links: Vec<(usize, usize)>,
    nodes: Vec<Box<dyn Node>>,
    /// Each node's listening port.
    ports: Vec<u16>,
    /// Per link, forwarding to the link's listening node, for the links a step acts on
    /// (see [`links_steps_act_on`]); the others are direct, as a cluster's links are.
    proxies: Vec<Option<Proxy>>,
    cut: Vec<bool>,
    next_seq: Vec<u64>,
    /// Per node, the number of the next generated store entry.
    next_key: Vec<u64>,
    /// Every publish step: (origin, topic, count).
    published: Vec<(usize, Topic, u64)>,
    checks: Vec<Check>,
}

impl<'t> Run<'t> {
    fn start(
        topology: &'t Topology,
        new_node: impl Fn(&str) -> Box<dyn Node>,
    ) -> Result<Self, CliError> {
        let mut nodes: Vec<Box<dyn Node>> = topology
            .nodes
            .iter()
            .map(|spec| new_node(&spec.name))
            .collect();
        let ports = nodes
            .iter_mut()
            .zip(&topology.nodes)
            .map(|(node, spec)| node.start(spec))
            .collect::<Result<Vec<u16>, _>>()?;
        let links = topology.links();
        let proxies = links_steps_act_on(topology, &links)?
            .into_iter()
            .zip(&links)
            .map(|(acted_on, &(_, listener))| {
                acted_on.then(|| Proxy::start(ports[listener])).transpose()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut run = Run {
            topology,
            cut: vec![false; links.len()],
            links,
            nodes,
            ports,
            proxies,
            next_seq: vec![0; topology.nodes.len()],
            next_key: vec![0; topology.nodes.len()],
            published: Vec::new(),
            checks: Vec::new(),
        };
        for node in 0..run.nodes.len() {
            run.dial(node)?;
        }
        run.await_links("start");
        let all: Vec<usize> = (0..run.nodes.len()).collect();
        run.attach_stores(&all)?;
        Ok(run)
    }

    /// Attaches the stores of `nodes`: every master first, then the clones, which
    /// look for their masters among their peers.
    fn attach_stores(&mut self, nodes: &[usize]) -> Result<(), CliError> {
        for clones in [false, true] {
            for &node in nodes {
                self.nodes[node].attach_stores(&self.topology.nodes[node], clones, LINK_WAIT)?;
            }
        }
        Ok(())
    }

    /// Peers `node` with every node it dials, through the links' proxies where they
    /// have one.
    fn dial(&mut self, node: usize) -> Result<(), CliError> {
        for (link, &(dialer, listener)) in self.links.iter().enumerate() {
            if dialer == node {
                let port = match &self.proxies[link] {
                    Some(proxy) => proxy.port(),
                    None => self.ports[listener],
                };
                self.nodes[node].peer(port)?;
            }
        }
        Ok(())
    }

    /// The proxy of a link that a step cuts (it has one by construction).
    fn proxy(&self, link: usize) -> &Proxy {
        self.proxies[link]
            .as_ref()
            .expect("links that steps cut have proxies")
    }

    fn step(&mut self, number: usize, step: &Step) -> Result<(), CliError> {
        match step {
            Step::Publish { from, topic, count } => {
                for origin in self.topology.members(from)? {
                    self.publish(origin, Topic::new(topic.as_str()), *count)?;
                }
            }
            Step::Wait { ms } => std::thread::sleep(Duration::from_millis(*ms)),
            Step::Expect {
                node,
                count,
                topic,
                timeout_ms,
            } => {
                let check = self.expect(
                    node,
                    &self.topology.members(node)?,
                    *count,
                    topic.as_deref(),
                    Duration::from_millis(*timeout_ms),
                );
                self.checks.push(Check {
                    step: number,
                    ..check
                });
            }
            Step::Kill { node } => {
                for index in self.topology.members(node)? {
                    self.nodes[index].kill();
                }
            }
            Step::Restart { node } => {
                let members = self.topology.members(node)?;
                for &index in &members {
                    let port = self.nodes[index].start(&self.topology.nodes[index])?;
                    self.ports[index] = port;
                    for (link, _) in self
                        .links
                        .iter()
                        .enumerate()
                        .filter(|(_, &(_, listener))| listener == index)
                    {
                        self.proxy(link).retarget(port);
                    }
                }
                for &index in &members {
                    self.dial(index)?;
                }
                self.await_links(&format!("restart {node}"));
                self.attach_stores(&members)?;
            }
            Step::Put {
                node,
                store,
                entries,
                count,
            } => self.put(self.topology.node(node)?, store, entries, *count)?,
            Step::ExpectStore {
                store,
                keys,
                values,
                timeout_ms,
            } => {
                let check =
                    self.expect_store(store, *keys, values, Duration::from_millis(*timeout_ms))?;
                self.checks.push(Check {
                    step: number,
                    ..check
                });
            }
            Step::Partition { link } => {
                let link = self.topology.link(link)?;
                self.cut[link] = true;
                self.proxy(link).partition();
            }
            Step::Heal { link: names } => {
                let link = self.topology.link(names)?;
                self.cut[link] = false;
                self.proxy(link).heal();
                self.await_links(&format!("heal {}-{}", names[0], names[1]));
            }
        }
        Ok(())
    }

    fn publish(&mut self, origin: usize, topic: Topic, count: u64) -> Result<(), CliError> {
        if !self.nodes[origin].running() {
            return Ok(());
        }
        self.nodes[origin].publish(&topic, self.next_seq[origin], count)?;
        self.next_seq[origin] += count;
        self.published.push((origin, topic, count));
        Ok(())
    }

    /// Writes `entries` and `count` generated entries to `store` through `node`.
    fn put(
        &mut self,
        node: usize,
        store: &str,
        entries: &BTreeMap<String, serde_json::Value>,
        count: u64,
    ) -> Result<(), CliError> {
        let write = StoreWrite {
            store: store.to_owned(),
            entries: entries.clone(),
            first: self.next_key[node],
            count,
        };
        self.nodes[node].put(&write)?;
        self.next_key[node] += count;
        Ok(())
    }

    /// Waits until every running replica of `store` holds `keys` keys and `values`;
    /// passes if they all do (again, a little later, to catch extra keys).
    fn expect_store(
        &mut self,
        store: &str,
        keys: Option<u64>,
        values: &BTreeMap<String, serde_json::Value>,
        timeout: Duration,
    ) -> Result<Check, CliError> {
        let expected = StoreExpectation {
            store: store.to_owned(),
            keys,
            values: values.clone(),
        };
        let replicas = self.topology.replicas(store);
        let deadline = Instant::now() + timeout;
        while !self.store_deviations(&replicas, &expected)?.0.is_empty()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(50));
        let (wrong, running) = self.store_deviations(&replicas, &expected)?;
        let mut described: Vec<String> = keys.map(|k| format!("{k} keys")).into_iter().collect();
        described.extend(expected.values()?.iter().map(|(k, v)| format!("{k} = {v}")));
        Ok(Check {
            step: 0,
            what: format!("every replica of {store} holds {}", described.join(", ")),
            passed: wrong.is_empty(),
            detail: if wrong.is_empty() {
                format!("{running} replicas agree")
            } else {
                wrong.join("; ")
            },
        })
    }

    /// How each running replica among `replicas` differs from `expected`, and how
    /// many replicas are running.
    fn store_deviations(
        &mut self,
        replicas: &[usize],
        expected: &StoreExpectation,
    ) -> Result<(Vec<String>, usize), CliError> {
        let mut wrong = Vec::new();
        let mut running = 0;
        for &n in replicas {
            let Some(deviations) = self.nodes[n].store_deviations(expected)? else {
                continue;
            };
            running += 1;
            if !deviations.is_empty() {
                wrong.push(format!(
                    "{}: {}",
                    self.nodes[n].name(),
                    deviations.join(", ")
                ));
            }
        }
        Ok((wrong, running))
    }

    /// Messages published so far by others on topics `node` subscribes to (and under
    /// `under`, if given).
    fn expected(&self, node: usize, under: Option<&str>) -> u64 {
        let subscriptions = &self.topology.nodes[node].subscribe;
        self.published
            .iter()
            .filter(|(origin, topic, _)| {
                *origin != node
                    && under.is_none_or(|p| topic.as_str().starts_with(p))
                    && subscriptions
                        .iter()
                        .any(|s| topic.as_str().starts_with(s.as_str()))
            })
            .map(|(_, _, count)| count)
            .sum()
    }

    /// Waits until each of `nodes` (the node or group `name`) received at least
    /// `count` distinct messages (under `topic`; by default all it was sent), then a
    /// little longer to catch extra ones; passes when every one got exactly that.
    fn expect(
        &self,
        name: &str,
        nodes: &[usize],
        count: Option<u64>,
        topic: Option<&str>,
        timeout: Duration,
    ) -> Check {
        let targets: Vec<u64> = nodes
            .iter()
            .map(|&node| count.unwrap_or_else(|| self.expected(node, topic)))
            .collect();
        let matching = |node: usize| {
            let received = self.nodes[node]
                .received()
                .lock()
                .expect("received lock poisoned");
            received
                .distinct
                .values()
                .filter(|t| topic.is_none_or(|p| t.as_str().starts_with(p)))
                .count() as u64
        };
        let short = || nodes.iter().zip(&targets).any(|(&n, &t)| matching(n) < t);
        let deadline = Instant::now() + timeout;
        while short() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(50));
        let got: Vec<u64> = nodes.iter().map(|&n| matching(n)).collect();
        let wrong: Vec<String> = nodes
            .iter()
            .zip(got.iter().zip(&targets))
            .filter(|(_, (got, target))| got != target)
            .map(|(&n, (got, target))| {
                format!("{} received {got} of {target}", self.nodes[n].name())
            })
            .collect();
        let amount = count.map_or_else(|| "all it was sent".to_owned(), |c| c.to_string());
        let under = topic.map_or(String::new(), |t| format!(" on {t}"));
        let (what, detail) = if nodes.len() == 1 {
            let what = format!("{} receives {amount}{under}", self.nodes[nodes[0]].name());
            let detail = match count {
                Some(_) => format!("received {}", got[0]),
                None => format!("received {} of {}", got[0], targets[0]),
            };
            (what, detail)
        } else {
            let what = format!(
                "every {name} ({} nodes) receives {amount}{under}",
                nodes.len()
            );
            let detail = match wrong.len() {
                0 => format!("{} messages in all", got.iter().sum::<u64>()),
                n => {
                    let shown: Vec<&str> = wrong.iter().take(5).map(String::as_str).collect();
                    format!("{n} did not: {}", shown.join(", "))
                }
            };
            (what, detail)
        };
        Check {
            step: 0,
            what,
            passed: wrong.is_empty(),
            detail,
        }
    }

    /// Waits (bounded) until every live, uncut link is peered on both ends; a failed
    /// check if not.
    fn await_links(&mut self, after: &str) {
        let expected: Vec<usize> = (0..self.nodes.len())
            .map(|node| {
                let alive = |n: usize| self.nodes[n].running();
                self.links
                    .iter()
                    .zip(&self.cut)
                    .filter(|(&(a, b), &cut)| {
                        !cut && (a == node || b == node) && alive(a) && alive(b)
                    })
                    .count()
            })
            .collect();
        let deadline = Instant::now() + LINK_WAIT;
        let behind = |nodes: &mut [Box<dyn Node>]| {
            (0..nodes.len())
                .filter(|&n| nodes[n].peered() < expected[n])
                .count()
        };
        while behind(&mut self.nodes) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let lagging = behind(&mut self.nodes);
        if lagging > 0 {
            let what = format!("links up after {after}");
            self.checks.push(Check {
                step: 0,
                what,
                passed: false,
                detail: format!("{lagging} nodes not fully peered"),
            });
        }
        std::thread::sleep(SETTLE);
    }

    fn report(&self) -> Report {
        let latencies = |node: &dyn Node| {
            let received = node.received().lock().expect("received lock poisoned");
            received.latencies.clone()
        };
        let nodes: Vec<NodeReport> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let expected = self.expected(i, None);
                let received = node.received().lock().expect("received lock poisoned");
                let distinct = received.distinct.len() as u64;
                NodeReport {
                    name: node.name().to_owned(),
                    group: self.topology.group_of(i).map(str::to_owned),
                    members: None,
                    expected,
                    received: distinct,
                    lost: expected.saturating_sub(distinct),
                    duplicates: received.duplicates,
                    latency: LatencySummary::of(&received.latencies),
                }
            })
            .collect();
        let groups = self
            .topology
            .groups
            .iter()
            .map(|(name, members)| {
                let sum = |field: fn(&NodeReport) -> u64| -> u64 {
                    members.iter().map(|&m| field(&nodes[m])).sum()
                };
                let pooled: Vec<Duration> = members
                    .iter()
                    .flat_map(|&m| latencies(self.nodes[m].as_ref()))
                    .collect();
                NodeReport {
                    name: name.clone(),
                    group: None,
                    members: Some(members.len()),
                    expected: sum(|n| n.expected),
                    received: sum(|n| n.received),
                    lost: sum(|n| n.lost),
                    duplicates: sum(|n| n.duplicates),
                    latency: LatencySummary::of(&pooled),
                }
            })
            .collect();
        Report::new(
            self.topology.name.clone(),
            nodes,
            groups,
            self.checks.clone(),
        )
    }
}
