//! De-duplication of messages that reach an endpoint over several paths (rings,
//! meshes).
//!
//! Every message carries `(origin, id)`, ids counting up from 1 at each origin. Paths
//! differ in latency and filters, so messages of one origin arrive out of order and
//! with gaps; a high-water mark alone would drop legitimate late arrivals. Each origin
//! gets a sliding window of [`WINDOW`] ids as a bitmap: an id above the window slides
//! it forward, an id inside it is checked and marked, an id below it is treated as a
//! duplicate (it lags more than [`WINDOW`] messages behind a faster path, far more
//! than any peer buffer holds).
//!
//! Bound: [`WINDOW`]/8 bytes per origin (32 KiB) and at most [`MAX_ORIGINS`] origins;
//! beyond that the least recently seen origin is forgotten.

use std::collections::HashMap;

use broker_wire::frame::{DataMessage, NodeId};

/// Ids remembered per origin.
pub(crate) const WINDOW: u64 = 1 << 18;

/// Origins remembered at once.
pub(crate) const MAX_ORIGINS: usize = 1024;

const WORDS: usize = (WINDOW / 64) as usize;

/// The window of one origin.
struct Window {
    /// One past the highest id seen.
    top: u64,
    /// Bit `id % WINDOW` is set iff `id` was seen (for ids within the window).
    seen: Box<[u64]>,
    /// Last use, for eviction.
    last_use: u64,
}

impl Window {
    fn new() -> Self {
        Window {
            top: 0,
            seen: vec![0; WORDS].into_boxed_slice(),
            last_use: 0,
        }
    }

    fn bit(id: u64) -> (usize, u64) {
        let slot = id % WINDOW;
        ((slot / 64) as usize, 1 << (slot % 64))
    }

    /// Marks `id`; whether it was new.
    fn first_time(&mut self, id: u64) -> bool {
        if id >= self.top {
            if id - self.top >= WINDOW {
                self.seen.fill(0);
            } else {
                for stale in self.top..id {
                    let (word, mask) = Self::bit(stale);
                    self.seen[word] &= !mask;
                }
            }
            self.top = id + 1;
            let (word, mask) = Self::bit(id);
            self.seen[word] |= mask;
            return true;
        }
        if self.top - id > WINDOW {
            return false;
        }
        let (word, mask) = Self::bit(id);
        let fresh = self.seen[word] & mask == 0;
        self.seen[word] |= mask;
        fresh
    }
}

/// Windows of every origin heard from.
#[derive(Default)]
pub(crate) struct Dedup {
    windows: HashMap<NodeId, Window>,
    clock: u64,
}

impl Dedup {
    /// The messages of `batch` neither from `own` nor seen before, in order; marks them
    /// seen. Batches hold runs of one origin, so the window is looked up once per run.
    pub(crate) fn retain_fresh<D>(
        &mut self,
        own: NodeId,
        batch: Vec<DataMessage<D>>,
    ) -> Vec<DataMessage<D>> {
        let mut fresh = Vec::with_capacity(batch.len());
        let mut rest = batch.into_iter().peekable();
        while let Some(first) = rest.next() {
            let origin = first.origin;
            if origin == own {
                while rest.next_if(|m| m.origin == own).is_some() {}
                continue;
            }
            let window = self.window(origin);
            for message in std::iter::once(first)
                .chain(std::iter::from_fn(|| rest.next_if(|m| m.origin == origin)))
            {
                if window.first_time(message.id) {
                    fresh.push(message);
                }
            }
        }
        fresh
    }

    /// The window of `origin`, made room for and created if new.
    fn window(&mut self, origin: NodeId) -> &mut Window {
        self.clock += 1;
        if !self.windows.contains_key(&origin) && self.windows.len() >= MAX_ORIGINS {
            self.forget_least_recent();
        }
        let window = self.windows.entry(origin).or_insert_with(Window::new);
        window.last_use = self.clock;
        window
    }

    fn forget_least_recent(&mut self) {
        if let Some(oldest) = self
            .windows
            .iter()
            .min_by_key(|(_, w)| w.last_use)
            .map(|(n, _)| *n)
        {
            self.windows.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod model_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use broker_wire::{Data, Topic};

    const OWN: NodeId = NodeId([9; 16]);

    fn message(origin: NodeId, id: u64) -> DataMessage {
        DataMessage {
            origin,
            id,
            ttl: 1,
            topic: Topic::from("/t"),
            data: Data::None,
        }
    }

    /// Offers one message; whether it passed.
    fn first_time(d: &mut Dedup, origin: NodeId, id: u64) -> bool {
        d.retain_fresh(OWN, vec![message(origin, id)]).len() == 1
    }

    const A: NodeId = NodeId([1; 16]);
    const B: NodeId = NodeId([2; 16]);

    #[test]
    fn out_of_order_ids_pass_once() {
        let mut d = Dedup::default();
        for id in [5, 3, 9, 4, 1, 2, 8, 6, 7] {
            assert!(first_time(&mut d, A, id), "{id} is new");
        }
        for id in 1..=9 {
            assert!(!first_time(&mut d, A, id), "{id} repeats");
        }
        assert!(first_time(&mut d, B, 3), "origins are independent");
    }

    #[test]
    fn window_slides_and_forgets_bits_it_reuses() {
        let mut d = Dedup::default();
        assert!(first_time(&mut d, A, 1));
        assert!(first_time(&mut d, A, 1 + WINDOW - 1));
        assert!(!first_time(&mut d, A, 1));
        // Sliding past id 1's slot clears it for id 1 + WINDOW.
        assert!(first_time(&mut d, A, 1 + WINDOW));
        assert!(!first_time(&mut d, A, 1 + WINDOW));
        // Far below the window: treated as already seen.
        assert!(!first_time(&mut d, A, 0));
        assert!(first_time(&mut d, A, 10 * WINDOW));
        assert!(first_time(&mut d, A, 10 * WINDOW - 5));
    }

    #[test]
    fn origins_are_bounded() {
        let mut d = Dedup::default();
        for n in 0..(MAX_ORIGINS as u32 + 10) {
            let mut origin = NodeId([0; 16]);
            origin.0[12..].copy_from_slice(&n.to_be_bytes());
            first_time(&mut d, origin, 1);
        }
        assert_eq!(d.windows.len(), MAX_ORIGINS);
    }

    #[test]
    fn batches_keep_fresh_messages_of_every_run_in_order() {
        let mut d = Dedup::default();
        assert!(first_time(&mut d, A, 2));
        let batch = vec![
            message(A, 1),
            message(A, 2),
            message(OWN, 1),
            message(OWN, 2),
            message(B, 1),
            message(A, 3),
            message(B, 1),
        ];
        let fresh: Vec<(NodeId, u64)> = d
            .retain_fresh(OWN, batch)
            .into_iter()
            .map(|m| (m.origin, m.id))
            .collect();
        assert_eq!(fresh, vec![(A, 1), (B, 1), (A, 3)]);
    }
}
