//! `broker.zeek.Event`: a Zeek event as Broker data, with the layout of
//! [`broker_wire::zeek`].

use broker_wire::zeek::{Event as WireEvent, EventView};
use broker_wire::Data;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use crate::convert::{to_data, to_py};
use crate::data::PyData;

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

    /// The event inside the data, if the data is one.
    fn view(&self) -> Option<EventView<'_>> {
        EventView::parse(&self.data).ok()
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
        let name = first.extract::<String>()?;
        let values = args
            .iter()
            .skip(1)
            .map(|a| to_data(&a))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(Event {
            data: WireEvent::new(name, values).into_data(),
        })
    }

    /// The event's name (empty if the data is not an event).
    fn name(&self) -> &str {
        self.view().map_or("", |view| view.name)
    }

    /// The arguments as Python values (empty if the data is not an event).
    fn args<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let args = self.view().map_or(&[][..], |view| view.args);
        PyList::new(
            py,
            args.iter()
                .map(|a| to_py(py, a))
                .collect::<PyResult<Vec<_>>>()?,
        )
    }

    /// Whether the data has the layout of a Zeek event (metadata included).
    fn valid(&self) -> bool {
        self.view().is_some()
    }

    /// The event as `broker.Data`.
    fn as_data(&self) -> PyData {
        PyData(self.data.clone())
    }

    fn __repr__(&self) -> String {
        format!("Event({})", self.data)
    }
}
