//! `broker.Publisher`: publishes to one topic with backpressure.

use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};

use broker_actors::Publisher as RustPublisher;
use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::convert::to_payload;
use crate::endpoint::PyEndpoint;
use crate::topic::topic_from;
use crate::wait::drive;

/// `broker.Publisher`: `Endpoint.make_publisher(topic)`; a context manager that resets
/// it on exit.
#[pyclass(name = "Publisher", module = "broker", frozen, subclass)]
pub struct PyPublisher {
    /// `None` once reset.
    inner: Mutex<Option<Arc<RustPublisher>>>,
}

impl PyPublisher {
    /// The publisher; `RuntimeError` once reset.
    fn publisher(&self) -> PyResult<Arc<RustPublisher>> {
        let guard = self
            .inner
            .lock()
            .map_err(|_| PyRuntimeError::new_err("publisher poisoned"))?;
        guard
            .clone()
            .ok_or_else(|| PyRuntimeError::new_err("publisher is reset (closed)"))
    }
}

#[pymethods]
impl PyPublisher {
    /// `Publisher(endpoint, topic)`; usually `Endpoint.make_publisher`.
    #[new]
    pub(crate) fn new(endpoint: &PyEndpoint, topic: &Bound<'_, PyAny>) -> PyResult<Self> {
        let inner = endpoint
            .inner()
            .try_make_publisher(topic_from(topic)?)
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(PyPublisher {
            inner: Mutex::new(Some(Arc::new(inner))),
        })
    }

    /// Publishes a value; while the buffer is full, waits (Ctrl-C interrupts).
    fn publish(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let publisher = self.publisher()?;
        // With room in the buffer this is a queue push, GIL held throughout.
        let Err(data) = publisher.try_publish(to_payload(data)?) else {
            return Ok(());
        };
        // The async path is the interruptible one: Ctrl-C drops it where it waits.
        drive(py, publisher.publish_batch_async(vec![data]))
    }

    /// Publishes every value in order; waits like `publish` while the buffer is full.
    #[pyo3(signature = (*batch))]
    fn publish_batch(&self, py: Python<'_>, batch: &Bound<'_, PyTuple>) -> PyResult<()> {
        let publisher = self.publisher()?;
        let batch = batch
            .iter()
            .map(|v| to_payload(&v))
            .collect::<PyResult<Vec<_>>>()?;
        drive(py, publisher.publish_batch_async(batch))
    }

    /// How many messages the subscribers downstream could take.
    fn demand(&self) -> PyResult<usize> {
        Ok(self.publisher()?.demand())
    }

    /// How many messages wait in the buffer.
    fn buffered(&self) -> PyResult<usize> {
        Ok(self.publisher()?.buffered())
    }

    /// The buffer's size.
    fn capacity(&self) -> PyResult<usize> {
        Ok(self.publisher()?.capacity())
    }

    /// Room left in the buffer.
    fn free_capacity(&self) -> PyResult<usize> {
        Ok(self.publisher()?.free_capacity())
    }

    /// Messages sent per second, recently.
    fn send_rate(&self) -> PyResult<f64> {
        Ok(self.publisher()?.send_rate())
    }

    /// A descriptor readable while the buffer has room.
    fn fd(&self) -> PyResult<RawFd> {
        Ok(self.publisher()?.fd())
    }

    /// Releases the publisher, as Broker's `reset()`: what it buffered is still sent;
    /// further calls raise `RuntimeError`.
    fn reset(&self) {
        if let Ok(mut guard) = self.inner.lock() {
            guard.take();
        }
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, PyTuple>) -> bool {
        self.reset();
        false
    }
}
