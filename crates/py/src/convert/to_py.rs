//! Broker data → Python values.
//!
//! Hot path of every subscriber: short strings come from a shared cache
//! ([`str_cache`](super::str_cache)), small counts are shared objects, dicts are created
//! at their final size (no rehashing while they fill).

use std::net::IpAddr;
use std::sync::MutexGuard;

use broker_wire::data::{Build, EncodedData, Scalar};
use broker_wire::{Data, Payload, WireError};
use ipnet::IpNet;
use pyo3::exceptions::{PyRecursionError, PyRuntimeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyFrozenSet, PyInt, PySet, PyString, PyTuple};

use super::str_cache::{self, StrCache, MAX_CACHED_LEN};
use super::{classes, nanos_to_delta, MAX_DEPTH};
use crate::containers::FrozenTable;
use crate::values::{Count, Enum, Port};

/// Converts Broker data to its Python value (see the table in the spec).
pub fn to_py<'py>(py: Python<'py>, data: &Data) -> PyResult<Bound<'py, PyAny>> {
    ToPy::new(py).value(data)
}

/// A conversion of one or more values (a batch of messages) to Python, holding the
/// string cache meanwhile.
pub struct ToPy<'py> {
    py: Python<'py>,
    strings: Option<MutexGuard<'static, StrCache>>,
    /// Whether every container comes out in hashable form (Broker's `ImmutableData`).
    immutable: bool,
}

impl<'py> ToPy<'py> {
    /// Starts a conversion; strings are shared unless another conversion holds the cache.
    pub fn new(py: Python<'py>) -> Self {
        ToPy {
            py,
            strings: str_cache::try_lock(),
            immutable: false,
        }
    }

    /// With `immutable`, sets come out as `frozenset` and tables as `FrozenTable` (a
    /// hashable read-only `dict`) at every depth, as Broker's `ImmutableData` does.
    pub fn immutable(mut self, immutable: bool) -> Self {
        self.immutable = immutable;
        self
    }

    /// The Python value of `data`.
    pub fn value(&mut self, data: &Data) -> PyResult<Bound<'py, PyAny>> {
        self.convert(data, self.immutable, 0)
    }

    /// A `(topic, value)` pair as Python sees a received message.
    pub fn message(
        &mut self,
        topic: &Bound<'py, PyString>,
        data: &Payload,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let value = match data {
            Payload::Value(data) => self.value(data)?,
            Payload::Encoded(encoded) => self.encoded(encoded)?,
        };
        tuple(self.py, [topic.clone().into_any(), value])
    }

    /// The Python value of an encoded value, built straight from its bytes (as
    /// [`ToPy::value`] converts its `Data`).
    fn encoded(&mut self, encoded: &EncodedData) -> PyResult<Bound<'py, PyAny>> {
        let immutable = self.immutable;
        match encoded.build(self) {
            Ok(Some(value)) => Ok(value),
            // Sets or tables out of Broker's order (not from us): decoding sorts them.
            Ok(None) => self.convert(&encoded.decode(), immutable, 0),
            Err(Failed::Python(e)) => Err(e),
            Err(Failed::Wire(e)) => Err(PyRuntimeError::new_err(format!(
                "undecodable value received: {e}"
            ))),
        }
    }

    /// Converts in `hashable` form when the result must be hashable (set element, table
    /// key, or anything in an immutable conversion).
    fn convert(
        &mut self,
        data: &Data,
        hashable: bool,
        depth: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        if depth > MAX_DEPTH {
            return Err(PyRecursionError::new_err(
                "value nested too deeply for Python",
            ));
        }
        Ok(match data {
            Data::None => py.None().into_bound(py),
            Data::Boolean(b) => PyBool::new(py, *b).to_owned().into_any(),
            Data::Count(c) => Count::to_object(py, *c)?.into_any(),
            Data::Integer(i) => i.into_pyobject(py)?.into_any(),
            Data::Real(r) => PyFloat::new(py, *r).into_any(),
            Data::String(bytes) => self.string(bytes),
            Data::Address(a) => address_to_py(py, a)?,
            Data::Subnet(n) => subnet_to_py(py, n)?,
            Data::Port(p) => Bound::new(py, Port(*p))?.into_any(),
            Data::Timestamp(t) => {
                let epoch = classes(py)?.epoch.bind(py);
                epoch.call_method1("__add__", (nanos_to_delta(py, t.0)?,))?
            }
            Data::Timespan(t) => nanos_to_delta(py, t.0)?.into_any(),
            Data::EnumValue(name) => Bound::new(py, Enum { name: name.clone() })?.into_any(),
            Data::Set(set) => {
                let mut items = Vec::with_capacity(set.len());
                for x in set {
                    items.push(self.convert(x, true, depth + 1)?);
                }
                if hashable {
                    PyFrozenSet::new(py, &items)?.into_any()
                } else {
                    PySet::new(py, &items)?.into_any()
                }
            }
            Data::Table(table) => {
                let dict = if hashable {
                    FrozenTable::empty(py)?
                } else {
                    new_dict(py, table.len())?
                };
                for (k, v) in table {
                    let key = self.convert(k, true, depth + 1)?;
                    dict.set_item(key, self.convert(v, hashable, depth + 1)?)?;
                }
                dict.into_any()
            }
            Data::Vector(items) => {
                let mut converted = Vec::with_capacity(items.len());
                for x in items {
                    converted.push(self.convert(x, hashable, depth + 1)?);
                }
                tuple(py, converted)?.into_any()
            }
        })
    }

    /// A `str` if the bytes are UTF-8, else `bytes`.
    fn string(&mut self, bytes: &[u8]) -> Bound<'py, PyAny> {
        let py = self.py;
        let text = match &mut self.strings {
            Some(cache) if bytes.len() <= MAX_CACHED_LEN => cache.get(py, bytes),
            _ => std::str::from_utf8(bytes)
                .ok()
                .map(|s| PyString::new(py, s)),
        };
        match text {
            Some(text) => text.into_any(),
            None => PyBytes::new(py, bytes).into_any(),
        }
    }
}

/// A tuple of `items`, left untracked by the cyclic garbage collector when none of
/// them can be part of a cycle (counts, strings, numbers, such tuples). CPython
/// untracks such tuples itself, but only in the first collection that sees them:
/// every received message would be traversed once by a collection that the
/// allocations of received messages trigger.
fn tuple<'py, I>(py: Python<'py>, items: I) -> PyResult<Bound<'py, PyTuple>>
where
    I: AsRef<[Bound<'py, PyAny>]> + IntoIterator<Item = Bound<'py, PyAny>>,
    I::IntoIter: ExactSizeIterator,
{
    let untracked = !items.as_ref().iter().any(may_be_tracked);
    // The items move into the tuple: no reference counting on the way.
    let tuple = PyTuple::new(py, items)?;
    if untracked {
        // SAFETY: a live tuple, whose items were checked above.
        unsafe { ffi::PyObject_GC_UnTrack(tuple.as_ptr().cast()) };
    }
    Ok(tuple)
}

/// Whether the garbage collector may track `item`, so that a tuple holding it must
/// stay tracked too.
#[inline]
fn may_be_tracked(item: &Bound<'_, PyAny>) -> bool {
    // SAFETY: plain queries on a live object, as CPython's `_PyTuple_MaybeUntrack` does
    // (objects of types without the GC flag are never tracked; of the others, only
    // exact tuples are asked, anything else counts as tracked); untracking a tuple
    // holding only untracked objects cannot hide a reference cycle from the collector.
    unsafe {
        let ptr = item.as_ptr();
        ffi::PyType_HasFeature(ffi::Py_TYPE(ptr), ffi::Py_TPFLAGS_HAVE_GC) != 0
            && (ffi::PyTuple_CheckExact(ptr) == 0 || ffi::PyObject_GC_IsTracked(ptr) != 0)
    }
}

/// A received vector's tuple while [`EncodedData::build`] fills it: created at its
/// final size, each item set in place as it is built, untracked at the end as
/// [`tuple`] does.
pub struct TupleFill<'py> {
    tuple: Bound<'py, PyTuple>,
    len: usize,
    filled: usize,
    /// Whether some item may be part of a reference cycle.
    tracked_item: bool,
}

fn wrong_item_count() -> Failed {
    Failed::Python(PyRuntimeError::new_err(
        "bug: a received vector built with the wrong number of items",
    ))
}

/// Why building a value from its bytes failed.
pub enum Failed {
    /// Python refused an object.
    Python(PyErr),
    /// Bytes that were checked when received do not read back: a bug.
    Wire(WireError),
}

impl From<PyErr> for Failed {
    fn from(e: PyErr) -> Self {
        Failed::Python(e)
    }
}

impl From<WireError> for Failed {
    fn from(e: WireError) -> Self {
        Failed::Wire(e)
    }
}

/// Values built from their bytes come out as [`ToPy::value`] converts them; `key`
/// parts (set elements, table keys and what they hold) in hashable form.
impl<'py> Build for ToPy<'py> {
    type Value = Bound<'py, PyAny>;
    type Error = Failed;
    type Vector = TupleFill<'py>;

    #[inline]
    fn scalar(&mut self, value: Scalar<'_>, key: bool) -> Result<Self::Value, Failed> {
        let py = self.py;
        Ok(match value {
            Scalar::None => py.None().into_bound(py),
            Scalar::Boolean(b) => PyBool::new(py, b).to_owned().into_any(),
            Scalar::Count(c) => Count::to_object(py, c)?.into_any(),
            Scalar::Integer(i) => PyInt::new(py, i).into_any(),
            Scalar::Real(r) => PyFloat::new(py, r).into_any(),
            Scalar::String(bytes) => self.string(bytes),
            Scalar::Other(data) => self.convert(&data, key || self.immutable, 0)?,
        })
    }

    fn start_vector(&mut self, len: usize, _: bool) -> Result<TupleFill<'py>, Failed> {
        let size = ffi::Py_ssize_t::try_from(len).map_err(|_| wrong_item_count())?;
        // SAFETY: `PyTuple_New` returns a new reference to a tuple whose `len` slots are
        // NULL (which the collector and deallocation skip), or NULL with an exception set.
        let tuple = unsafe {
            Bound::from_owned_ptr_or_err(self.py, ffi::PyTuple_New(size))?.downcast_into_unchecked()
        };
        Ok(TupleFill {
            tuple,
            len,
            filled: 0,
            tracked_item: false,
        })
    }

    #[inline]
    fn push(&mut self, vector: &mut TupleFill<'py>, item: Self::Value) -> Result<(), Failed> {
        if vector.filled == vector.len {
            return Err(wrong_item_count());
        }
        vector.tracked_item |= may_be_tracked(&item);
        // SAFETY: a slot of the new tuple, in bounds and still NULL; the tuple takes
        // over the item's reference.
        unsafe {
            ffi::PyTuple_SET_ITEM(
                vector.tuple.as_ptr(),
                vector.filled as ffi::Py_ssize_t,
                item.into_ptr(),
            )
        };
        vector.filled += 1;
        Ok(())
    }

    fn vector(&mut self, vector: TupleFill<'py>, _: bool) -> Result<Self::Value, Failed> {
        // A tuple with an empty slot must never reach Python code.
        if vector.filled != vector.len {
            return Err(wrong_item_count());
        }
        if !vector.tracked_item {
            // SAFETY: a live tuple holding only items that cannot be part of a cycle.
            unsafe { ffi::PyObject_GC_UnTrack(vector.tuple.as_ptr().cast()) };
        }
        Ok(vector.tuple.into_any())
    }

    fn set(&mut self, elements: Vec<Self::Value>, key: bool) -> Result<Self::Value, Failed> {
        Ok(if key || self.immutable {
            PyFrozenSet::new(self.py, &elements)?.into_any()
        } else {
            PySet::new(self.py, &elements)?.into_any()
        })
    }

    fn table(
        &mut self,
        entries: Vec<(Self::Value, Self::Value)>,
        key: bool,
    ) -> Result<Self::Value, Failed> {
        let dict = if key || self.immutable {
            FrozenTable::empty(self.py)?
        } else {
            new_dict(self.py, entries.len())?
        };
        for (k, v) in entries {
            dict.set_item(k, v)?;
        }
        Ok(dict.into_any())
    }
}

/// An empty dict with room for `len` items, so filling it never resizes it.
fn new_dict(py: Python<'_>, len: usize) -> PyResult<Bound<'_, PyDict>> {
    let len = ffi::Py_ssize_t::try_from(len).unwrap_or(ffi::Py_ssize_t::MAX);
    // SAFETY: `_PyDict_NewPresized` returns a new reference to a dict, or NULL with an
    // exception set (which `from_owned_ptr_or_err` turns into the error).
    unsafe {
        Ok(
            Bound::from_owned_ptr_or_err(py, ffi::_PyDict_NewPresized(len))?
                .downcast_into_unchecked(),
        )
    }
}

fn address_to_py<'py>(py: Python<'py>, address: &IpAddr) -> PyResult<Bound<'py, PyAny>> {
    let classes = classes(py)?;
    match address.to_canonical() {
        IpAddr::V4(v4) => classes.ipv4_address.bind(py).call1((u32::from(v4),)),
        IpAddr::V6(v6) => classes.ipv6_address.bind(py).call1((u128::from(v6),)),
    }
}

fn subnet_to_py<'py>(py: Python<'py>, net: &IpNet) -> PyResult<Bound<'py, PyAny>> {
    let classes = classes(py)?;
    match net.trunc() {
        IpNet::V4(v4) => {
            let key = (u32::from(v4.network()), v4.prefix_len());
            classes.ipv4_network.bind(py).call1((key,))
        }
        IpNet::V6(v6) => {
            let key = (u128::from(v6.network()), v6.prefix_len());
            classes.ipv6_network.bind(py).call1((key,))
        }
    }
}
