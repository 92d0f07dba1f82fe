//! The [`Backend`] trait: where a store's entries live.
//!
//! A backend is a plain map from keys to values with an optional absolute expiry per entry.
//! It knows nothing about Broker's operations (increment, push, ...): those are computed by
//! [`Store`](crate::Store) on top of `get` and `put`, so every backend shares one semantics.
//! Keys compare with [`Data`]'s equality, under which an IPv4-mapped IPv6 address equals the
//! IPv4 address; backends must honour that (see [`crate::encoding`]).

use broker_wire::data::Set;
use broker_wire::{Data, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// One stored entry: a key, its value and its absolute expiry, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The key.
    pub key: Data,
    /// The value.
    pub value: Data,
    /// When the entry expires; `None` means never.
    pub expiry: Option<Timestamp>,
}

/// Storage for one store's entries.
///
/// Contract shared by every method:
/// - Calls are sequential (`&mut self` for writes); a backend need not be `Sync`.
/// - A write that returns `Ok` is visible to every later read, and a persistent backend
///   has committed it (durable as far as its configuration promises).
/// - A write that returns `Err` changed nothing.
/// - Expiry is data, not behaviour: a backend never drops an entry on its own. Entries past
///   their expiry stay readable until [`Backend::erase`] removes them; the store decides
///   when (see [`Backend::expired`]).
pub trait Backend: Send + std::fmt::Debug {
    /// The value stored under `key`, or `None` when the key is absent.
    fn get(&self, key: &Data) -> Result<Option<Data>, StoreError>;

    /// The value and expiry stored under `key`, or `None` when the key is absent.
    fn get_entry(&self, key: &Data) -> Result<Option<Entry>, StoreError>;

    /// Stores `value` under `key` with `expiry`, replacing any previous value *and* expiry
    /// (`None` clears an existing expiry). Returns the previous value, if there was one.
    fn put(
        &mut self,
        key: Data,
        value: Data,
        expiry: Option<Timestamp>,
    ) -> Result<Option<Data>, StoreError>;

    /// Removes `key` and its expiry. Returns whether the key existed; erasing an absent key
    /// is not an error.
    fn erase(&mut self, key: &Data) -> Result<bool, StoreError>;

    /// Removes every entry.
    fn clear(&mut self) -> Result<(), StoreError>;

    /// Whether `key` is present.
    fn exists(&self, key: &Data) -> Result<bool, StoreError>;

    /// Every key, in Broker's total order.
    fn keys(&self) -> Result<Set, StoreError>;

    /// The number of entries.
    fn size(&self) -> Result<u64, StoreError>;

    /// The keys whose expiry is at or before `now`, earliest expiry first (ties in any
    /// order). Removes nothing.
    fn expired(&self, now: Timestamp) -> Result<Vec<Data>, StoreError>;

    /// The earliest expiry of any entry, or `None` when no entry expires; lets the owner
    /// schedule the next expiry check instead of polling.
    fn next_expiry(&self) -> Result<Option<Timestamp>, StoreError>;

    /// Every entry with its expiry, in Broker's total order of keys: a consistent copy of
    /// the whole store, as sent to a clone that attaches.
    fn snapshot(&self) -> Result<Vec<Entry>, StoreError>;
}
