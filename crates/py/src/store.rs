//! `broker.Store` (master or clone) and `Endpoint.attach_master` / `attach_clone`.
//!
//! Failed reads answer `None`, as Broker 1.4's wrapper does for an invalid result; `exists`
//! has no such answer and raises. Writes are fire-and-forget, as in Broker: they keep the
//! GIL unless the queue to the store's actor is full. Calls that may wait long
//! (`put_unique`, `attach_clone`, `await_idle`) give way to Ctrl-C.

use std::collections::BTreeMap;
use std::time::Duration;

use broker_actors::store::expiry_span;
use broker_actors::{AttachError, CloneOptions, ErrorCode, QueryError, Store};
use broker_store::{BackendType, Operation};
use broker_wire::{Data, Timespan};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::convert::{to_data, to_py};
use crate::endpoint::PyEndpoint;
use crate::error::broker_error;
use crate::wait::{drive, duration_from, wait_for};

/// The backend a `broker.Backend` value (or plain int) names.
fn backend_from(backend: i64) -> PyResult<BackendType> {
    u8::try_from(backend)
        .ok()
        .and_then(BackendType::from_u8)
        .ok_or_else(|| PyValueError::new_err(format!("not a broker.Backend: {backend}")))
}

/// Backend options: a mapping of `str` to any convertible value.
fn options_from(options: Option<&Bound<'_, PyDict>>) -> PyResult<BTreeMap<String, Data>> {
    options.map_or_else(
        || Ok(BTreeMap::new()),
        |dict| {
            dict.iter()
                .map(|(key, value)| Ok((key.extract::<String>()?, to_data(&value)?)))
                .collect()
        },
    )
}

/// An expiry in seconds (`int`/`float`) or a `timedelta`; `None` for none.
fn expiry_from(expiry: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Duration>> {
    expiry.map(duration_from).transpose()
}

/// An expiry as a write carries it.
fn span_from(expiry: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Timespan>> {
    Ok(expiry_span(expiry_from(expiry)?))
}

fn attach_error(error: AttachError) -> PyErr {
    let code = match error {
        AttachError::Backend { .. } => ErrorCode::BackendFailure,
        _ => ErrorCode::Unspecified,
    };
    broker_error(code, error.to_string())
}

/// `Some(value)` as Python's value, a missing value or a failed read as `None`.
fn answer_to_py<'py>(
    py: Python<'py>,
    answer: Result<Option<Data>, QueryError>,
) -> PyResult<Bound<'py, PyAny>> {
    match answer {
        Ok(Some(value)) => to_py(py, &value),
        Ok(None) | Err(_) => Ok(py.None().into_bound(py)),
    }
}

/// `broker.Store`: a data store, master or clone. Every handle on one store is the same
/// store.
#[pyclass(name = "Store", module = "broker", frozen)]
pub struct PyStore {
    inner: Store,
}

#[pymethods]
impl PyEndpoint {
    /// Attaches the master of store `name`: the same store when attached here already,
    /// `None` when a direct peer holds its master. SQLite takes `{"path": ...}`.
    #[pyo3(signature = (name, r#type = 0, opts = None))]
    fn attach_master(
        &self,
        py: Python<'_>,
        name: String,
        r#type: i64,
        opts: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Option<PyStore>> {
        let (backend, options) = (backend_from(r#type)?, options_from(opts)?);
        let attached = drive(
            py,
            self.inner().attach_master_async(&name, backend, options),
        )?;
        Ok(attached
            .map_err(attach_error)?
            .map(|inner| PyStore { inner }))
    }

    /// Attaches a clone of store `name`; `None` when no direct peer holds its master
    /// within a few seconds.
    fn attach_clone(&self, py: Python<'_>, name: String) -> PyResult<Option<PyStore>> {
        // Awaited here, then the first snapshot waited for in slices: no helper thread.
        let attaching = self
            .inner()
            .attach_clone_request(&name, CloneOptions::default());
        let Some(pending) = drive(py, attaching)?.map_err(attach_error)? else {
            return Ok(None);
        };
        let attached = wait_for(py, None, |slice| pending.wait(slice))?;
        Ok(attached.map(|inner| PyStore { inner }))
    }
}

impl PyStore {
    /// Makes a write, releasing the GIL only to wait for room.
    fn write(&self, py: Python<'_>, op: Operation) {
        if let Err(op) = self.inner.try_write(op) {
            py.detach(|| self.inner.write(op));
        }
    }
}

#[pymethods]
impl PyStore {
    /// The store's name.
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// Whether `key` exists; raises `BrokerError` when the store cannot tell (a stale
    /// clone).
    fn exists(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let key = to_data(key)?;
        py.detach(|| self.inner.exists(&key))
            .map_err(|e| broker_error(e.code(), e.to_string()))
    }

    /// The value under `key`, or `None`.
    fn get<'py>(&self, py: Python<'py>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let key = to_data(key)?;
        answer_to_py(py, py.detach(|| self.inner.get(&key)))
    }

    /// What `index` designates in the value under `key`: set membership (`bool`), a
    /// table's value or a vector's element; `None` when absent.
    fn get_index_from_value<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        index: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (key, index) = (to_data(key)?, to_data(index)?);
        answer_to_py(
            py,
            py.detach(|| self.inner.get_index_from_value(&key, &index)),
        )
    }

    /// Every key, as a `set`; `None` when the store cannot tell.
    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let keys = py.detach(|| self.inner.keys().map(|keys| Some(Data::Set(keys))));
        answer_to_py(py, keys)
    }

    /// Stores `value` under `key`, expiring after `expiry` seconds (or a `timedelta`).
    #[pyo3(signature = (key, value, expiry = None))]
    fn put(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        expiry: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let (key, value, expiry) = (to_data(key)?, to_data(value)?, span_from(expiry)?);
        self.write(py, Operation::Put { key, value, expiry });
        Ok(())
    }

    /// Stores `value` under `key` only if absent, atomically at the master; whether it
    /// did, or `None` when the master did not answer.
    #[pyo3(signature = (key, value, expiry = None))]
    fn put_unique(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        expiry: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Option<bool>> {
        let (key, value, expiry) = (to_data(key)?, to_data(value)?, expiry_from(expiry)?);
        // Waited for here, in slices: no helper thread per call.
        let answer = match py.detach(|| self.inner.put_unique_request(key, value, expiry)) {
            Ok(pending) => wait_for(py, None, move |slice| pending.wait(slice))?,
            Err(error) => Some(Err(error)),
        };
        Ok(answer.and_then(Result::ok))
    }

    /// Removes `key`.
    fn erase(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let key = to_data(data)?;
        self.write(py, Operation::Erase { key });
        Ok(())
    }

    /// Removes every entry.
    fn clear(&self, py: Python<'_>) {
        self.write(py, Operation::Clear);
    }

    /// Adds `amount` to the number under `key` (a missing key counts from zero).
    #[pyo3(signature = (key, amount, expiry = None))]
    fn increment(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        amount: &Bound<'_, PyAny>,
        expiry: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let (key, amount, expiry) = (to_data(key)?, to_data(amount)?, span_from(expiry)?);
        let op = Operation::Increment {
            key,
            amount,
            expiry,
        };
        self.write(py, op);
        Ok(())
    }

    /// Subtracts `amount` from the number under `key`.
    #[pyo3(signature = (key, amount, expiry = None))]
    fn decrement(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        amount: &Bound<'_, PyAny>,
        expiry: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let (key, amount, expiry) = (to_data(key)?, to_data(amount)?, span_from(expiry)?);
        let op = Operation::Decrement {
            key,
            amount,
            expiry,
        };
        self.write(py, op);
        Ok(())
    }

    /// Appends the string `s` to the string under `key`.
    #[pyo3(signature = (key, s, expiry = None))]
    fn append(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        s: &Bound<'_, PyAny>,
        expiry: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let (key, suffix, expiry) = (to_data(key)?, to_data(s)?, span_from(expiry)?);
        let op = Operation::Append {
            key,
            suffix,
            expiry,
        };
        self.write(py, op);
        Ok(())
    }

    /// Adds `index` to the set under `key`, or, given a `value` (any, even a falsy one),
    /// maps `index` to it in the table under `key`.
    #[pyo3(signature = (key, index, value = None, expiry = None))]
    fn insert_into(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        index: &Bound<'_, PyAny>,
        value: Option<&Bound<'_, PyAny>>,
        expiry: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let (key, index) = (to_data(key)?, to_data(index)?);
        let (value, expiry) = (value.map(to_data).transpose()?, span_from(expiry)?);
        let op = Operation::InsertInto {
            key,
            index,
            value,
            expiry,
        };
        self.write(py, op);
        Ok(())
    }

    /// Removes `index` from the set or table under `key`.
    #[pyo3(signature = (key, index, expiry = None))]
    fn remove_from(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        index: &Bound<'_, PyAny>,
        expiry: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let (key, index, expiry) = (to_data(key)?, to_data(index)?, span_from(expiry)?);
        let op = Operation::RemoveFrom { key, index, expiry };
        self.write(py, op);
        Ok(())
    }

    /// Appends `value` to the vector under `key`.
    #[pyo3(signature = (key, value, expiry = None))]
    fn push(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        expiry: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let (key, value, expiry) = (to_data(key)?, to_data(value)?, span_from(expiry)?);
        self.write(py, Operation::Push { key, value, expiry });
        Ok(())
    }

    /// Removes the last element of the vector under `key`.
    #[pyo3(signature = (key, expiry = None))]
    fn pop(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        expiry: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let (key, expiry) = (to_data(key)?, span_from(expiry)?);
        self.write(py, Operation::Pop { key, expiry });
        Ok(())
    }

    /// Waits until every write made through this store has been handled and a clone
    /// follows its master; whether that happened within `timeout` (`None`: no limit).
    #[pyo3(signature = (timeout = None))]
    fn await_idle(&self, py: Python<'_>, timeout: Option<&Bound<'_, PyAny>>) -> PyResult<bool> {
        let timeout = timeout.map(duration_from).transpose()?;
        let idle = wait_for(py, timeout, |slice| {
            self.inner.await_idle(slice).then_some(())
        })?;
        Ok(idle.is_some())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// The store stays attached to its endpoint (as in Broker, where the endpoint keeps
    /// it); leaving the block only ends this use of it.
    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, PyTuple>) -> bool {
        false
    }

    fn __repr__(&self) -> String {
        format!("Store({:?}, {:?})", self.inner.name(), self.inner.role())
    }
}
