//! Conversion between Python values and [`Data`], both ways, entirely in Rust: Python →
//! `Data` here, `Data` → Python in [`to_py`] (with its cache of short strings,
//! `str_cache`), and Python → wire bytes for publishing in `to_wire`.
//!
//! Hot path of the bindings: common exact types (`str`, `int`, `float`, `tuple`, ...) are
//! tested first; wrapper classes, `datetime` and `ipaddress` values after; subclasses
//! last. Values that Python cannot hash inside a set or as a table key (a set of tables)
//! come out in a hashable read-only form: `frozenset` and
//! [`FrozenTable`](crate::containers::FrozenTable).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use broker_wire::data::{Timespan as WireSpan, Timestamp as WireStamp};
use broker_wire::Data;
use ipnet::IpNet;
use pyo3::exceptions::{PyOverflowError, PyRecursionError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDateTime, PyDelta, PyDeltaAccess, PyDict, PyFloat, PyFrozenSet,
    PyInt, PyList, PySet, PyString, PyTuple, PyType,
};

use crate::containers::{Set, Table, Vector};
use crate::data::PyData;
use crate::values::{Address, Count, Enum, Port, Subnet, Timespan, Timestamp};
use crate::zeek::Event;

mod str_cache;
mod to_py;
mod to_wire;

pub use to_py::{to_py, ToPy};
pub use to_wire::to_payload;

/// Nesting deeper than this raises `RecursionError` instead of exhausting the stack.
const MAX_DEPTH: usize = 500;

/// Python classes the conversion needs, imported once per interpreter.
struct PyClasses {
    ipv4_address: Py<PyType>,
    ipv6_address: Py<PyType>,
    ipv4_network: Py<PyType>,
    ipv6_network: Py<PyType>,
    /// `types.MappingProxyType`.
    mapping_proxy: Py<PyType>,
    /// `datetime(1970, 1, 1, tzinfo=timezone.utc)`.
    epoch: Py<PyDateTime>,
}

static CLASSES: PyOnceLock<PyClasses> = PyOnceLock::new();

fn classes(py: Python<'_>) -> PyResult<&PyClasses> {
    CLASSES.get_or_try_init(py, || {
        let ipaddress = py.import("ipaddress")?;
        let class = |name: &str| -> PyResult<Py<PyType>> {
            Ok(ipaddress.getattr(name)?.downcast_into::<PyType>()?.unbind())
        };
        let utc = py.import("datetime")?.getattr("timezone")?.getattr("utc")?;
        let epoch = PyDateTime::new(py, 1970, 1, 1, 0, 0, 0, 0, Some(utc.downcast()?))?;
        Ok(PyClasses {
            ipv4_address: class("IPv4Address")?,
            ipv6_address: class("IPv6Address")?,
            ipv4_network: class("IPv4Network")?,
            ipv6_network: class("IPv6Network")?,
            mapping_proxy: py
                .import("types")?
                .getattr("MappingProxyType")?
                .downcast_into::<PyType>()?
                .unbind(),
            epoch: epoch.unbind(),
        })
    })
}

/// Converts any supported Python value to Broker data.
pub fn to_data(value: &Bound<'_, PyAny>) -> PyResult<Data> {
    to_data_at(value, 0)
}

fn to_data_at(value: &Bound<'_, PyAny>, depth: usize) -> PyResult<Data> {
    if depth > MAX_DEPTH {
        return Err(PyRecursionError::new_err(
            "value nested too deeply for Broker",
        ));
    }
    if let Ok(s) = value.downcast_exact::<PyString>() {
        return Ok(Data::String(s.to_str()?.as_bytes().to_vec()));
    }
    if let Ok(b) = value.downcast_exact::<PyBool>() {
        return Ok(Data::Boolean(b.is_true()));
    }
    if let Ok(i) = value.downcast_exact::<PyInt>() {
        return Ok(Data::Integer(i.extract()?));
    }
    if let Ok(f) = value.downcast_exact::<PyFloat>() {
        return Ok(Data::Real(f.value()));
    }
    if value.is_none() {
        return Ok(Data::None);
    }
    // Exact `Count` ahead of the containers: table values are mostly counts.
    if let Ok(c) = value.downcast_exact::<Count>() {
        return Ok(Data::Count(c.get().value));
    }
    // Sized up front (collecting through `PyResult` loses the size hint) and, for
    // tuples, read without touching reference counts.
    if let Ok(t) = value.downcast_exact::<PyTuple>() {
        let mut items = Vec::with_capacity(t.len());
        for x in t.iter_borrowed() {
            items.push(to_data_at(&x, depth + 1)?);
        }
        return Ok(Data::Vector(items));
    }
    if let Ok(l) = value.downcast_exact::<PyList>() {
        let mut items = Vec::with_capacity(l.len());
        for x in l.iter() {
            items.push(to_data_at(&x, depth + 1)?);
        }
        return Ok(Data::Vector(items));
    }
    if let Ok(d) = value.downcast_exact::<PyDict>() {
        return dict_to_table(d, depth).map(Data::Table);
    }
    if let Some(data) = wrapper_to_data(value)? {
        return Ok(data);
    }
    if let Some(data) = stdlib_to_data(value, depth)? {
        return Ok(data);
    }
    Err(PyTypeError::new_err(format!(
        "unsupported data type: {}",
        value.get_type().repr()?
    )))
}

fn dict_to_table(dict: &Bound<'_, PyDict>, depth: usize) -> PyResult<BTreeMap<Data, Data>> {
    // Sized up front: `BTreeMap::from_iter` takes the vector as is, sorts it (one pass
    // when the dict was built in order) and builds the nodes in bulk.
    let mut entries = Vec::with_capacity(dict.len());
    for (k, v) in dict.iter() {
        entries.push((to_data_at(&k, depth + 1)?, to_data_at(&v, depth + 1)?));
    }
    Ok(BTreeMap::from_iter(entries))
}

fn iter_to_set(value: &Bound<'_, PyAny>, depth: usize) -> PyResult<BTreeSet<Data>> {
    value
        .try_iter()?
        .map(|x| to_data_at(&x?, depth + 1))
        .collect()
}

/// Instances of this module's classes.
fn wrapper_to_data(value: &Bound<'_, PyAny>) -> PyResult<Option<Data>> {
    // `Count` first: the wrapper found most often in Zeek data.
    let data = if let Ok(c) = value.downcast::<Count>() {
        Data::Count(c.get().value)
    } else if let Ok(d) = value.downcast::<PyData>() {
        d.get().0.clone()
    } else if let Ok(p) = value.downcast::<Port>() {
        Data::Port(p.get().0)
    } else if let Ok(e) = value.downcast::<Enum>() {
        Data::EnumValue(e.get().name.clone())
    } else if let Ok(t) = value.downcast::<Timespan>() {
        Data::Timespan(t.get().0)
    } else if let Ok(t) = value.downcast::<Timestamp>() {
        Data::Timestamp(t.get().0)
    } else if let Ok(a) = value.downcast::<Address>() {
        Data::Address(a.get().0)
    } else if let Ok(s) = value.downcast::<Subnet>() {
        Data::Subnet(s.get().0)
    } else if let Ok(s) = value.downcast::<Set>() {
        Data::Set(s.borrow().0.clone())
    } else if let Ok(t) = value.downcast::<Table>() {
        Data::Table(t.borrow().0.clone())
    } else if let Ok(v) = value.downcast::<Vector>() {
        Data::Vector(v.borrow().0.clone())
    } else if let Ok(e) = value.downcast::<Event>() {
        e.get().data().clone()
    } else {
        return Ok(None);
    };
    Ok(Some(data))
}

/// `datetime`, `ipaddress` and built-in types (and their subclasses) not caught by the
/// exact-type fast path.
fn stdlib_to_data(value: &Bound<'_, PyAny>, depth: usize) -> PyResult<Option<Data>> {
    let py = value.py();
    let data = if let Ok(dt) = value.downcast::<PyDateTime>() {
        Data::Timestamp(WireStamp(datetime_nanos(dt)?))
    } else if let Ok(delta) = value.downcast::<PyDelta>() {
        Data::Timespan(WireSpan(delta_nanos(delta)?))
    } else if let Ok(s) = value.downcast::<PyString>() {
        Data::String(s.to_str()?.as_bytes().to_vec())
    } else if let Ok(b) = value.downcast::<PyBytes>() {
        Data::String(b.as_bytes().to_vec())
    } else if let Ok(b) = value.downcast::<PyByteArray>() {
        Data::String(b.to_vec())
    } else if let Ok(b) = value.downcast::<PyBool>() {
        Data::Boolean(b.is_true())
    } else if value.is_instance_of::<PyInt>() {
        Data::Integer(value.extract()?)
    } else if let Ok(f) = value.downcast::<PyFloat>() {
        Data::Real(f.value())
    } else if value.is_instance_of::<PySet>() || value.is_instance_of::<PyFrozenSet>() {
        Data::Set(iter_to_set(value, depth)?)
    } else if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let items = value.try_iter()?.map(|x| to_data_at(&x?, depth + 1));
        Data::Vector(items.collect::<PyResult<_>>()?)
    } else if let Ok(d) = value.downcast::<PyDict>() {
        // Subclasses too, `FrozenTable` among them.
        Data::Table(dict_to_table(d, depth)?)
    } else if value.is_instance(classes(py)?.mapping_proxy.bind(py))? {
        // A read-only view of a mapping, as Broker takes it.
        let mut table = BTreeMap::new();
        for item in value.call_method0("items")?.try_iter()? {
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
            table.insert(to_data_at(&k, depth + 1)?, to_data_at(&v, depth + 1)?);
        }
        Data::Table(table)
    } else if let Some(address) = ipaddress_to_data(py, value)? {
        address
    } else {
        return Ok(None);
    };
    Ok(Some(data))
}

fn ipaddress_to_data(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Option<Data>> {
    let classes = classes(py)?;
    let data = if value.is_instance(classes.ipv4_address.bind(py))? {
        Data::Address(IpAddr::V4(Ipv4Addr::from(
            value.call_method0("__int__")?.extract::<u32>()?,
        )))
    } else if value.is_instance(classes.ipv6_address.bind(py))? {
        Data::Address(IpAddr::V6(Ipv6Addr::from(
            value.call_method0("__int__")?.extract::<u128>()?,
        )))
    } else if value.is_instance(classes.ipv4_network.bind(py))?
        || value.is_instance(classes.ipv6_network.bind(py))?
    {
        let Some(Data::Address(address)) =
            ipaddress_to_data(py, &value.getattr("network_address")?)?
        else {
            return Ok(None);
        };
        let prefix: u8 = value.getattr("prefixlen")?.extract()?;
        let net =
            IpNet::new(address, prefix).map_err(|e| PyOverflowError::new_err(e.to_string()))?;
        Data::Subnet(net.trunc())
    } else {
        return Ok(None);
    };
    Ok(Some(data))
}

fn overflow(what: &str) -> PyErr {
    PyOverflowError::new_err(format!("{what} out of Broker's range (64-bit nanoseconds)"))
}

/// Nanoseconds of a `timedelta`, exactly.
fn delta_nanos(delta: &Bound<'_, PyDelta>) -> PyResult<i64> {
    let micros = (delta.get_days() as i128 * 86_400 + delta.get_seconds() as i128) * 1_000_000
        + delta.get_microseconds() as i128;
    i64::try_from(micros * 1000).map_err(|_| overflow("timedelta"))
}

/// Nanoseconds since the epoch of a `datetime`; a naive one is local time.
fn datetime_nanos(dt: &Bound<'_, PyDateTime>) -> PyResult<i64> {
    let py = dt.py();
    let aware = if dt.getattr("tzinfo")?.is_none() {
        dt.call_method0("astimezone")?
    } else {
        dt.clone().into_any()
    };
    let since_epoch = aware.call_method1("__sub__", (classes(py)?.epoch.bind(py),))?;
    delta_nanos(since_epoch.downcast()?)
}

/// A `timedelta` of the given nanoseconds (rounded down to microseconds).
fn nanos_to_delta(py: Python<'_>, nanos: i64) -> PyResult<Bound<'_, PyDelta>> {
    let micros = nanos.div_euclid(1000);
    let days = micros.div_euclid(86_400_000_000);
    let rest = micros.rem_euclid(86_400_000_000);
    let days = i32::try_from(days).map_err(|_| overflow("timespan"))?;
    PyDelta::new(
        py,
        days,
        (rest / 1_000_000) as i32,
        (rest % 1_000_000) as i32,
        false,
    )
}
