//! `Subscriber` and `StatusSubscriber`: Broker's `get` variants, `poll`, `available`,
//! `fd`, `reset` and `with` blocks, plus iteration. A subscriber made `immutable` (the
//! package's `SafeSubscriber`) gives values in hashable form.
//!
//! Both wrap an [`Inbox`]; batches cross into Python as one list built in Rust.

use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use broker_actors::Subscriber as RustSubscriber;
use broker_actors::{StatusEvent, StatusSubscriber as RustStatusSubscriber};
use broker_wire::{Payload, Topic};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyStopIteration, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyList, PyString, PyTuple};

use crate::convert::ToPy;
use crate::endpoint::PyEndpoint;
use crate::status::event_to_py;
use crate::topic::{topic_from, topics_from};
use crate::wait::{duration_from, wait_for};

mod pace;

use pace::Pace;

/// A queue of received items, waited on in slices.
pub trait Inbox: Send + Sync + 'static {
    /// What the queue yields.
    type Item: Send;
    /// One item, or `None` after `timeout`.
    fn get_one(&self, timeout: Duration) -> Option<Self::Item>;
    /// Up to `n` items, fewer after `timeout`.
    fn get_many(&self, n: usize, timeout: Duration) -> Vec<Self::Item>;
    /// Everything pending, without waiting.
    fn poll_all(&self) -> Vec<Self::Item>;
    /// Number of pending items.
    fn pending(&self) -> usize;
    /// A descriptor readable exactly while items are pending.
    fn raw_fd(&self) -> RawFd;
    /// The item as Python sees it; `immutable` asks for values in hashable form
    /// (Broker's `SafeSubscriber`).
    fn item_to_py(py: Python<'_>, item: Self::Item, immutable: bool) -> PyResult<Bound<'_, PyAny>>;
    /// Several items as Python sees them, in order.
    fn items_to_py(
        py: Python<'_>,
        items: Vec<Self::Item>,
        immutable: bool,
    ) -> PyResult<Vec<Bound<'_, PyAny>>> {
        items
            .into_iter()
            .map(|item| Self::item_to_py(py, item, immutable))
            .collect()
    }
}

/// The queue operations of [`Inbox`], forwarded to the actors crate's subscriber types
/// (`get`, `get_n`, `poll` by default, or the names given).
macro_rules! queue_ops {
    () => {
        queue_ops!(get, get_n, poll);
    };
    ($get:ident, $get_n:ident, $poll:ident) => {
        fn get_one(&self, timeout: Duration) -> Option<Self::Item> {
            self.$get(Some(timeout))
        }

        fn get_many(&self, n: usize, timeout: Duration) -> Vec<Self::Item> {
            self.$get_n(n, Some(timeout))
        }

        fn poll_all(&self) -> Vec<Self::Item> {
            self.$poll()
        }

        fn pending(&self) -> usize {
            self.available()
        }

        fn raw_fd(&self) -> RawFd {
            self.fd()
        }
    };
}

/// Values stay as received (containers from our peers encoded) until converted here,
/// on the consumer's thread, straight into Python objects.
impl Inbox for RustSubscriber {
    type Item = (Topic, Payload);

    queue_ops!(get_payload, get_n_payloads, poll_payloads);

    fn item_to_py(
        py: Python<'_>,
        (topic, data): Self::Item,
        immutable: bool,
    ) -> PyResult<Bound<'_, PyAny>> {
        let topic = PyString::new(py, topic.as_str());
        let mut convert = ToPy::new(py).immutable(immutable);
        Ok(convert.message(&topic, &data)?.into_any())
    }

    fn items_to_py(
        py: Python<'_>,
        items: Vec<Self::Item>,
        immutable: bool,
    ) -> PyResult<Vec<Bound<'_, PyAny>>> {
        // Messages of a batch mostly share their topic (decoding shares the `Topic`
        // too): one `str` object serves them all. One conversion holds the string cache
        // for the whole batch.
        let mut last: Option<(Topic, Bound<'_, PyString>)> = None;
        let mut convert = ToPy::new(py).immutable(immutable);
        items
            .into_iter()
            .map(|(topic, data)| {
                let name = match &last {
                    Some((seen, name)) if seen.ptr_eq(&topic) => name.clone(),
                    _ => {
                        let name = PyString::new(py, topic.as_str());
                        last = Some((topic, name.clone()));
                        name
                    }
                };
                Ok(convert.message(&name, &data)?.into_any())
            })
            .collect()
    }
}

impl Inbox for RustStatusSubscriber {
    type Item = StatusEvent;

    queue_ops!();

    fn item_to_py(py: Python<'_>, item: Self::Item, _: bool) -> PyResult<Bound<'_, PyAny>> {
        event_to_py(py, item)
    }
}

/// The inbox of a Python subscriber object; empty once reset.
pub struct Handle<T> {
    inbox: Mutex<Option<Arc<T>>>,
    pace: Pace,
    /// Whether values come out in hashable form (a safe subscriber).
    immutable: bool,
}

/// What `get(*args)` asks for.
enum Request {
    One(Option<Duration>),
    Many(usize, Option<Duration>),
}

fn parse_get_args(args: &Bound<'_, PyTuple>) -> PyResult<Request> {
    let is_count =
        |x: &Bound<'_, PyAny>| x.is_instance_of::<PyInt>() && !x.is_instance_of::<PyBool>();
    match args.len() {
        0 => Ok(Request::One(None)),
        1 => {
            let arg = args.get_item(0)?;
            if is_count(&arg) {
                Ok(Request::Many(arg.extract()?, None))
            } else {
                Ok(Request::One(Some(duration_from(&arg)?)))
            }
        }
        2 => {
            let timeout = duration_from(&args.get_item(1)?)?;
            Ok(Request::Many(args.get_item(0)?.extract()?, Some(timeout)))
        }
        n => Err(PyTypeError::new_err(format!(
            "get() takes at most 2 arguments ({n} given)"
        ))),
    }
}

impl<T: Inbox> Handle<T> {
    /// A handle on an open inbox.
    pub fn new(inbox: T, immutable: bool) -> Self {
        Handle {
            inbox: Mutex::new(Some(Arc::new(inbox))),
            pace: Pace::default(),
            immutable,
        }
    }

    /// The inbox; `RuntimeError` once reset.
    fn inbox(&self) -> PyResult<Arc<T>> {
        let guard = self
            .inbox
            .lock()
            .map_err(|_| PyRuntimeError::new_err("subscriber poisoned"))?;
        guard
            .clone()
            .ok_or_else(|| PyRuntimeError::new_err("subscriber is reset (closed)"))
    }

    /// Closes the inbox, as Broker's `reset()` does: the subscription ends (peers stop
    /// sending what only it wanted) once no call uses it any more, and whatever was
    /// still queued is dropped.
    pub fn close(&self) {
        if let Ok(mut guard) = self.inbox.lock() {
            guard.take();
        }
    }

    fn list<'py>(&self, py: Python<'py>, items: Vec<T::Item>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, T::items_to_py(py, items, self.immutable)?)
    }

    /// `get(n, timeout)`: up to `n` items, taken and converted chunk by chunk (see
    /// [`Pace`]); fewer once `timeout` has passed.
    fn get_many<'py>(
        &self,
        py: Python<'py>,
        inbox: &T,
        n: usize,
        timeout: Option<Duration>,
    ) -> PyResult<Bound<'py, PyList>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut converted = Vec::with_capacity(n.min(4096));
        while converted.len() < n {
            let want = self.pace.chunk(n - converted.len());
            let mut items = Vec::with_capacity(want.min(4096));
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let complete = wait_for(py, left, |slice| {
                items.extend(inbox.get_many(want - items.len(), slice));
                (items.len() >= want).then_some(())
            })?;
            let (count, start) = (items.len(), Instant::now());
            converted.extend(T::items_to_py(py, items, self.immutable)?);
            self.pace.record(count, start.elapsed());
            if complete.is_none() {
                break;
            }
        }
        PyList::new(py, converted)
    }

    /// Broker 1.4's `get()`, `get(timeout)`, `get(n)`, `get(n, timeout)`.
    pub fn get<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inbox = self.inbox()?;
        match parse_get_args(args)? {
            Request::One(timeout) => match wait_for(py, timeout, |slice| inbox.get_one(slice))? {
                Some(item) => T::item_to_py(py, item, self.immutable),
                None => Ok(py.None().into_bound(py)),
            },
            Request::Many(n, timeout) => Ok(self.get_many(py, &inbox, n, timeout)?.into_any()),
        }
    }

    /// Blocks for the next item, for iteration; `StopIteration` once closed.
    pub fn next<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inbox = self.inbox().map_err(|_| PyStopIteration::new_err(()))?;
        match wait_for(py, None, |slice| inbox.get_one(slice))? {
            Some(item) => T::item_to_py(py, item, self.immutable),
            None => Err(PyStopIteration::new_err(())),
        }
    }

    /// Everything pending, as one list.
    pub fn poll<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let inbox = self.inbox()?;
        let items = py.detach(|| inbox.poll_all());
        self.list(py, items)
    }

    /// Whether items are pending.
    pub fn available(&self) -> PyResult<bool> {
        Ok(self.inbox()?.pending() > 0)
    }

    /// The readiness descriptor.
    pub fn fd(&self) -> PyResult<RawFd> {
        Ok(self.inbox()?.raw_fd())
    }
}

/// Generates the methods both subscriber classes share.
macro_rules! inbox_methods {
    ($class:ty) => {
        #[pymethods]
        impl $class {
            /// `get()` blocks for one item; `get(timeout)` gives an item or `None`;
            /// `get(n)` blocks for exactly `n` items (a list); `get(n, timeout)` gives a
            /// list, shorter after the timeout.
            #[pyo3(signature = (*args))]
            fn get<'py>(
                &self,
                py: Python<'py>,
                args: &Bound<'py, PyTuple>,
            ) -> PyResult<Bound<'py, PyAny>> {
                self.handle.get(py, args)
            }

            /// All pending items as a list; never blocks.
            fn poll<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
                self.handle.poll(py)
            }

            /// Whether items are pending.
            fn available(&self) -> PyResult<bool> {
                self.handle.available()
            }

            /// A descriptor that `select` sees readable exactly while items are pending.
            fn fd(&self) -> PyResult<RawFd> {
                self.handle.fd()
            }

            /// Ends the subscription and drops what is queued (Broker's `reset`);
            /// further calls raise `RuntimeError`.
            fn reset(&self) {
                self.handle.close();
            }

            /// `reset()`, by its older name here.
            fn close(&self) {
                self.handle.close();
            }

            fn __iter__(slf: Py<Self>) -> Py<Self> {
                slf
            }

            fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                self.handle.next(py)
            }

            fn __enter__(slf: Py<Self>) -> Py<Self> {
                slf
            }

            #[pyo3(signature = (*_exc))]
            fn __exit__(&self, _exc: &Bound<'_, PyTuple>) -> bool {
                self.handle.close();
                false
            }
        }
    };
}

/// `broker.Subscriber`: receives `(topic, value)` messages.
#[pyclass(name = "Subscriber", module = "broker", frozen, subclass)]
pub struct PySubscriber {
    handle: Handle<RustSubscriber>,
}

inbox_methods!(PySubscriber);

#[pymethods]
impl PySubscriber {
    /// `Subscriber(endpoint, topics, qsize=20, immutable=False)`; usually
    /// `Endpoint.make_subscriber` (or `make_safe_subscriber`, which sets `immutable`).
    #[new]
    #[pyo3(signature = (endpoint, topics, qsize = 20, immutable = false))]
    fn with_mode(
        endpoint: &PyEndpoint,
        topics: &Bound<'_, PyAny>,
        qsize: usize,
        immutable: bool,
    ) -> PyResult<Self> {
        let inner = endpoint
            .inner()
            .try_make_subscriber(topics_from(topics)?, qsize)
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(PySubscriber {
            handle: Handle::new(inner, immutable),
        })
    }

    /// Adds a topic to the subscription; `block` waits until it is in effect.
    #[pyo3(signature = (topic, block = false))]
    fn add_topic(&self, py: Python<'_>, topic: &Bound<'_, PyAny>, block: bool) -> PyResult<()> {
        let (inbox, topic) = (self.handle.inbox()?, topic_from(topic)?);
        py.detach(|| inbox.add_topic(topic, block));
        Ok(())
    }

    /// Removes a topic from the subscription; `block` waits until it is in effect.
    #[pyo3(signature = (topic, block = false))]
    fn remove_topic(&self, py: Python<'_>, topic: &Bound<'_, PyAny>, block: bool) -> PyResult<()> {
        let (inbox, topic) = (self.handle.inbox()?, topic_from(topic)?);
        py.detach(|| inbox.remove_topic(topic, block));
        Ok(())
    }
}

impl PySubscriber {
    /// A subscriber whose values come out as `Data.to_py` gives them.
    pub(crate) fn new(
        endpoint: &PyEndpoint,
        topics: &Bound<'_, PyAny>,
        qsize: usize,
    ) -> PyResult<Self> {
        Self::with_mode(endpoint, topics, qsize, false)
    }
}

/// `broker.StatusSubscriber`: receives `Status` and `Error` objects.
#[pyclass(name = "StatusSubscriber", module = "broker", frozen, subclass)]
pub struct PyStatusSubscriber {
    handle: Handle<RustStatusSubscriber>,
}

inbox_methods!(PyStatusSubscriber);

#[pymethods]
impl PyStatusSubscriber {
    /// `StatusSubscriber(endpoint, receive_statuses=False)`; usually
    /// `Endpoint.make_status_subscriber`.
    #[new]
    #[pyo3(signature = (endpoint, receive_statuses = false))]
    pub(crate) fn new(endpoint: &PyEndpoint, receive_statuses: bool) -> PyResult<Self> {
        let inner = endpoint
            .inner()
            .try_make_status_subscriber(receive_statuses)
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(PyStatusSubscriber {
            handle: Handle::new(inner, false),
        })
    }
}
