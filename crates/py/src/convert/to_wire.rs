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
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3::Borrowed;

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
///
/// `value` may be borrowed from a list without a reference of its own (see
/// [`write_list`]): scalars are written without running any Python code, and
/// anything else is held by a reference of its own before it is looked into.
#[inline]
fn write(w: &mut DataWriter, value: &Bound<'_, PyAny>, depth: usize) -> Result<(), GiveUp> {
    if !write_scalar(w, value)? {
        write_other(w, value.clone(), depth)?;
    }
    Ok(())
}

/// Writes `value` if it is one of the scalars written here (`false` if not); inlined
/// into the loops over items, which mostly hold such scalars.
#[inline(always)]
fn write_scalar(w: &mut DataWriter, value: &Bound<'_, PyAny>) -> Result<bool, GiveUp> {
    if let Ok(i) = value.downcast_exact::<PyInt>() {
        w.integer(int_value(i).ok_or(GiveUp)?);
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
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// [`write`] for containers and anything else, by a reference of its own: converting
/// an item may run Python code (a subclass's methods, `datetime` and `ipaddress`
/// calls) that removes `value` from the list holding it.
#[inline(never)]
fn write_other(w: &mut DataWriter, value: Bound<'_, PyAny>, depth: usize) -> Result<(), GiveUp> {
    if let Ok(l) = value.downcast_exact::<PyList>() {
        write_list(w, l, depth)?;
    } else if let Ok(t) = value.downcast_exact::<PyTuple>() {
        w.vector(t.len())?;
        for x in t.iter_borrowed() {
            write(w, &x, depth + 1)?;
        }
    } else if let Ok(d) = value.downcast_exact::<PyDict>() {
        if !write_table(w, d, depth)? {
            w.value(&to_data_at(&value, depth)?)?;
        }
    } else {
        w.value(&to_data_at(&value, depth)?)?;
    }
    Ok(())
}

/// Writes a list's items, each borrowed from the list (no reference counting for the
/// scalars that lists mostly hold); gives up if the list shrank meanwhile (Python code
/// run while converting an item), leaving the general way to convert what it holds.
fn write_list(w: &mut DataWriter, list: &Bound<'_, PyList>, depth: usize) -> Result<(), GiveUp> {
    let len = list.len();
    w.vector(len)?;
    for index in 0..len {
        if index >= list.len() {
            return Err(GiveUp);
        }
        // SAFETY: `index` is within the list, which holds a reference to the item for as
        // long as no Python code runs; `write` runs none before taking its own.
        let item = unsafe {
            Borrowed::from_ptr(
                list.py(),
                ffi::PyList_GET_ITEM(list.as_ptr(), index as isize),
            )
        };
        write(w, &item, depth + 1)?;
    }
    Ok(())
}

/// The value of an `int` that fits in 64 bits; `None` for larger ones (which the
/// general way refuses with `OverflowError`).
#[inline]
fn int_value(int: &Bound<'_, PyInt>) -> Option<i64> {
    let mut overflow = 0;
    // SAFETY: a live exact `int`, whose conversion runs no Python code and fails only by
    // overflowing (reported in `overflow`, with no exception set).
    let value = unsafe { ffi::PyLong_AsLongLongAndOverflow(int.as_ptr(), &mut overflow) };
    (overflow == 0).then_some(value)
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
