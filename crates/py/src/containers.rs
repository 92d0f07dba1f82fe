//! Container wrappers: Broker's `Set`, `Table` and `Vector` holding Broker values
//! (elements go in as any convertible value and come out as `broker.Data`), and
//! [`FrozenTable`], the hashable read-only form of a received table.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use broker_wire::Data;
use pyo3::exceptions::{PyIndexError, PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFrozenSet, PyIterator, PyList, PyTuple};

use crate::convert::to_data;
use crate::data::PyData;

fn wrap(data: &Data) -> PyData {
    PyData(data.clone())
}

fn joined<'a>(items: impl Iterator<Item = String> + 'a) -> String {
    let mut out = String::new();
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{item}");
    }
    out
}

fn elements(iterable: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<Data>> {
    match iterable {
        None => Ok(Vec::new()),
        Some(items) => items.try_iter()?.map(|x| to_data(&x?)).collect(),
    }
}

/// `broker.Set`: an ordered set of Broker values.
#[pyclass(module = "broker", eq)]
#[derive(Clone, PartialEq)]
pub struct Set(pub BTreeSet<Data>);

#[pymethods]
impl Set {
    #[new]
    #[pyo3(signature = (items = None))]
    fn new(items: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        Ok(Set(elements(items)?.into_iter().collect()))
    }

    /// Adds a value; returns whether it was new.
    fn add(&mut self, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.0.insert(to_data(value)?))
    }

    /// Removes a value; returns whether it was present.
    fn remove(&mut self, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.0.remove(&to_data(value)?))
    }

    /// Removes every value.
    fn clear(&mut self) {
        self.0.clear();
    }

    fn __len__(&self) -> usize {
        self.0.len()
    }

    fn __contains__(&self, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.0.contains(&to_data(value)?))
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyIterator>> {
        let items = self.0.iter().map(wrap).collect::<Vec<_>>();
        PyList::new(py, items)?.try_iter()
    }

    fn __str__(&self) -> String {
        format!("Set{{{}}}", joined(self.0.iter().map(Data::to_string)))
    }

    fn __repr__(&self) -> String {
        self.__str__()
    }
}

/// `broker.Table`: an ordered map of Broker values.
#[pyclass(module = "broker", eq)]
#[derive(Clone, PartialEq)]
pub struct Table(pub BTreeMap<Data, Data>);

#[pymethods]
impl Table {
    #[new]
    #[pyo3(signature = (items = None))]
    fn new(items: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let mut table = BTreeMap::new();
        if let Some(items) = items {
            let pairs = match items.downcast::<PyDict>() {
                Ok(dict) => dict.items().into_any(),
                Err(_) => items.clone(),
            };
            for pair in pairs.try_iter()? {
                let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = pair?.extract()?;
                table.insert(to_data(&k)?, to_data(&v)?);
            }
        }
        Ok(Table(table))
    }

    /// The keys, as `Data`.
    fn keys(&self) -> Vec<PyData> {
        self.0.keys().map(wrap).collect()
    }

    /// The values, as `Data`.
    fn values(&self) -> Vec<PyData> {
        self.0.values().map(wrap).collect()
    }

    /// The `(key, value)` pairs, as `Data`.
    fn items(&self) -> Vec<(PyData, PyData)> {
        self.0.iter().map(|(k, v)| (wrap(k), wrap(v))).collect()
    }

    fn __len__(&self) -> usize {
        self.0.len()
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.0.contains_key(&to_data(key)?))
    }

    fn __getitem__(&self, key: &Bound<'_, PyAny>) -> PyResult<PyData> {
        self.0
            .get(&to_data(key)?)
            .map(wrap)
            .ok_or_else(|| PyKeyError::new_err(key.clone().unbind()))
    }

    fn __setitem__(&mut self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.0.insert(to_data(key)?, to_data(value)?);
        Ok(())
    }

    fn __delitem__(&mut self, key: &Bound<'_, PyAny>) -> PyResult<()> {
        match self.0.remove(&to_data(key)?) {
            Some(_) => Ok(()),
            None => Err(PyKeyError::new_err(key.clone().unbind())),
        }
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyIterator>> {
        PyList::new(py, self.keys())?.try_iter()
    }

    fn __str__(&self) -> String {
        format!(
            "Table{{{}}}",
            joined(self.0.iter().map(|(k, v)| format!("{k}: {v}")))
        )
    }

    fn __repr__(&self) -> String {
        self.__str__()
    }
}

/// `broker.Vector`: a sequence of Broker values.
#[pyclass(module = "broker", eq)]
#[derive(Clone, PartialEq)]
pub struct Vector(pub Vec<Data>);

impl Vector {
    /// Resolves a Python index (negative counts from the end).
    fn position(&self, index: isize) -> PyResult<usize> {
        let len = self.0.len() as isize;
        let resolved = if index < 0 { index + len } else { index };
        if (0..len).contains(&resolved) {
            Ok(resolved as usize)
        } else {
            Err(PyIndexError::new_err("vector index out of range"))
        }
    }
}

#[pymethods]
impl Vector {
    #[new]
    #[pyo3(signature = (items = None))]
    fn new(items: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        Ok(Vector(elements(items)?))
    }

    /// Appends a value.
    fn append(&mut self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.0.push(to_data(value)?);
        Ok(())
    }

    /// Appends every value of an iterable.
    fn extend(&mut self, values: &Bound<'_, PyAny>) -> PyResult<()> {
        self.0.extend(elements(Some(values))?);
        Ok(())
    }

    /// Inserts a value before `index` (clamped like `list.insert`).
    fn insert(&mut self, index: isize, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let len = self.0.len() as isize;
        let at = if index < 0 {
            (index + len).max(0)
        } else {
            index.min(len)
        };
        self.0.insert(at as usize, to_data(value)?);
        Ok(())
    }

    /// Removes and returns the value at `index` (the last by default).
    #[pyo3(signature = (index = -1))]
    fn pop(&mut self, index: isize) -> PyResult<PyData> {
        let at = self.position(index)?;
        Ok(PyData(self.0.remove(at)))
    }

    /// Removes the first occurrence of a value.
    fn remove(&mut self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = to_data(value)?;
        match self.0.iter().position(|x| *x == value) {
            Some(at) => {
                self.0.remove(at);
                Ok(())
            }
            None => Err(PyValueError::new_err("Vector.remove(x): x not in vector")),
        }
    }

    /// Number of occurrences of a value.
    fn count(&self, value: &Bound<'_, PyAny>) -> PyResult<usize> {
        let value = to_data(value)?;
        Ok(self.0.iter().filter(|x| **x == value).count())
    }

    /// Removes every value.
    fn clear(&mut self) {
        self.0.clear();
    }

    fn __len__(&self) -> usize {
        self.0.len()
    }

    fn __getitem__(&self, index: isize) -> PyResult<PyData> {
        Ok(wrap(&self.0[self.position(index)?]))
    }

    fn __setitem__(&mut self, index: isize, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let at = self.position(index)?;
        self.0[at] = to_data(value)?;
        Ok(())
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyIterator>> {
        PyList::new(py, self.0.iter().map(wrap).collect::<Vec<_>>())?.try_iter()
    }

    fn __str__(&self) -> String {
        format!("Vector[{}]", joined(self.0.iter().map(Data::to_string)))
    }

    fn __repr__(&self) -> String {
        self.__str__()
    }
}

/// `broker.FrozenTable`: a received table that had to be hashable (an element of a set
/// or a key of a table). A read-only mapping that compares equal to the `dict` with the
/// same items.
#[pyclass(module = "broker", frozen, mapping)]
pub struct FrozenTable {
    /// The items, converted in hashable form.
    pub dict: Py<PyDict>,
}

#[pymethods]
impl FrozenTable {
    #[new]
    #[pyo3(signature = (items = None))]
    fn new(py: Python<'_>, items: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let dict = PyDict::new(py);
        if let Some(items) = items {
            dict.call_method1("update", (items,))?;
        }
        Ok(FrozenTable {
            dict: dict.unbind(),
        })
    }

    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.dict.bind(py).as_any().get_item(key)
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.dict.bind(py).len()
    }

    fn __contains__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.dict.bind(py).contains(key)
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyIterator>> {
        self.dict.bind(py).as_any().try_iter()
    }

    /// The value for `key`, or `default`.
    #[pyo3(signature = (key, default = None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        Ok(self.dict.bind(py).get_item(key)?.or(default))
    }

    /// A view of the keys.
    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.dict.bind(py).call_method0("keys")
    }

    /// A view of the values.
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.dict.bind(py).call_method0("values")
    }

    /// A view of the `(key, value)` pairs.
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.dict.bind(py).call_method0("items")
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let mine = self.dict.bind(py);
        if let Ok(other) = other.downcast::<FrozenTable>() {
            return mine.eq(other.get().dict.bind(py));
        }
        if other.downcast::<PyDict>().is_ok() {
            return mine.eq(other);
        }
        Ok(false)
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        let items = self.dict.bind(py).items();
        PyFrozenSet::new(py, items.iter())?.hash()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("FrozenTable({})", self.dict.bind(py).repr()?))
    }

    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let class = py.get_type::<FrozenTable>().into_any();
        Ok((class, PyTuple::new(py, [self.dict.bind(py).copy()?])?))
    }
}
