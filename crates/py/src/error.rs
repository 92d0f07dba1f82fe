//! `broker.BrokerError`: the exception a failing call raises, carrying Broker's error code.
//!
//! A subclass of `RuntimeError`, because today's Broker lets its C++ failures surface as
//! `RuntimeError` (a wrong `Data.as_*` accessor raises "bad variant access"): scripts
//! catching that keep working, and scripts that want to tell failures apart read
//! `error.code`, a `broker.EC`.

use broker_actors::ErrorCode;
use pyo3::create_exception;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::enums::EC;

create_exception!(
    broker,
    BrokerError,
    PyRuntimeError,
    "A failed Broker call; `code` is the `broker.EC` of the failure."
);

/// A `BrokerError` with `code` and `message` (its `str()`).
pub fn broker_error(code: ErrorCode, message: impl Into<String>) -> PyErr {
    let message = message.into();
    Python::attach(|py| {
        let built = EC.member(py, code.code()).and_then(|code| {
            let error = py.get_type::<BrokerError>().call1((message.clone(),))?;
            error.setattr("code", code)?;
            Ok(PyErr::from_value(error))
        });
        // Building fails only if the interpreter is out of memory or the like: the
        // message still gets through, without its code.
        built.unwrap_or_else(|_| BrokerError::new_err(message))
    })
}

/// Adds `BrokerError` to the module, with `code = EC.Unspecified` as the class default.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let class = py.get_type::<BrokerError>();
    class.setattr("code", EC.member(py, ErrorCode::Unspecified.code())?)?;
    m.add("BrokerError", class)
}
