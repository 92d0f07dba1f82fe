//! `broker.zeek`: `Event`, `SafeEvent` and `MetadataType`, Zeek events as Broker data with
//! the layout of [`broker_wire::zeek`].
//!
//! As in Broker, an event holds any data (`Event(data)` wraps a received message as is)
//! and `valid()` says whether it is an event; reading the name, arguments or metadata of
//! something that is not one raises `ValueError`.

use broker_wire::zeek::{Event as WireEvent, EventView, MetadataType};
use broker_wire::{Data, WireError};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple, PyType};

use crate::convert::{to_data, to_py, ToPy};
use crate::data::PyData;
use crate::values::Count;

/// `broker.zeek.Event`: `Event(name, *args, metadata=None)`, or `Event(data)` to wrap
/// received data.
#[pyclass(module = "broker.zeek", name = "Event", frozen, subclass)]
pub struct Event {
    data: Data,
}

impl Event {
    /// The event as the Broker data that travels.
    pub fn data(&self) -> &Data {
        &self.data
    }

    /// The event inside the data, or `ValueError` (Broker's) if the data is not one.
    fn view(&self) -> PyResult<EventView<'_>> {
        EventView::parse(&self.data).map_err(|e| match e {
            WireError::InvalidEvent(reason) => {
                PyValueError::new_err(format!("invalid Event data: {reason}"))
            }
            other => PyValueError::new_err(format!("invalid Event data: {other}")),
        })
    }

    /// The arguments as Python values, in `immutable` form for `SafeEvent`.
    fn args_as<'py>(&self, py: Python<'py>, immutable: bool) -> PyResult<Bound<'py, PyList>> {
        let mut convert = ToPy::new(py).immutable(immutable);
        let args = self.view()?.args.iter().map(|a| convert.value(a));
        PyList::new(py, args.collect::<PyResult<Vec<_>>>()?)
    }
}

#[pymethods]
impl Event {
    #[new]
    #[pyo3(signature = (*args, metadata=None))]
    fn new(args: &Bound<'_, PyTuple>, metadata: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let first = args.get_item(0)?;
        if args.len() == 1 && !first.is_instance_of::<PyString>() {
            // Broker ignores metadata here; refusing it loses nothing silently.
            if metadata.is_some() {
                return Err(PyTypeError::new_err(
                    "metadata= goes with Event(name, *args), not with Event(data)",
                ));
            }
            return Ok(Event {
                data: to_data(&first)?,
            });
        }
        let values = args.iter().skip(1).map(|a| to_data(&a));
        let mut event = WireEvent::new(event_name(&first)?, values.collect::<PyResult<_>>()?);
        if let Some(metadata) = metadata {
            event.metadata = metadata_entries(metadata)?;
        }
        Ok(Event {
            data: event.into_data(),
        })
    }

    /// The event's name.
    fn name(&self) -> PyResult<&str> {
        Ok(self.view()?.name)
    }

    /// The arguments as Python values.
    fn args<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.args_as(py, false)
    }

    /// The metadata as a list of `(Count(key), value)` tuples, or `None` without any.
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyList>>> {
        let view = self.view()?;
        if view.metadata.is_empty() {
            return Ok(None);
        }
        let entries = view.metadata().map(|(key, value)| {
            PyTuple::new(
                py,
                [Count::to_object(py, key)?.into_any(), to_py(py, value)?],
            )
        });
        Ok(Some(PyList::new(
            py,
            entries.collect::<PyResult<Vec<_>>>()?,
        )?))
    }

    /// Whether the data is a Zeek event, as Broker's `Event::valid()` decides.
    fn valid(&self) -> bool {
        self.view().is_ok()
    }

    /// The event as `broker.Data`.
    fn as_data(&self) -> PyData {
        PyData(self.data.clone())
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        Ok(format!("{}({})", slf.get_type().name()?, slf.get().data))
    }
}

/// `broker.zeek.SafeEvent`: an `Event` whose `args()` come out immutable and hashable, as
/// `ImmutableData.to_py` gives them (Broker's `SafeEvent`; `metadata()` is unchanged).
#[pyclass(module = "broker.zeek", name = "SafeEvent", extends = Event, frozen, subclass)]
pub struct SafeEvent;

#[pymethods]
impl SafeEvent {
    #[new]
    #[pyo3(signature = (*args, metadata=None))]
    fn new(
        args: &Bound<'_, PyTuple>,
        metadata: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyClassInitializer<Self>> {
        Ok(PyClassInitializer::from(Event::new(args, metadata)?).add_subclass(SafeEvent))
    }

    /// The arguments as immutable, hashable Python values.
    fn args<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyList>> {
        slf.as_super().get().args_as(slf.py(), true)
    }
}

/// An event name: a `str`, or UTF-8 `bytes` (Broker takes both).
fn event_name(name: &Bound<'_, PyAny>) -> PyResult<String> {
    match name.downcast::<PyBytes>() {
        Ok(bytes) => String::from_utf8(bytes.as_bytes().to_vec())
            .map_err(|_| PyValueError::new_err("event name is not UTF-8")),
        Err(_) => name.extract(),
    }
}

/// Metadata as Broker's `Event` takes it: a mapping or an iterable of `(key, value)`
/// pairs, each key a `Count` or what `Count()` accepts, each value any convertible value.
fn metadata_entries(metadata: &Bound<'_, PyAny>) -> PyResult<Vec<(u64, Data)>> {
    let entries = match metadata.downcast::<PyDict>() {
        Ok(dict) => dict.items().into_any(),
        Err(_) if metadata.hasattr("items")? => metadata.call_method0("items")?,
        Err(_) => metadata.clone(),
    };
    let count = metadata.py().get_type::<Count>();
    entries
        .try_iter()?
        .enumerate()
        .map(|(index, entry)| {
            let entry = entry?;
            let [key, value]: [Bound<'_, PyAny>; 2] = entry
                .try_iter()?
                .collect::<PyResult<Vec<_>>>()?
                .try_into()
                .map_err(|items: Vec<_>| {
                    PyValueError::new_err(format!(
                        "metadata entry #{index} is not a (key, value) pair: {} elements",
                        items.len()
                    ))
                })?;
            let key = match key.downcast::<Count>() {
                Ok(key) => key.get().value,
                Err(_) => count.call1((key,))?.downcast_into::<Count>()?.get().value,
            };
            Ok((key, to_data(&value)?))
        })
        .collect()
}

/// `broker.zeek.MetadataType`: the well-known metadata keys as `broker.Count` class
/// attributes, as Broker defines it (not an enum, so a key compares equal to the counts
/// `metadata()` gives).
fn metadata_type_class(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let attributes = PyDict::new(py);
    attributes.set_item("__module__", "broker.zeek")?;
    attributes.set_item("__doc__", "Well-known keys of event metadata.")?;
    for key in MetadataType::ALL {
        if let Some(name) = key.python_name() {
            attributes.set_item(name, Count::to_object(py, key.code().into())?)?;
        }
    }
    py.get_type::<PyType>()
        .call1(("MetadataType", PyTuple::empty(py), attributes))
}

/// Adds `Event`, `SafeEvent` and `MetadataType` to the native module.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Event>()?;
    module.add_class::<SafeEvent>()?;
    module.add("MetadataType", metadata_type_class(module.py())?)
}
