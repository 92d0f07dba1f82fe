//! What an endpoint counts about itself, and the figures it shows: the counters the
//! data path and the Core increment ([`Counters`]: one relaxed atomic add per frame or
//! batch, never a lock), and [`Metrics`], a snapshot of every figure at one moment,
//! which [`Endpoint::metrics`](crate::Endpoint::metrics) returns and the metrics port
//! (`server`) serves in Prometheus' text format.
//!
//! Names follow Broker's (`broker_connections`, `broker_processed_messages_total`,
//! `broker_buffered_messages`, `broker_store_entries`, ...) where Broker has the figure;
//! ours have the same prefix.

pub(crate) mod server;

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// The kinds of messages Broker counts as processed (its `type` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageKind {
    /// Data messages, published here or received.
    Data,
    /// Store commands.
    Command,
    /// Subscription (filter) updates.
    RoutingUpdate,
    /// Liveness probes.
    Ping,
    /// Answers to them.
    Pong,
}

impl MessageKind {
    const ALL: [MessageKind; 5] = [
        MessageKind::Data,
        MessageKind::Command,
        MessageKind::RoutingUpdate,
        MessageKind::Ping,
        MessageKind::Pong,
    ];

    /// Broker's label value.
    fn label(self) -> &'static str {
        match self {
            MessageKind::Data => "data",
            MessageKind::Command => "command",
            MessageKind::RoutingUpdate => "routing-update",
            MessageKind::Ping => "ping",
            MessageKind::Pong => "pong",
        }
    }
}

/// What a slow-peer policy did (see `SlowPeerPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlowPeerAction {
    /// A peering was dropped after its outbox stayed full.
    Disconnect,
    /// An episode of dropping a peer's messages began.
    Drop,
}

/// The endpoint's counters. Everything else the metrics show is read when asked.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    processed: [AtomicU64; MessageKind::ALL.len()],
    dedup_hits: AtomicU64,
    dropped_status_events: AtomicU64,
    slow_peer_actions: [AtomicU64; 2],
}

impl Counters {
    /// `count` messages of `kind` were processed.
    pub(crate) fn processed(&self, kind: MessageKind, count: usize) {
        self.processed[kind as usize].fetch_add(count as u64, Ordering::Relaxed);
    }

    /// `count` received messages were dropped as duplicates (or as our own, come back).
    pub(crate) fn dedup_hits(&self, count: usize) {
        if count > 0 {
            self.dedup_hits.fetch_add(count as u64, Ordering::Relaxed);
        }
    }

    /// A status event was shed because a status subscriber's queue was full.
    pub(crate) fn dropped_status_event(&self) {
        self.dropped_status_events.fetch_add(1, Ordering::Relaxed);
    }

    /// The slow-peer policy acted.
    pub(crate) fn slow_peer_action(&self, action: SlowPeerAction) {
        self.slow_peer_actions[action as usize].fetch_add(1, Ordering::Relaxed);
    }
}

/// Whether a figure only grows (a counter) or goes up and down (a gauge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only grows; exposed with a `_total` suffix.
    Counter,
    /// Goes up and down.
    Gauge,
}

/// One metric: a name, and one value per value of its label (or a single value).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily {
    /// The name as exposed, prefix and `_total` suffix included (`broker_connections`,
    /// `broker_processed_messages_total`).
    pub name: String,
    /// What it measures.
    pub help: &'static str,
    /// Counter or gauge.
    pub kind: MetricKind,
    /// The label that tells its values apart; `None` for a single value.
    pub label: Option<&'static str>,
    /// `(label value, value)`; the label value is empty for an unlabelled metric.
    pub values: Vec<(String, i64)>,
}

/// Every figure of an endpoint at one moment, as [`Endpoint::metrics`](crate::Endpoint::metrics)
/// returns it and the metrics port serves it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    /// The metrics, in the order they are served.
    pub families: Vec<MetricFamily>,
}

/// Prefix of every metric name, as in Broker.
const PREFIX: &str = "broker";

impl Metrics {
    /// The metric named `name` (as exposed).
    pub fn family(&self, name: &str) -> Option<&MetricFamily> {
        self.families.iter().find(|f| f.name == name)
    }

    /// The value of `name` for label value `label` (`""` for an unlabelled metric);
    /// `None` when there is no such value.
    pub fn value(&self, name: &str, label: &str) -> Option<i64> {
        self.family(name)?
            .values
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, v)| *v)
    }

    /// The metrics in Prometheus' text exposition format (version 0.0.4), as the
    /// metrics port serves them.
    pub fn to_prometheus_text(&self) -> String {
        let mut registry = Registry::with_prefix(PREFIX);
        registry.register_collector(Box::new(self.clone()));
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)
            .expect("writing to a String cannot fail");
        text
    }

    /// Adds a family; `name` without the prefix and the counter suffix.
    pub(crate) fn push(
        &mut self,
        name: &str,
        help: &'static str,
        kind: MetricKind,
        label: Option<&'static str>,
        values: Vec<(String, i64)>,
    ) {
        let suffix = if kind == MetricKind::Counter {
            "_total"
        } else {
            ""
        };
        self.families.push(MetricFamily {
            name: format!("{PREFIX}_{name}{suffix}"),
            help,
            kind,
            label,
            values,
        });
    }

    /// Adds the families read from `counters`.
    pub(crate) fn push_counters(&mut self, counters: &Counters) {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed) as i64;
        self.push(
            "processed_messages",
            "Total number of processed messages.",
            MetricKind::Counter,
            Some("type"),
            MessageKind::ALL
                .iter()
                .map(|kind| {
                    (
                        kind.label().to_owned(),
                        read(&counters.processed[*kind as usize]),
                    )
                })
                .collect(),
        );
        self.push(
            "dedup_hits",
            "Received messages dropped as already seen (duplicates, or our own come back).",
            MetricKind::Counter,
            None,
            vec![(String::new(), read(&counters.dedup_hits))],
        );
        self.push(
            "dropped_status_events",
            "Status events shed because a status subscriber's queue was full.",
            MetricKind::Counter,
            None,
            vec![(String::new(), read(&counters.dropped_status_events))],
        );
        self.push(
            "slow_peer_actions",
            "Times the slow-peer policy acted: peerings dropped (disconnect), episodes of dropping a peer's messages (drop).",
            MetricKind::Counter,
            Some("action"),
            [
                ("disconnect", SlowPeerAction::Disconnect),
                ("drop", SlowPeerAction::Drop),
            ]
            .into_iter()
            .map(|(label, action)| {
                (label.to_owned(), read(&counters.slow_peer_actions[action as usize]))
            })
            .collect(),
        );
    }
}

impl Collector for Metrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in &self.families {
            // The encoder adds the prefix, and `_total` to counters.
            let name = family.name[PREFIX.len() + 1..]
                .strip_suffix(match family.kind {
                    MetricKind::Counter => "_total",
                    MetricKind::Gauge => "",
                })
                .unwrap_or(&family.name);
            let metric_type = match family.kind {
                MetricKind::Counter => ConstCounter::new(0u64).metric_type(),
                MetricKind::Gauge => ConstGauge::new(0i64).metric_type(),
            };
            let mut metric = encoder.encode_descriptor(name, family.help, None, metric_type)?;
            for (label, value) in &family.values {
                let labels: Vec<(&str, &str)> = family
                    .label
                    .map(|key| vec![(key, label.as_str())])
                    .unwrap_or_default();
                let sample = metric.encode_family(&labels)?;
                match family.kind {
                    MetricKind::Counter => ConstCounter::new(*value as u64).encode(sample)?,
                    MetricKind::Gauge => ConstGauge::new(*value).encode(sample)?,
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
    fn counters_appear_under_brokers_names_in_the_text_format() {
        let counters = Counters::default();
        counters.processed(MessageKind::Data, 3);
        counters.processed(MessageKind::Ping, 1);
        counters.dedup_hits(2);
        counters.slow_peer_action(SlowPeerAction::Drop);
        let mut metrics = Metrics::default();
        metrics.push(
            "connections",
            "Number of active network connections.",
            MetricKind::Gauge,
            Some("type"),
            vec![("native".to_owned(), 2)],
        );
        metrics.push_counters(&counters);
        assert_eq!(
            metrics.value("broker_processed_messages_total", "data"),
            Some(3)
        );
        assert_eq!(metrics.value("broker_dedup_hits_total", ""), Some(2));
        let text = metrics.to_prometheus_text();
        for line in [
            "# TYPE broker_connections gauge",
            "broker_connections{type=\"native\"} 2",
            "# TYPE broker_processed_messages_total counter",
            "broker_processed_messages_total{type=\"data\"} 3",
            "broker_processed_messages_total{type=\"routing-update\"} 0",
            "broker_processed_messages_total{type=\"ping\"} 1",
            "broker_dedup_hits_total 2",
            "broker_slow_peer_actions_total{action=\"drop\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line:?} missing in\n{text}"
            );
        }
    }
}
