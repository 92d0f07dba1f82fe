//! Python values → wire bytes, for publishing.
//!
//! The common exact types (`str`, `int`, `float`, `bool`, `None`, `Count`, `list`,
//! `tuple`, and `dict`s keyed by `str`) are written straight into our wire encoding
//! with `broker_wire`'s [`DataWriter`], on the publishing thread: no [`Data`] tree is
//! built here, and the endpoint's thread only copies the bytes into its frames
//! instead of encoding and freeing the tree. Any other value inside goes through
//! [`to_data_at`] and is written whole. Should anything fail (a Python error, nesting
//! beyond what the wire carries), the whole value takes the general way,
//! [`to_data`](super::to_data), so errors and the handling of deep values stay
//! exactly as they are there.
//!
//! [`Data`]: broker_wire::Data

use std::cell::RefCell;

use broker_wire::data::{DataWriter, Payload};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use super::{to_data, to_data_at};
use crate::values::Count;

thread_local! {
    /// Each publishing thread's writer, whose buffer grows to the largest value once.
    static WRITER: RefCell<DataWriter> = RefCell::new(DataWriter::new());
}

/// The value of `value` as published: encoded already where it can be.
pub fn to_payload(value: &Bound<'_, PyAny>) -> PyResult<Payload> {
    let encoded = WRITER.with(|writer| {
        // Busy only if converting some object ran Python code that publishes: that
        // inner publish takes the general way.
        let mut writer = writer.try_borrow_mut().ok()?;
        writer.clear();
        write(&mut writer, value, 0).ok()?;
        writer.finish()
    });
    match encoded {
        Some(encoded) => Ok(Payload::Encoded(encoded)),
        None => to_data(value).map(Payload::Value),
    }
}

/// Why the fast path gave up; the general conversion says what went wrong, if anything.
struct GiveUp;

impl From<PyErr> for GiveUp {
    fn from(_: PyErr) -> Self {
        GiveUp
    }
}

impl From<broker_wire::WireError> for GiveUp {
    fn from(_: broker_wire::WireError) -> Self {
        GiveUp
    }
}

/// Writes `value`, enclosed by `depth` containers, as [`to_data_at`] would convert it.
fn write(w: &mut DataWriter, value: &Bound<'_, PyAny>, depth: usize) -> Result<(), GiveUp> {
    if let Ok(i) = value.downcast_exact::<PyInt>() {
        w.integer(i.extract()?);
    } else if let Ok(s) = value.downcast_exact::<PyString>() {
        w.string(s.to_str()?.as_bytes());
    } else if let Ok(f) = value.downcast_exact::<PyFloat>() {
        w.real(f.value());
    } else if let Ok(c) = value.downcast_exact::<Count>() {
        w.count(c.get().value);
    } else if let Ok(b) = value.downcast_exact::<PyBool>() {
        w.boolean(b.is_true());
    } else if value.is_none() {
        w.none();
    } else if let Ok(l) = value.downcast_exact::<PyList>() {
        w.vector(l.len())?;
        for x in l.iter() {
            write(w, &x, depth + 1)?;
        }
    } else if let Ok(t) = value.downcast_exact::<PyTuple>() {
        w.vector(t.len())?;
        for x in t.iter_borrowed() {
            write(w, &x, depth + 1)?;
        }
    } else if let Ok(d) = value.downcast_exact::<PyDict>() {
        if !write_table(w, d, depth)? {
            w.value(&to_data_at(value, depth)?)?;
        }
    } else {
        w.value(&to_data_at(value, depth)?)?;
    }
    Ok(())
}

/// Writes a dict keyed by `str` as a table, its entries in the order of their keys'
/// UTF-8 bytes, which is Broker's order of strings (distinct `str`s have distinct
/// bytes); `false`, with nothing written, if some key is not exactly a `str`.
fn write_table(w: &mut DataWriter, dict: &Bound<'_, PyDict>, depth: usize) -> Result<bool, GiveUp> {
    let items: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)> = dict.iter().collect();
    let mut entries = Vec::with_capacity(items.len());
    for (k, v) in &items {
        let Ok(key) = k.downcast_exact::<PyString>() else {
            return Ok(false);
        };
        entries.push((key.to_str()?.as_bytes(), v));
    }
    // Dicts built in key order (most) are sorted already, which this sees in one pass.
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    w.table(entries.len())?;
    for (key, v) in entries {
        w.string(key);
        write(w, v, depth + 1)?;
    }
    Ok(true)
}
