//! `broker.zeek.Event`: a Zeek event as Broker data.
//!
//! On the wire an event is the vector `(1, 1, (name, (args...)))`: format version 1,
//! message type Event (1).

use broker_wire::Data;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use crate::convert::{to_data, to_py};
use crate::data::PyData;

/// Version of Zeek's message format.
const FORMAT_VERSION: u64 = 1;
/// Zeek message type of an event.
const EVENT_TYPE: u64 = 1;

/// `broker.zeek.Event`: `Event(name, *args)` or `Event(data)` to parse received data.
#[pyclass(module = "broker.zeek", name = "Event", frozen, subclass)]
pub struct Event {
    data: Data,
}

impl Event {
    /// The event as the Broker data that travels.
    pub fn data(&self) -> &Data {
        &self.data
    }

    /// The name and arguments, if the data has the layout of an event.
    fn parts(&self) -> Option<(&str, &[Data])> {
        let [version, kind, content] = self.data.as_vector()?.as_slice() else {
            return None;
        };
        if version.as_count()? != FORMAT_VERSION || kind.as_count()? != EVENT_TYPE {
            return None;
        }
        let [name, args] = content.as_vector()?.as_slice() else {
            return None;
        };
        Some((name.as_str()?, args.as_vector()?))
    }
}

#[pymethods]
impl Event {
    #[new]
    #[pyo3(signature = (*args))]
    fn new(args: &Bound<'_, PyTuple>) -> PyResult<Self> {
        let first = args.get_item(0)?;
        if args.len() == 1 && !first.is_instance_of::<PyString>() {
            return Ok(Event {
                data: to_data(&first)?,
            });
        }
        let name = Data::String(first.extract::<String>()?.into_bytes());
        let values = args
            .iter()
            .skip(1)
            .map(|a| to_data(&a))
            .collect::<PyResult<Vec<_>>>()?;
        let content = Data::Vector(vec![name, Data::Vector(values)]);
        let data = Data::Vector(vec![
            Data::Count(FORMAT_VERSION),
            Data::Count(EVENT_TYPE),
            content,
        ]);
        Ok(Event { data })
    }

    /// The event's name (empty if the data is not an event).
    fn name(&self) -> &str {
        self.parts().map_or("", |(name, _)| name)
    }

    /// The arguments as Python values (empty if the data is not an event).
    fn args<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let args = self.parts().map_or(&[][..], |(_, args)| args);
        PyList::new(
            py,
            args.iter()
                .map(|a| to_py(py, a))
                .collect::<PyResult<Vec<_>>>()?,
        )
    }

    /// Whether the data has the layout of a Zeek event.
    fn valid(&self) -> bool {
        self.parts().is_some()
    }

    /// The event as `broker.Data`.
    fn as_data(&self) -> PyData {
        PyData(self.data.clone())
    }

    fn __repr__(&self) -> String {
        format!("Event({})", self.data)
    }
}
