//! [`Dedup`] against a model that remembers every id ever seen: random batches with
//! random origins, orders, gaps and jumps across window boundaries must give exactly
//! the model's verdicts, with the model's eviction of least recently used origins.

use std::collections::{HashMap, HashSet};

use broker_wire::frame::{DataMessage, NodeId};
use broker_wire::{Data, Topic};
use proptest::prelude::*;

use super::{Dedup, MAX_ORIGINS, WINDOW};

/// Every id of an origin ever seen, one past the highest, and the last use.
#[derive(Default)]
struct Origin {
    seen: HashSet<u64>,
    top: u64,
    last_use: u64,
}

/// What the window promises, spelled out: an id at or above the highest seen is new,
/// one more than [`WINDOW`] below it counts as seen, one in between is new iff never
/// seen; origins beyond [`MAX_ORIGINS`] evict the least recently used, which then
/// starts afresh.
#[derive(Default)]
struct Model {
    origins: HashMap<NodeId, Origin>,
    clock: u64,
}

impl Model {
    /// Uses the entry of `origin`, as the window does once per run of its messages.
    fn touch(&mut self, origin: NodeId) {
        self.clock += 1;
        if !self.origins.contains_key(&origin) && self.origins.len() >= MAX_ORIGINS {
            let oldest = *self
                .origins
                .iter()
                .min_by_key(|(_, o)| o.last_use)
                .expect("full")
                .0;
            self.origins.remove(&oldest);
        }
        self.origins.entry(origin).or_default().last_use = self.clock;
    }

    fn first_time(&mut self, origin: NodeId, id: u64) -> bool {
        let o = self.origins.get_mut(&origin).expect("touched");
        let fresh = if id >= o.top {
            true
        } else if o.top - id > WINDOW {
            false
        } else {
            !o.seen.contains(&id)
        };
        o.seen.insert(id);
        o.top = o.top.max(id + 1);
        fresh
    }

    /// The fresh messages of `batch`, as [`Dedup::retain_fresh`] should give them.
    fn retain_fresh(&mut self, own: NodeId, batch: &[(NodeId, u64)]) -> Vec<(NodeId, u64)> {
        let mut fresh = Vec::new();
        for (i, &(origin, id)) in batch.iter().enumerate() {
            if origin == own {
                continue;
            }
            if i == 0 || batch[i - 1].0 != origin {
                self.touch(origin);
            }
            if self.first_time(origin, id) {
                fresh.push((origin, id));
            }
        }
        fresh
    }
}

const OWN: NodeId = NodeId([0xEE; 16]);

fn origin(n: u32) -> NodeId {
    let mut id = [1; 16];
    id[12..].copy_from_slice(&n.to_be_bytes());
    NodeId(id)
}

/// Ids that hit the interesting places: small ones, and ones around the first few
/// multiples of the window (slides, exact boundaries, jumps past a whole window).
fn id() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..64,
        (1u64..5, -3i64..=3).prop_map(|(k, d)| (k * WINDOW).saturating_add_signed(d)),
        (1u64..5, 0u64..64).prop_map(|(k, d)| k * WINDOW / 2 + d),
    ]
}

/// Batches of messages of `origins` origins (and some of our own).
fn batches(
    origins: u32,
    ids: impl Strategy<Value = u64>,
) -> impl Strategy<Value = Vec<Vec<(NodeId, u64)>>> {
    let message = (0..=origins, ids)
        .prop_map(move |(n, id)| (if n == origins { OWN } else { origin(n) }, id));
    proptest::collection::vec(proptest::collection::vec(message, 1..12), 1..40)
}

fn check(batches: &[Vec<(NodeId, u64)>]) -> Result<(), TestCaseError> {
    let (mut dedup, mut model) = (Dedup::default(), Model::default());
    for batch in batches {
        let messages = batch
            .iter()
            .map(|&(origin, id)| DataMessage {
                origin,
                id,
                ttl: 1,
                topic: Topic::from("/t"),
                data: Data::None,
            })
            .collect();
        let got: Vec<(NodeId, u64)> = dedup
            .retain_fresh(OWN, messages)
            .into_iter()
            .map(|m| (m.origin, m.id))
            .collect();
        prop_assert_eq!(got, model.retain_fresh(OWN, batch), "batch {:?}", batch);
        prop_assert!(dedup.windows.len() <= MAX_ORIGINS);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn few_origins_across_window_boundaries_match_the_model(batches in batches(3, id())) {
        check(&batches)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]
    #[test]
    fn more_origins_than_remembered_match_the_model(
        batches in proptest::collection::vec(batches(MAX_ORIGINS as u32 + 8, 0u64..8), 40..60)
    ) {
        check(&batches.concat())?;
    }
}
