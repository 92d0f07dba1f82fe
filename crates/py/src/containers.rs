//! Container wrappers: Broker's `Set`, `Table` and `Vector` holding Broker values
//! (elements go in as any convertible value and come out as `broker._broker.Data`, the
//! base class of `broker.Data`, as in Broker), and [`FrozenTable`], the hashable
//! read-only form of a received table.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::hash::{Hash, Hasher};

use broker_wire::Data;
use pyo3::exceptions::{PyIndexError, PyKeyError, PyTypeError, PyValueError};
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

    /// Hashable like Broker's `Table`; by content, consistent with `==` (so a table
    /// changed while in a set is lost there, as with any mutable key).
    fn __hash__(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        self.0.hash(&mut hasher);
        hasher.finish()
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

/// `broker.FrozenTable`: a table in hashable read-only form, Broker's
/// `ImmutableData.HashableReadOnlyDict`: a `dict` (so it compares equal to the `dict`
/// with the same items) whose mutators raise `TypeError`, hashed like the `frozenset` of
/// its items. Received tables come out in this form where Python needs a hashable value
/// (an element of a set, a key of a table) and everywhere from a safe subscriber.
#[pyclass(module = "broker", extends = PyDict, frozen)]
pub struct FrozenTable;

impl FrozenTable {
    /// A new empty one, to fill from Rust: `PyDict::set_item` is the C-level insertion,
    /// which the read-only Python methods do not guard.
    pub fn empty(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
        Ok(Bound::new(py, FrozenTable)?.into_any().downcast_into()?)
    }
}

/// `dict.<method>(table, other)`: `NotImplemented` unless `other` is a `dict`.
fn dict_compare<'py>(
    table: &Bound<'py, FrozenTable>,
    other: &Bound<'py, PyAny>,
    method: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let dict_type = table.py().get_type::<PyDict>();
    dict_type.getattr(method)?.call1((table, other))
}

fn read_only() -> PyErr {
    PyTypeError::new_err("cannot modify a FrozenTable")
}

#[pymethods]
impl FrozenTable {
    /// `FrozenTable(mapping_or_pairs)`: `dict.__init__` fills it (mutators below are
    /// Python-level only).
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        FrozenTable
    }

    fn __setitem__(&self, _key: &Bound<'_, PyAny>, _value: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(read_only())
    }

    fn __delitem__(&self, _key: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(read_only())
    }

    fn __ior__(&self, _other: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(read_only())
    }

    /// Raises `TypeError`: read-only.
    #[pyo3(signature = (*_args))]
    fn pop(&self, _args: &Bound<'_, PyTuple>) -> PyResult<()> {
        Err(read_only())
    }

    /// Raises `TypeError`: read-only.
    fn popitem(&self) -> PyResult<()> {
        Err(read_only())
    }

    /// Raises `TypeError`: read-only.
    fn clear(&self) -> PyResult<()> {
        Err(read_only())
    }

    /// Raises `TypeError`: read-only.
    #[pyo3(signature = (*_args, **_kwargs))]
    fn update(
        &self,
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        Err(read_only())
    }

    /// Raises `TypeError`: read-only.
    #[pyo3(signature = (*_args))]
    fn setdefault(&self, _args: &Bound<'_, PyTuple>) -> PyResult<()> {
        Err(read_only())
    }

    // Equality is `dict`'s, called explicitly: a pyclass's own comparison slot would
    // otherwise compare two `FrozenTable`s by identity.
    fn __eq__<'py>(
        slf: &Bound<'py, Self>,
        other: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        dict_compare(slf, other, "__eq__")
    }

    fn __ne__<'py>(
        slf: &Bound<'py, Self>,
        other: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        dict_compare(slf, other, "__ne__")
    }

    fn __hash__(slf: &Bound<'_, Self>) -> PyResult<isize> {
        let items = slf.as_super().items();
        PyFrozenSet::new(slf.py(), items.iter())?.hash()
    }

    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let py = slf.py();
        let class = slf.get_type().into_any();
        Ok((class, PyTuple::new(py, [slf.as_super().copy()?])?))
    }
}
