//! How many items a subscriber's `get(n)` takes per wake-up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How many items `get(n)` takes per wake-up, from what converting them costs.
///
/// Items are converted only once they are taken, so the last ones of a `get(n)` wait
/// for the conversion of everything taken with them. Expensive items (large tables)
/// are therefore taken in chunks of about [`Pace::CHUNK_TIME`] of conversion each,
/// converted while the rest arrive; cheap ones all at once, as every wake-up costs.
#[derive(Default)]
pub struct Pace {
    /// Nanoseconds converting one item took lately (a running average; 0 before any).
    nanos_per_item: AtomicU64,
}

impl Pace {
    /// Conversion time a chunk aims at: a wake-up costs a few microseconds, and the
    /// last chunk of a `get(n)` delays it by this much.
    const CHUNK_TIME: Duration = Duration::from_micros(500);
    /// The fewest items a chunk has (a chunk is smaller only to finish a `get(n)`).
    const MIN_CHUNK: usize = 32;

    /// How many of the `remaining` items to wait for and convert next.
    pub fn chunk(&self, remaining: usize) -> usize {
        match self.nanos_per_item.load(Ordering::Relaxed) {
            0 => remaining,
            nanos => {
                let items = Self::CHUNK_TIME.as_nanos() as u64 / nanos;
                usize::try_from(items)
                    .unwrap_or(usize::MAX)
                    .max(Self::MIN_CHUNK)
                    .min(remaining)
            }
        }
    }

    /// Notes that converting `items` items took `took`.
    pub fn record(&self, items: usize, took: Duration) {
        let Some(per_item) = (took.as_nanos() as u64).checked_div(items as u64) else {
            return;
        };
        let per_item = per_item.max(1);
        let average = match self.nanos_per_item.load(Ordering::Relaxed) {
            0 => per_item,
            before => (before + per_item) / 2,
        };
        self.nanos_per_item.store(average, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pace() -> Pace {
        Pace::default()
    }

    #[test]
    fn takes_everything_until_conversion_has_been_timed() {
        assert_eq!(pace().chunk(1000), 1000);
    }

    #[test]
    fn cheap_items_come_in_one_chunk_and_expensive_ones_in_several() {
        let cheap = pace();
        cheap.record(1000, Duration::from_micros(150));
        assert_eq!(cheap.chunk(1000), 1000);

        let expensive = pace();
        expensive.record(100, Duration::from_millis(1));
        assert_eq!(expensive.chunk(1000), 50, "500 µs of 10 µs items");
        assert_eq!(expensive.chunk(20), 20, "never more than asked for");
    }

    #[test]
    fn chunks_stay_above_the_minimum_and_follow_the_average() {
        let pace = pace();
        pace.record(1, Duration::from_secs(1));
        assert_eq!(pace.chunk(1000), Pace::MIN_CHUNK);
        pace.record(0, Duration::from_secs(1));
        assert_eq!(
            pace.chunk(1000),
            Pace::MIN_CHUNK,
            "an empty chunk teaches nothing"
        );
        for _ in 0..64 {
            pace.record(1000, Duration::from_micros(100));
        }
        assert_eq!(pace.chunk(10_000), 5000);
    }
}
