//! Counting and summarising: latency percentiles and once-a-second rates.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

/// A summary of latency samples, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Number of samples.
    pub samples: usize,
    /// Smallest sample.
    pub min_us: f64,
    /// Median (50th percentile, nearest rank).
    pub median_us: f64,
    /// 99th percentile (nearest rank).
    pub p99_us: f64,
    /// Largest sample.
    pub max_us: f64,
}

impl LatencySummary {
    /// Summarises `samples`; `None` when there are none.
    pub fn of(samples: &[Duration]) -> Option<LatencySummary> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
        sorted.sort_by(f64::total_cmp);
        // Nearest rank: the smallest sample with at least p of the samples at or below it.
        let rank =
            |p: f64| sorted[((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
        Some(LatencySummary {
            samples: sorted.len(),
            min_us: sorted[0],
            median_us: rank(0.5),
            p99_us: rank(0.99),
            max_us: sorted[sorted.len() - 1],
        })
    }
}

impl std::fmt::Display for LatencySummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} samples, min {:.0} us, median {:.0} us, p99 {:.0} us, max {:.0} us",
            self.samples, self.min_us, self.median_us, self.p99_us, self.max_us
        )
    }
}

/// A thread that, once a second, hands the number of events counted since the last
/// tick to a callback, until stopped.
pub struct RateReporter {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RateReporter {
    /// Starts reporting the increase of `counter` every `interval` to `report`.
    pub fn spawn(
        counter: Arc<AtomicU64>,
        interval: Duration,
        mut report: impl FnMut(f64) + Send + 'static,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut last = counter.load(Ordering::Relaxed);
            let mut tick = Instant::now();
            while !stopped.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20));
                let elapsed = tick.elapsed();
                if elapsed >= interval {
                    let now = counter.load(Ordering::Relaxed);
                    report((now - last) as f64 / elapsed.as_secs_f64());
                    last = now;
                    tick = Instant::now();
                }
            }
        });
        RateReporter {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for RateReporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        let summary = LatencySummary::of(&samples).unwrap();
        assert_eq!(
            (
                summary.min_us,
                summary.median_us,
                summary.p99_us,
                summary.max_us
            ),
            (1.0, 50.0, 99.0, 100.0)
        );
        assert_eq!(LatencySummary::of(&samples[..1]).unwrap().p99_us, 1.0);
        assert!(LatencySummary::of(&[]).is_none());
    }
}
