//! `broker.Data`: a Broker value held on the Rust side, with typed accessors.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use broker_actors::ErrorCode;
use broker_wire::Data;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyType};

use crate::containers::{Set, Table, Vector};
use crate::convert::{to_data, ToPy};
use crate::enums::DATA_TYPE;
use crate::error::broker_error;
use crate::values::{Address, Enum, Port, Subnet};

/// `broker._broker.Data`: wraps any convertible Python value as a Broker value. The
/// package's `broker.Data` is a Python subclass, as in Broker: elements of containers
/// come out as this base class.
#[pyclass(name = "Data", module = "broker._broker", frozen, eq, ord, subclass)]
#[derive(Clone, PartialEq, PartialOrd)]
pub struct PyData(pub Data);

impl PyData {
    /// Today's Broker raises `RuntimeError` ("bad variant access") for a wrong accessor;
    /// `BrokerError` is one, with the code of a type clash.
    fn wrong_type(&self, wanted: &str) -> PyErr {
        broker_error(
            ErrorCode::TypeClash,
            format!(
                "Data holds {}, not {wanted}: {}",
                type_name(&self.0),
                self.0
            ),
        )
    }
}

/// Broker's name of the value's type.
fn type_name(data: &Data) -> &'static str {
    match data {
        Data::None => "none",
        Data::Boolean(_) => "a boolean",
        Data::Count(_) => "a count",
        Data::Integer(_) => "an integer",
        Data::Real(_) => "a real",
        Data::String(_) => "a string",
        Data::Address(_) => "an address",
        Data::Subnet(_) => "a subnet",
        Data::Port(_) => "a port",
        Data::Timestamp(_) => "a timestamp",
        Data::Timespan(_) => "a timespan",
        Data::EnumValue(_) => "an enum value",
        Data::Set(_) => "a set",
        Data::Table(_) => "a table",
        Data::Vector(_) => "a vector",
    }
}

/// Generates the `as_<type>()` accessors: each returns the value if the `Data` holds
/// that type and raises `TypeError` otherwise.
macro_rules! accessors {
    ($($(#[$doc:meta])* $name:ident -> $out:ty, $variant:ident($v:ident) => $conv:expr;)*) => {
        #[pymethods]
        impl PyData {
            $(
                $(#[$doc])*
                fn $name(&self) -> PyResult<$out> {
                    match &self.0 {
                        Data::$variant($v) => Ok($conv),
                        _ => Err(self.wrong_type(stringify!($variant))),
                    }
                }
            )*
        }
    };
}

accessors! {
    /// The boolean.
    as_boolean -> bool, Boolean(b) => *b;
    /// The count, as `int`.
    as_count -> u64, Count(c) => *c;
    /// The integer.
    as_integer -> i64, Integer(i) => *i;
    /// The real.
    as_real -> f64, Real(r) => *r;
    /// The address, as `broker.Address`.
    as_address -> Address, Address(a) => Address(*a);
    /// The subnet, as `broker.Subnet`.
    as_subnet -> Subnet, Subnet(n) => Subnet(*n);
    /// The port, as `broker.Port`.
    as_port -> Port, Port(p) => Port(*p);
    /// The timestamp, in seconds since the epoch (as Broker 1.4).
    as_timestamp -> f64, Timestamp(t) => t.since_epoch().as_secs_f64();
    /// The timespan, in seconds (as Broker 1.4).
    as_timespan -> f64, Timespan(t) => t.as_secs_f64();
    /// The enum value, as `broker.Enum`.
    as_enum_value -> Enum, EnumValue(e) => Enum { name: e.clone() };
    /// The set, as `broker.Set`.
    as_set -> Set, Set(s) => Set(s.clone());
    /// The table, as `broker.Table`.
    as_table -> Table, Table(t) => Table(t.clone());
    /// The vector, as `broker.Vector`.
    as_vector -> Vector, Vector(v) => Vector(v.clone());
}

#[pymethods]
impl PyData {
    #[new]
    #[pyo3(signature = (x = None))]
    fn new(x: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        Ok(PyData(match x {
            None => Data::None,
            Some(v) => to_data(v)?,
        }))
    }

    /// The `Data.Type` enumeration.
    #[classattr]
    #[pyo3(name = "Type")]
    fn type_class(py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(DATA_TYPE.class(py)?.into_any().unbind())
    }

    /// The value's type, a `Data.Type`.
    fn get_type<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        DATA_TYPE.member(py, self.0.data_type().code())
    }

    /// `None`, if the value is none.
    fn as_none(&self) -> PyResult<()> {
        match self.0 {
            Data::None => Ok(()),
            _ => Err(self.wrong_type("None")),
        }
    }

    /// The string's bytes (as Broker 1.4; `to_py` decodes UTF-8).
    fn as_string<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        match &self.0 {
            Data::String(s) => Ok(PyBytes::new(py, s)),
            _ => Err(self.wrong_type("String")),
        }
    }

    /// Converts a Python value to `Data`: an instance of the class it is called on, so
    /// that `broker.Data.from_py(x)` is a `broker.Data`, as in Broker.
    #[classmethod]
    fn from_py<'py>(
        cls: &Bound<'py, PyType>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        cls.call1((x,))
    }

    /// Converts `Data` (or any convertible value) to its Python value; `immutable`
    /// gives every container in hashable form (`ImmutableData.to_py`).
    #[staticmethod]
    #[pyo3(signature = (d, *, immutable = false))]
    fn to_py<'py>(d: &Bound<'py, PyAny>, immutable: bool) -> PyResult<Bound<'py, PyAny>> {
        let mut convert = ToPy::new(d.py()).immutable(immutable);
        match d.downcast::<PyData>() {
            Ok(data) => convert.value(&data.get().0),
            Err(_) => convert.value(&to_data(d)?),
        }
    }

    fn __hash__(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        self.0.hash(&mut hasher);
        hasher.finish()
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self) -> String {
        format!("Data({})", self.0)
    }
}
