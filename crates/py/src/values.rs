//! Wrapper classes for Broker scalars without a direct Python equivalent:
//! `Count`, `Enum`, `Port`, `Timespan`, `Timestamp`, `Address`, `Subnet`.
//!
//! All are immutable, hashable and ordered like the Broker values they hold.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use broker_wire::data::{Port as WirePort, Protocol, Timespan as WireSpan, Timestamp as WireStamp};
use ipnet::IpNet;
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError, PyZeroDivisionError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyFloat, PyInt, PyString};

use crate::enums::PROTOCOL;

/// `broker.Count`: an unsigned 64-bit integer (Python's `int` maps to Broker's integer).
#[pyclass(module = "broker", frozen, eq, ord, hash)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Count {
    /// The number.
    #[pyo3(get)]
    pub value: u64,
}

/// Counts below this are converted to shared objects (like CPython's small ints).
const SMALL_COUNTS: u64 = 256;

static SMALL_COUNT_OBJECTS: PyOnceLock<Vec<Py<Count>>> = PyOnceLock::new();

impl Count {
    /// The Python object for a count; small ones are shared, which is safe because
    /// `Count` is frozen, and saves an allocation per value received.
    pub fn to_object(py: Python<'_>, value: u64) -> PyResult<Bound<'_, Count>> {
        if value >= SMALL_COUNTS {
            return Bound::new(py, Count { value });
        }
        let shared = SMALL_COUNT_OBJECTS.get_or_try_init(py, || {
            (0..SMALL_COUNTS)
                .map(|value| Py::new(py, Count { value }))
                .collect::<PyResult<_>>()
        })?;
        Ok(shared[value as usize].bind(py).clone())
    }
}

#[pymethods]
impl Count {
    #[new]
    fn new(value: &Bound<'_, PyAny>) -> PyResult<Self> {
        let value: u64 = value.extract().map_err(|e| {
            if value.is_instance_of::<PyInt>() {
                PyOverflowError::new_err(format!("count out of range [0, 2**64-1]: {value}"))
            } else {
                e
            }
        })?;
        Ok(Count { value })
    }

    fn __int__(&self) -> u64 {
        self.value
    }

    fn __str__(&self) -> String {
        self.value.to_string()
    }

    fn __repr__(&self) -> String {
        format!("Count({})", self.value)
    }
}

/// `broker.Enum`: a named enumeration value.
#[pyclass(module = "broker", frozen, eq, ord, hash)]
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Enum {
    /// The enumerator's name.
    #[pyo3(get)]
    pub name: String,
}

#[pymethods]
impl Enum {
    #[new]
    fn new(name: String) -> Self {
        Enum { name }
    }

    fn __str__(&self) -> &str {
        &self.name
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("Enum({})", PyString::new(py, &self.name).repr()?))
    }
}

/// `broker.Port`: a port number and a transport protocol.
#[pyclass(module = "broker", frozen, eq, ord, hash)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port(pub WirePort);

fn protocol_from_int(value: i64) -> PyResult<Protocol> {
    u8::try_from(value)
        .ok()
        .and_then(Protocol::from_u8)
        .ok_or_else(|| PyValueError::new_err(format!("invalid port protocol: {value}")))
}

#[pymethods]
impl Port {
    #[new]
    #[pyo3(signature = (number = 0, protocol = 0))]
    fn new(number: u16, protocol: i64) -> PyResult<Self> {
        Ok(Port(WirePort::new(number, protocol_from_int(protocol)?)))
    }

    /// The `Port.Protocol` enumeration.
    #[classattr]
    #[pyo3(name = "Protocol")]
    fn protocol_class(py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(PROTOCOL.class(py)?.into_any().unbind())
    }

    #[classattr]
    #[pyo3(name = "Unknown")]
    fn unknown(py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(PROTOCOL.member(py, Protocol::Unknown.code())?.unbind())
    }

    #[classattr]
    #[pyo3(name = "TCP")]
    fn tcp(py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(PROTOCOL.member(py, Protocol::Tcp.code())?.unbind())
    }

    #[classattr]
    #[pyo3(name = "UDP")]
    fn udp(py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(PROTOCOL.member(py, Protocol::Udp.code())?.unbind())
    }

    #[classattr]
    #[pyo3(name = "ICMP")]
    fn icmp(py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(PROTOCOL.member(py, Protocol::Icmp.code())?.unbind())
    }

    /// The port number.
    fn number(&self) -> u16 {
        self.0.number
    }

    /// The protocol, a `Port.Protocol`.
    fn get_type<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        PROTOCOL.member(py, self.0.protocol.code())
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self) -> String {
        let protocol = self.0.protocol.python_name().unwrap_or("Unknown");
        format!("Port({}, Port.{protocol})", self.0.number)
    }
}

/// `broker.Timespan`: a duration in nanoseconds.
#[pyclass(module = "broker", frozen, eq, ord, hash)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timespan(pub WireSpan);

/// Nanoseconds from a Python `int` (nanoseconds) or `float` (seconds).
fn nanos_from_number(value: &Bound<'_, PyAny>) -> PyResult<i64> {
    if value.is_instance_of::<PyInt>() {
        value.extract()
    } else if let Ok(secs) = value.downcast::<PyFloat>() {
        let nanos = (secs.value() * 1e9).round();
        if nanos.is_finite() && nanos.abs() < i64::MAX as f64 {
            Ok(nanos as i64)
        } else {
            Err(PyOverflowError::new_err(format!("out of range: {secs}")))
        }
    } else {
        Err(PyTypeError::new_err(format!(
            "expected int nanoseconds or float seconds, not {}",
            value.get_type().name()?
        )))
    }
}

fn checked(value: Option<i64>) -> PyResult<i64> {
    value.ok_or_else(|| PyOverflowError::new_err("time arithmetic overflows 64-bit nanoseconds"))
}

#[pymethods]
impl Timespan {
    #[new]
    #[pyo3(signature = (value = None))]
    fn new(value: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        match value {
            None => Ok(Timespan(WireSpan(0))),
            Some(v) => Ok(Timespan(WireSpan(nanos_from_number(v)?))),
        }
    }

    /// The duration in nanoseconds.
    fn count(&self) -> i64 {
        self.0 .0
    }

    fn __add__(&self, other: &Self) -> PyResult<Self> {
        Ok(Timespan(WireSpan(checked(
            self.0 .0.checked_add(other.0 .0),
        )?)))
    }

    fn __sub__(&self, other: &Self) -> PyResult<Self> {
        Ok(Timespan(WireSpan(checked(
            self.0 .0.checked_sub(other.0 .0),
        )?)))
    }

    fn __mul__(&self, factor: i64) -> PyResult<Self> {
        Ok(Timespan(WireSpan(checked(self.0 .0.checked_mul(factor))?)))
    }

    fn __rmul__(&self, factor: i64) -> PyResult<Self> {
        self.__mul__(factor)
    }

    /// `Timespan / Timespan` is a ratio (`float`); `Timespan / int` a shorter timespan.
    fn __truediv__<'py>(&self, py: Python<'py>, other: &Bound<'py, PyAny>) -> PyResult<Py<PyAny>> {
        if let Ok(other) = other.downcast::<Timespan>() {
            let divisor = other.get().0 .0;
            if divisor == 0 {
                return Err(PyZeroDivisionError::new_err("division by a zero timespan"));
            }
            return Ok((self.0 .0 as f64 / divisor as f64)
                .into_pyobject(py)?
                .into_any()
                .unbind());
        }
        let divisor: i64 = other.extract()?;
        let nanos = self.0 .0.checked_div(divisor);
        let nanos = nanos.ok_or_else(|| PyZeroDivisionError::new_err("division by zero"))?;
        Ok(Py::new(py, Timespan(WireSpan(nanos)))?.into_any())
    }

    fn __neg__(&self) -> PyResult<Self> {
        Ok(Timespan(WireSpan(checked(self.0 .0.checked_neg())?)))
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self) -> String {
        format!("Timespan({})", self.0 .0)
    }
}

/// `broker.Timestamp`: nanoseconds since the Unix epoch.
#[pyclass(module = "broker", frozen, eq, ord, hash)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub WireStamp);

#[pymethods]
impl Timestamp {
    /// `Timestamp(seconds: float)` or `Timestamp(since_epoch: Timespan)`.
    #[new]
    #[pyo3(signature = (value = None))]
    fn new(value: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let nanos = match value {
            None => 0,
            Some(v) => match v.downcast::<Timespan>() {
                Ok(span) => span.get().0 .0,
                Err(_) => nanos_from_number(&PyFloat::new(v.py(), v.extract::<f64>()?))?,
            },
        };
        Ok(Timestamp(WireStamp(nanos)))
    }

    /// The time elapsed since the epoch, a `Timespan`.
    fn time_since_epoch(&self) -> Timespan {
        Timespan(self.0.since_epoch())
    }

    fn __add__(&self, span: &Timespan) -> PyResult<Self> {
        Ok(Timestamp(WireStamp(checked(
            self.0 .0.checked_add(span.0 .0),
        )?)))
    }

    /// `Timestamp - Timestamp` is a `Timespan`; `Timestamp - Timespan` a `Timestamp`.
    fn __sub__<'py>(&self, py: Python<'py>, other: &Bound<'py, PyAny>) -> PyResult<Py<PyAny>> {
        if let Ok(stamp) = other.downcast::<Timestamp>() {
            let nanos = checked(self.0 .0.checked_sub(stamp.get().0 .0))?;
            return Ok(Py::new(py, Timespan(WireSpan(nanos)))?.into_any());
        }
        let span = other.downcast::<Timespan>()?.get().0 .0;
        let nanos = checked(self.0 .0.checked_sub(span))?;
        Ok(Py::new(py, Timestamp(WireStamp(nanos)))?.into_any())
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self) -> String {
        format!("Timestamp({})", self.0 .0)
    }
}

/// `broker.Address`: an IPv4 or IPv6 address.
#[pyclass(module = "broker", frozen, eq, ord, hash)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub IpAddr);

/// An address from its text form or its packed bytes (4 or 16 bytes).
fn parse_address(value: &Bound<'_, PyAny>) -> PyResult<IpAddr> {
    if let Ok(address) = value.downcast::<Address>() {
        return Ok(address.get().0);
    }
    if let Ok(bytes) = value.downcast::<PyBytes>() {
        return match bytes.as_bytes().len() {
            4 => Ok(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(
                bytes.as_bytes(),
            )?))),
            16 => Ok(
                IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes.as_bytes())?)).to_canonical(),
            ),
            n => Err(PyValueError::new_err(format!(
                "an address has 4 or 16 bytes, not {n}"
            ))),
        };
    }
    let text = value.str()?.to_string();
    text.parse()
        .map_err(|_| PyValueError::new_err(format!("invalid address: {text:?}")))
}

#[pymethods]
impl Address {
    /// `Address(text_or_ipaddress)` or `Address(packed_bytes, family)` as in Broker 1.4
    /// (`family` is 4 or 6 and only selects how 4 packed bytes are read).
    #[new]
    #[pyo3(signature = (value = None, family = None))]
    fn new(value: Option<&Bound<'_, PyAny>>, family: Option<u8>) -> PyResult<Self> {
        if !matches!(family, None | Some(4) | Some(6)) {
            return Err(PyValueError::new_err("address family must be 4 or 6"));
        }
        match value {
            None => Ok(Address(IpAddr::V4(Ipv4Addr::UNSPECIFIED))),
            Some(v) => Ok(Address(parse_address(v)?)),
        }
    }

    /// The address in Broker's 16-byte form (IPv4 as IPv4-mapped IPv6).
    fn bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let v6 = match self.0 {
            IpAddr::V4(v4) => v4.to_ipv6_mapped(),
            IpAddr::V6(v6) => v6,
        };
        PyBytes::new(py, &v6.octets())
    }

    /// Whether this is an IPv4 address.
    fn is_v4(&self) -> bool {
        self.0.to_canonical().is_ipv4()
    }

    /// Whether this is an IPv6 address.
    fn is_v6(&self) -> bool {
        !self.is_v4()
    }

    fn __str__(&self) -> String {
        self.0.to_canonical().to_string()
    }

    fn __repr__(&self) -> String {
        format!("Address('{}')", self.__str__())
    }
}

/// `broker.Subnet`: an IP network (host bits are cleared, as Broker does).
#[pyclass(module = "broker", frozen, eq, ord, hash)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subnet(pub IpNet);

#[pymethods]
impl Subnet {
    /// `Subnet("10.0.0.0/8")` or `Subnet(Address, prefix_length)`.
    #[new]
    #[pyo3(signature = (value = None, length = None))]
    fn new(value: Option<&Bound<'_, PyAny>>, length: Option<u8>) -> PyResult<Self> {
        let net = match (value, length) {
            (None, _) => IpNet::default(),
            (Some(address), Some(length)) => IpNet::new(parse_address(address)?, length)
                .map_err(|e| PyValueError::new_err(e.to_string()))?,
            (Some(text), None) => {
                let text = text.str()?.to_string();
                text.parse::<IpNet>()
                    .map_err(|_| PyValueError::new_err(format!("invalid subnet: {text:?}")))?
            }
        };
        Ok(Subnet(net.trunc()))
    }

    /// The network address.
    fn network(&self) -> Address {
        Address(self.0.network())
    }

    /// The prefix length.
    fn length(&self) -> u8 {
        self.0.prefix_len()
    }

    /// Whether the address lies in this subnet.
    fn contains(&self, address: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.0.contains(&parse_address(address)?))
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self) -> String {
        format!("Subnet('{}')", self.0)
    }
}
