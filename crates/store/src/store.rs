//! [`Store`]: Broker's store operations over any [`Backend`].

use std::collections::BTreeMap;

use broker_wire::data::{DataType, Set};
use broker_wire::{Data, Timespan, Timestamp};

pub use broker_wire::codes::BackendType;

use crate::backend::{Backend, Entry};
use crate::error::StoreError;
use crate::memory::MemoryBackend;
use crate::operation::{Change, Operation};
use crate::semantics::{self, Outcome, Refusal};
use crate::sqlite::{SqliteBackend, SqliteOptions};

/// Opens a backend of type `kind` configured by Broker's option map (only SQLite reads
/// options; see [`SqliteOptions::from_options`]).
pub fn open_backend(
    kind: BackendType,
    options: &BTreeMap<String, Data>,
) -> Result<Box<dyn Backend>, StoreError> {
    match kind {
        BackendType::Memory => Ok(Box::new(MemoryBackend::new())),
        BackendType::Sqlite => Ok(Box::new(SqliteBackend::open(
            &SqliteOptions::from_options(options)?,
        )?)),
        BackendType::RocksDb => Err(StoreError::UnsupportedBackend("RocksDB".into())),
    }
}

/// A replica's contents and Broker's operations on them.
///
/// Time is an argument (`now`), never read from a clock, so expiry is deterministic and
/// testable. A master calls [`Store::apply`] for each requested [`Operation`] and
/// [`Store::expire_due`] when the next expiry comes; a clone calls [`Store::apply_change`]
/// with the master's [`Change`]s and never expires on its own.
#[derive(Debug)]
pub struct Store {
    backend: Box<dyn Backend>,
}

impl Store {
    /// A store over `backend`, serving whatever it already holds.
    pub fn new(backend: Box<dyn Backend>) -> Self {
        Store { backend }
    }

    /// An empty store in memory.
    pub fn in_memory() -> Self {
        Store::new(Box::new(MemoryBackend::new()))
    }

    /// Applies `op` at time `now` and returns the resulting change: `None` only for a
    /// [`Operation::PutUnique`] whose key existed (so `Some` means "inserted"). On error
    /// nothing changed.
    pub fn apply(&mut self, op: Operation, now: Timestamp) -> Result<Option<Change>, StoreError> {
        let name = op.name();
        let change = match op {
            Operation::Put { key, value, expiry } => self.put(key, value, deadline(now, expiry))?,
            Operation::PutUnique { key, value, expiry } => {
                if self.backend.exists(&key)? {
                    return Ok(None);
                }
                self.put(key, value, deadline(now, expiry))?
            }
            Operation::Erase { key } => {
                self.backend.erase(&key)?;
                Change::Erase { key }
            }
            Operation::Clear => {
                let keys = self.backend.keys()?.into_iter().collect();
                self.backend.clear()?;
                Change::Clear { keys }
            }
            Operation::Increment {
                key,
                amount,
                expiry,
            } => self.modify(name, key, Some(&amount), deadline(now, expiry), |current| {
                semantics::increment(current, &amount)
            })?,
            Operation::Decrement {
                key,
                amount,
                expiry,
            } => self.modify(name, key, Some(&amount), deadline(now, expiry), |current| {
                semantics::decrement(current, &amount)
            })?,
            Operation::Append {
                key,
                suffix,
                expiry,
            } => self.modify(name, key, Some(&suffix), deadline(now, expiry), |current| {
                semantics::append(current, &suffix)
            })?,
            Operation::InsertInto {
                key,
                index,
                value,
                expiry,
            } => self.modify(name, key, None, deadline(now, expiry), |current| {
                semantics::insert_into(current, index, value)
            })?,
            Operation::RemoveFrom { key, index, expiry } => {
                self.modify(name, key, None, deadline(now, expiry), |current| {
                    semantics::remove_from(current, &index)
                })?
            }
            Operation::Push { key, value, expiry } => {
                self.modify(name, key, None, deadline(now, expiry), |current| {
                    semantics::push(current, value)
                })?
            }
            Operation::Pop { key, expiry } => {
                self.modify(name, key, None, deadline(now, expiry), semantics::pop)?
            }
        };
        Ok(Some(change))
    }

    /// Replays a change made by the master. Expiries are stored as given, but a clone
    /// does not act on them: it waits for the master's [`Change::Expire`].
    pub fn apply_change(&mut self, change: &Change) -> Result<(), StoreError> {
        match change {
            Change::Insert { key, value, expiry }
            | Change::Update {
                key,
                new: value,
                expiry,
                ..
            } => {
                self.backend.put(key.clone(), value.clone(), *expiry)?;
            }
            Change::Erase { key } | Change::Expire { key } => {
                self.backend.erase(key)?;
            }
            Change::Clear { .. } => self.backend.clear()?,
        }
        Ok(())
    }

    /// Removes every entry whose expiry is at or before `now` and returns one
    /// [`Change::Expire`] per entry, earliest first.
    pub fn expire_due(&mut self, now: Timestamp) -> Result<Vec<Change>, StoreError> {
        let due = self.backend.expired(now)?;
        let mut changes = Vec::with_capacity(due.len());
        for key in due {
            self.backend.erase(&key)?;
            changes.push(Change::Expire { key });
        }
        Ok(changes)
    }

    /// The earliest expiry of any entry: when [`Store::expire_due`] next has work.
    pub fn next_expiry(&self) -> Result<Option<Timestamp>, StoreError> {
        self.backend.next_expiry()
    }

    /// Replaces the contents with `entries`, as a clone does with the master's snapshot.
    pub fn load_snapshot(&mut self, entries: Vec<Entry>) -> Result<(), StoreError> {
        self.backend.clear()?;
        for entry in entries {
            self.backend.put(entry.key, entry.value, entry.expiry)?;
        }
        Ok(())
    }

    /// Every entry with its expiry, in key order.
    pub fn snapshot(&self) -> Result<Vec<Entry>, StoreError> {
        self.backend.snapshot()
    }

    /// The value under `key`, or `None`.
    pub fn get(&self, key: &Data) -> Result<Option<Data>, StoreError> {
        self.backend.get(key)
    }

    /// The value and expiry under `key`, or `None`.
    pub fn get_entry(&self, key: &Data) -> Result<Option<Entry>, StoreError> {
        self.backend.get_entry(key)
    }

    /// Whether `key` exists.
    pub fn exists(&self, key: &Data) -> Result<bool, StoreError> {
        self.backend.exists(key)
    }

    /// Every key, in Broker's order.
    pub fn keys(&self) -> Result<Set, StoreError> {
        self.backend.keys()
    }

    /// The number of entries.
    pub fn size(&self) -> Result<u64, StoreError> {
        self.backend.size()
    }

    /// What `index` designates in the value under `key`: for a set, whether it contains
    /// `index` (a boolean); for a table, the value under `index`; for a vector, the
    /// element at position `index` (a count or non-negative integer). A missing key,
    /// table key or position is [`StoreError::NoSuchKey`]; any other value type, or a
    /// vector index of another type, is a [`StoreError::TypeClash`] (Broker 1.4 instead
    /// answers a non-container value with the value itself).
    pub fn get_index_from_value(&self, key: &Data, index: &Data) -> Result<Data, StoreError> {
        let value = self
            .backend
            .get(key)?
            .ok_or_else(|| StoreError::NoSuchKey { key: key.clone() })?;
        semantics::index_of(&value, index).map_err(|refusal| {
            let (stored, operand) = (value.data_type(), index.data_type());
            refusal_error(
                refusal,
                "get_index_from_value",
                key,
                Some(stored),
                Some(operand),
            )
        })
    }

    /// Stores `value` under `key` and reports an insert or an update.
    fn put(
        &mut self,
        key: Data,
        value: Data,
        expiry: Option<Timestamp>,
    ) -> Result<Change, StoreError> {
        let old = self.backend.put(key.clone(), value.clone(), expiry)?;
        Ok(match old {
            None => Change::Insert { key, value, expiry },
            Some(old) => Change::Update {
                key,
                old,
                new: value,
                expiry,
            },
        })
    }

    /// Replaces the value under `key` by `compute(current)`, with `expiry`.
    fn modify(
        &mut self,
        op: &'static str,
        key: Data,
        operand: Option<&Data>,
        expiry: Option<Timestamp>,
        compute: impl FnOnce(Option<Data>) -> Outcome,
    ) -> Result<Change, StoreError> {
        let current = self.backend.get(&key)?;
        let stored = current.as_ref().map(Data::data_type);
        // The old value for the change comes back from `put`; no copy is kept here.
        let new = compute(current).map_err(|refusal| {
            refusal_error(refusal, op, &key, stored, operand.map(Data::data_type))
        })?;
        self.put(key, new, expiry)
    }
}

/// The absolute expiry of an entry written at `now` with time to live `ttl`.
fn deadline(now: Timestamp, ttl: Option<Timespan>) -> Option<Timestamp> {
    ttl.map(|span| Timestamp(now.0.saturating_add(span.0)))
}

/// The error for an operation refused on `key`.
fn refusal_error(
    refusal: Refusal,
    op: &'static str,
    key: &Data,
    stored: Option<DataType>,
    operand: Option<DataType>,
) -> StoreError {
    match refusal {
        Refusal::NoSuchKey => StoreError::NoSuchKey { key: key.clone() },
        Refusal::TypeClash => StoreError::TypeClash {
            op,
            key: key.clone(),
            stored,
            operand,
        },
    }
}
