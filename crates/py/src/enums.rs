//! Broker's enumerations as real Python `enum.IntEnum` / `enum.IntFlag` classes.
//!
//! They are built once per interpreter through Python's functional enum API, so every
//! member compares equal to its integer, hashes like it, and prints as `EC.PeerTimeout`
//! (Broker 1.4's `str()`), while Rust code can turn a discriminant into a member.

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
    members: &'static [(&'static str, i64)],
    /// The class, once created.
    class: PyOnceLock<Py<PyType>>,
}

impl PyEnum {
    const fn new(
        name: &'static str,
        qualname: &'static str,
        flags: bool,
        members: &'static [(&'static str, i64)],
    ) -> Self {
        PyEnum {
            name,
            qualname,
            flags,
            members,
            class: PyOnceLock::new(),
        }
    }

    /// The Python class, created on first use.
    pub fn class<'py>(&'static self, py: Python<'py>) -> PyResult<Bound<'py, PyType>> {
        let class = self.class.get_or_try_init(py, || self.create(py))?;
        Ok(class.bind(py).clone())
    }

    /// The member with the given value (for flags, any combination of members).
    pub fn member<'py>(&'static self, py: Python<'py>, value: i64) -> PyResult<Bound<'py, PyAny>> {
        self.class(py)?.call1((value,))
    }

    fn create(&self, py: Python<'_>) -> PyResult<Py<PyType>> {
        let enum_module = py.import("enum")?;
        let base = enum_module.getattr(if self.flags { "IntFlag" } else { "IntEnum" })?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("module", "broker")?;
        kwargs.set_item("qualname", self.qualname)?;
        let class = base.call((self.name, self.members.to_vec()), Some(&kwargs))?;
        // `IntEnum` prints as a bare number since Python 3.11; Broker prints `EC.Name`.
        let enum_str = enum_module.getattr("Enum")?.getattr("__str__")?;
        class.setattr("__str__", enum_str)?;
        Ok(class.downcast_into::<PyType>()?.unbind())
    }
}

/// `broker.EC`: error codes.
pub static EC: PyEnum = PyEnum::new(
    "EC",
    "EC",
    false,
    &[
        ("Unspecified", 1),
        ("PeerIncompatible", 2),
        ("PeerInvalid", 3),
        ("PeerUnavailable", 4),
        ("PeerTimeout", 6),
        ("MasterExists", 7),
        ("NoSuchMaster", 8),
        ("NoSuchKey", 9),
        ("RequestTimeOut", 10),
        ("TypeClash", 11),
        ("InvalidData", 12),
        ("BackendFailure", 13),
        ("StaleData", 14),
    ],
);

/// `broker.SC`: status codes.
pub static SC: PyEnum = PyEnum::new(
    "SC",
    "SC",
    false,
    &[
        ("Unspecified", 0),
        ("PeerAdded", 1),
        ("PeerRemoved", 2),
        ("PeerLost", 3),
        ("EndpointDiscovered", 4),
        ("EndpointUnreachable", 5),
    ],
);

/// `broker.PeerStatus`: the state of a peering.
pub static PEER_STATUS: PyEnum = PyEnum::new(
    "PeerStatus",
    "PeerStatus",
    false,
    &[
        ("Initialized", 0),
        ("Connecting", 1),
        ("Connected", 2),
        ("Peered", 3),
        ("Disconnected", 4),
        ("Reconnecting", 5),
    ],
);

/// `broker.PeerFlags`: bit flags describing a peer.
pub static PEER_FLAGS: PyEnum = PyEnum::new(
    "PeerFlags",
    "PeerFlags",
    true,
    &[
        ("Invalid", 0),
        ("Local", 1),
        ("Remote", 2),
        ("Outbound", 4),
        ("Inbound", 8),
    ],
);

/// `broker.Backend`: storage engines of a master store.
pub static BACKEND: PyEnum = PyEnum::new(
    "Backend",
    "Backend",
    false,
    &[("Memory", 0), ("SQLite", 1), ("RocksDB", 2)],
);

/// `broker.Frontend`: the role of a store (values as in Broker 1.4).
pub static FRONTEND: PyEnum = PyEnum::new(
    "Frontend",
    "Frontend",
    false,
    &[("Master", 1), ("Clone", 0)],
);

/// `broker.Data.Type`: the type of a value, with Broker's discriminants.
pub static DATA_TYPE: PyEnum = PyEnum::new(
    "Type",
    "Data.Type",
    false,
    &[
        ("Address", 0),
        ("Boolean", 1),
        ("Count", 2),
        ("EnumValue", 3),
        ("Integer", 4),
        ("Nil", 5),
        ("Port", 6),
        ("Real", 7),
        ("Set", 8),
        ("String", 9),
        ("Subnet", 10),
        ("Table", 11),
        ("Timespan", 12),
        ("Timestamp", 13),
        ("Vector", 14),
    ],
);

/// `broker.Port.Protocol`: transport protocols, with the wire's discriminants.
pub static PROTOCOL: PyEnum = PyEnum::new(
    "Protocol",
    "Port.Protocol",
    false,
    &[("Unknown", 0), ("TCP", 1), ("UDP", 2), ("ICMP", 3)],
);

/// Registers the top-level enumerations on the module.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    for e in [&EC, &SC, &PEER_STATUS, &PEER_FLAGS, &BACKEND, &FRONTEND] {
        module.add(e.name, e.class(py)?)?;
    }
    Ok(())
}
