//! Blocking without holding the GIL and without deafness to Ctrl-C.
//!
//! Every wait runs in slices of at most [`SLICE`] with the GIL released; between slices
//! the GIL is taken back to run Python's signal handlers, so Ctrl-C raises
//! `KeyboardInterrupt` within a slice.

use std::future::Future;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDelta, PyDeltaAccess, PyFloat, PyInt};

/// Longest stretch spent waiting without checking for signals.
pub const SLICE: Duration = Duration::from_millis(50);

/// Calls `step` with slices of the remaining time until it yields a value (`Some`) or
/// `timeout` (`None`: forever) expires (`None`). `step` runs without the GIL.
pub fn wait_for<T: Send>(
    py: Python<'_>,
    timeout: Option<Duration>,
    mut step: impl FnMut(Duration) -> Option<T> + Send,
) -> PyResult<Option<T>> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let slice = match deadline {
            None => SLICE,
            Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
        };
        if let Some(value) = py.detach(|| step(slice)) {
            return Ok(Some(value));
        }
        py.check_signals()?;
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(None);
        }
    }
}

/// Wakes [`drive`] when the future it polls can make progress.
#[derive(Default)]
struct WakeSignal {
    woken: Mutex<bool>,
    condvar: Condvar,
}

impl Wake for WakeSignal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // A poisoned flag only means a waiter panicked; waking is still right.
        *self.woken.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.condvar.notify_one();
    }
}

/// Runs `future` to completion on this thread, interruptibly and without the GIL. On
/// Ctrl-C the future is dropped where it waits, which cancels what it had left to do.
pub fn drive<F>(py: Python<'_>, future: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let signal = Arc::new(WakeSignal::default());
    let waker = Waker::from(signal.clone());
    let mut future = std::pin::pin!(future);
    let outcome = wait_for(py, None, |slice| {
        let end = Instant::now() + slice;
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
                return Some(value);
            }
            let mut woken = signal.woken.lock().unwrap_or_else(|e| e.into_inner());
            while !*woken {
                let left = end.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                woken = match signal.condvar.wait_timeout(woken, left) {
                    Ok((guard, _)) => guard,
                    Err(poisoned) => poisoned.into_inner().0,
                };
            }
            *woken = false;
        }
    })?;
    outcome.ok_or_else(|| PyRuntimeError::new_err("an endless wait ended without a result"))
}

/// A timeout from seconds (`int`/`float`) or a `timedelta`; negative means zero.
pub fn duration_from(value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let secs = if let Ok(delta) = value.downcast::<PyDelta>() {
        delta.get_days() as f64 * 86_400.0
            + delta.get_seconds() as f64
            + delta.get_microseconds() as f64 / 1e6
    } else if value.is_instance_of::<PyFloat>() || value.is_instance_of::<PyInt>() {
        value.extract::<f64>()?
    } else {
        return Err(PyValueError::new_err(format!(
            "a timeout is a number of seconds or a timedelta, not {}",
            value.get_type().name()?
        )));
    };
    Duration::try_from_secs_f64(secs.max(0.0))
        .map_err(|_| PyValueError::new_err(format!("invalid timeout: {secs}")))
}
