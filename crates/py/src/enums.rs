//! Broker's enumerations as real Python `enum.IntEnum` / `enum.IntFlag` classes.
//!
//! Each is built from its table in [`broker_wire::codes`] (the codes that have a Python
//! name, in table order), once per interpreter through Python's functional enum API, so
//! every member compares equal to its integer, hashes like it, and prints as
//! `EC.PeerTimeout` (Broker 1.4's `str()`), while Rust code can turn a code into a
//! member.

use broker_wire::codes::{
    BackendType, CodeTable, DataType, ErrorCode, Frontend, PeerFlag, PeerStatus, Protocol,
    StatusCode,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};

/// A Python enumeration class defined by name and members, created on first use.
pub struct PyEnum {
    /// Class name (`EC`).
    name: &'static str,
    /// Qualified name (`Data.Type` for a nested class).
    qualname: &'static str,
    /// Whether the members combine as bit flags (`enum.IntFlag`).
    flags: bool,
    /// Member names and values, in declaration order.
    members: fn() -> Vec<(&'static str, u8)>,
    /// The class, once created.
    class: PyOnceLock<Py<PyType>>,
}

impl PyEnum {
    /// The enumeration of the codes of table `T` that have a Python name.
    const fn new<T: CodeTable>(name: &'static str, qualname: &'static str, flags: bool) -> Self {
        PyEnum {
            name,
            qualname,
            flags,
            members: python_members::<T>,
            class: PyOnceLock::new(),
        }
    }

    /// The Python class, created on first use.
    pub fn class<'py>(&'static self, py: Python<'py>) -> PyResult<Bound<'py, PyType>> {
        let class = self.class.get_or_try_init(py, || self.create(py))?;
        Ok(class.bind(py).clone())
    }

    /// The member with the given value (for flags, any combination of members).
    pub fn member<'py>(&'static self, py: Python<'py>, value: u8) -> PyResult<Bound<'py, PyAny>> {
        self.class(py)?.call1((value,))
    }

    fn create(&self, py: Python<'_>) -> PyResult<Py<PyType>> {
        let enum_module = py.import("enum")?;
        let base = enum_module.getattr(if self.flags { "IntFlag" } else { "IntEnum" })?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("module", "broker")?;
        kwargs.set_item("qualname", self.qualname)?;
        let class = base.call((self.name, (self.members)()), Some(&kwargs))?;
        // `IntEnum` prints as a bare number since Python 3.11; Broker prints `EC.Name`.
        let enum_str = enum_module.getattr("Enum")?.getattr("__str__")?;
        class.setattr("__str__", enum_str)?;
        Ok(class.downcast_into::<PyType>()?.unbind())
    }
}

/// The Python members of table `T`: names and numbers, in table order.
fn python_members<T: CodeTable>() -> Vec<(&'static str, u8)> {
    T::ALL
        .iter()
        .filter_map(|&code| Some((code.python_name()?, code.code())))
        .collect()
}

/// `broker.EC`: error codes.
pub static EC: PyEnum = PyEnum::new::<ErrorCode>("EC", "EC", false);

/// `broker.SC`: status codes.
pub static SC: PyEnum = PyEnum::new::<StatusCode>("SC", "SC", false);

/// `broker.PeerStatus`: the state of a peering.
pub static PEER_STATUS: PyEnum = PyEnum::new::<PeerStatus>("PeerStatus", "PeerStatus", false);

/// `broker.PeerFlags`: bit flags describing a peer.
pub static PEER_FLAGS: PyEnum = PyEnum::new::<PeerFlag>("PeerFlags", "PeerFlags", true);

/// `broker.Backend`: storage engines of a master store.
pub static BACKEND: PyEnum = PyEnum::new::<BackendType>("Backend", "Backend", false);

/// `broker.Frontend`: the role of a store.
pub static FRONTEND: PyEnum = PyEnum::new::<Frontend>("Frontend", "Frontend", false);

/// `broker.Data.Type`: the type of a value.
pub static DATA_TYPE: PyEnum = PyEnum::new::<DataType>("Type", "Data.Type", false);

/// `broker.Port.Protocol`: transport protocols.
pub static PROTOCOL: PyEnum = PyEnum::new::<Protocol>("Protocol", "Port.Protocol", false);

/// Registers the top-level enumerations on the module.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    for e in [&EC, &SC, &PEER_STATUS, &PEER_FLAGS, &BACKEND, &FRONTEND] {
        module.add(e.name, e.class(py)?)?;
    }
    Ok(())
}
