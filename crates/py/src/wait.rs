//! Blocking without holding the GIL and without deafness to Ctrl-C.
//!
//! Every wait runs in slices of at most [`SLICE`] with the GIL released; between slices
//! the GIL is taken back to run Python's signal handlers, so Ctrl-C raises
//! `KeyboardInterrupt` within a slice.

use std::sync::mpsc;
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

/// Runs a one-shot blocking call on a helper thread and waits for it interruptibly.
/// On Ctrl-C the call goes on in the background and its result is dropped.
pub fn run_interruptible<T: Send + 'static>(
    py: Python<'_>,
    call: impl FnOnce() -> T + Send + 'static,
) -> PyResult<T> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("broker-py-call".into())
        .spawn(move || {
            // The receiver is gone only if Python stopped waiting (Ctrl-C).
            let _ = tx.send(call());
        })
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start a helper thread: {e}")))?;
    let outcome = wait_for(py, None, move |slice| match rx.recv_timeout(slice) {
        Ok(value) => Some(Ok(value)),
        Err(mpsc::RecvTimeoutError::Timeout) => None,
        Err(mpsc::RecvTimeoutError::Disconnected) => Some(Err(())),
    })?;
    match outcome {
        Some(Ok(value)) => Ok(value),
        _ => Err(PyRuntimeError::new_err(
            "the broker call failed unexpectedly",
        )),
    }
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
