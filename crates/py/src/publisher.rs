//! `broker.Publisher`: publishes to one topic with backpressure.

use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_actors::Publisher as RustPublisher;
use broker_wire::Data;
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::convert::to_data;
use crate::endpoint::PyEndpoint;
use crate::topic::topic_from;
use crate::wait::wait_for;

/// How often a full publisher re-checks its capacity.
const CAPACITY_POLL: Duration = Duration::from_millis(1);

/// `broker.Publisher`: `Endpoint.make_publisher(topic)`.
#[pyclass(name = "Publisher", module = "broker", frozen, subclass)]
pub struct PyPublisher {
    inner: Arc<RustPublisher>,
}

impl PyPublisher {
    /// Waits, interruptibly and without the GIL, until the buffer has room.
    fn wait_for_room(&self, py: Python<'_>) -> PyResult<()> {
        let publisher = &self.inner;
        wait_for(py, None, |slice| {
            let end = Instant::now() + slice;
            loop {
                if publisher.free_capacity() > 0 {
                    return Some(());
                }
                if Instant::now() >= end {
                    return None;
                }
                std::thread::sleep(CAPACITY_POLL);
            }
        })?;
        Ok(())
    }

    /// Publishes one value. With room in the buffer this is a queue push, GIL held
    /// throughout; without, waits interruptibly and tries again (another thread may
    /// have taken the room meanwhile).
    fn publish_data(&self, py: Python<'_>, mut data: Data) -> PyResult<()> {
        loop {
            match self.inner.try_publish(data) {
                Ok(()) => return Ok(()),
                Err(back) => data = back,
            }
            self.wait_for_room(py)?;
        }
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
            inner: Arc::new(inner),
        })
    }

    /// Publishes a value; while the buffer is full, waits (Ctrl-C interrupts).
    fn publish(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.publish_data(py, to_data(value)?)
    }

    /// Publishes every value in one go.
    #[pyo3(signature = (*values))]
    fn publish_batch(&self, py: Python<'_>, values: &Bound<'_, PyTuple>) -> PyResult<()> {
        let batch = values
            .iter()
            .map(|v| to_data(&v))
            .collect::<PyResult<Vec<_>>>()?;
        // One by one, so that every wait is interruptible; the drain task still sends
        // whatever piled up as one batch.
        batch
            .into_iter()
            .try_for_each(|data| self.publish_data(py, data))
    }

    /// How many messages the subscribers downstream could take.
    fn demand(&self) -> usize {
        self.inner.demand()
    }

    /// How many messages wait in the buffer.
    fn buffered(&self) -> usize {
        self.inner.buffered()
    }

    /// The buffer's size.
    fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// Room left in the buffer.
    fn free_capacity(&self) -> usize {
        self.inner.free_capacity()
    }

    /// Messages sent per second, recently.
    fn send_rate(&self) -> f64 {
        self.inner.send_rate()
    }

    /// A descriptor readable while the buffer has room.
    fn fd(&self) -> RawFd {
        self.inner.fd()
    }
}
