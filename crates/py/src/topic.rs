//! `broker.Topic`: a topic name with Broker's `/` join.

use broker_wire::Topic as WireTopic;
use pyo3::prelude::*;

/// `broker.Topic`: a topic such as `/zeek/events`.
#[pyclass(name = "Topic", module = "broker", frozen, eq, ord, hash)]
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PyTopic(pub WireTopic);

/// A topic from a `str` or a `broker.Topic`.
pub fn topic_from(value: &Bound<'_, PyAny>) -> PyResult<WireTopic> {
    match value.downcast::<PyTopic>() {
        Ok(topic) => Ok(topic.get().0.clone()),
        Err(_) => Ok(WireTopic::new(value.extract::<String>()?)),
    }
}

/// Topics from a `str`, a `Topic`, or any iterable of them.
pub fn topics_from(value: &Bound<'_, PyAny>) -> PyResult<Vec<WireTopic>> {
    if value.is_instance_of::<pyo3::types::PyString>() || value.is_instance_of::<PyTopic>() {
        return Ok(vec![topic_from(value)?]);
    }
    value.try_iter()?.map(|t| topic_from(&t?)).collect()
}

#[pymethods]
impl PyTopic {
    #[new]
    #[pyo3(signature = (name = String::new()))]
    fn new(name: String) -> Self {
        PyTopic(WireTopic::new(name))
    }

    /// The topic's name.
    fn string(&self) -> &str {
        self.0.as_str()
    }

    /// `a / b` joins; `a /= b` rebinds `a` to the join (topics are immutable).
    fn __truediv__(&self, other: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(PyTopic(&self.0 / &topic_from(other)?))
    }

    fn __str__(&self) -> &str {
        self.0.as_str()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Topic({})",
            pyo3::types::PyString::new(py, self.0.as_str()).repr()?
        ))
    }
}
