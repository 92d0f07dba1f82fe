//! [`MemoryBackend`]: entries in a hash map, with an ordered index of expiries.

use std::collections::{hash_map, BTreeSet, HashMap};

use foldhash::fast::RandomState;

use broker_wire::data::Set;
use broker_wire::{Data, Timestamp};

use crate::backend::{Backend, Entry};
use crate::error::StoreError;

/// A value and its expiry, as held in the map.
#[derive(Debug, Clone)]
struct Stored {
    value: Data,
    expiry: Option<Timestamp>,
}

/// A backend holding everything in memory; its contents vanish with it.
///
/// Lookups and writes are O(1) (hashing the key); entries with an expiry are also indexed
/// by `(expiry, key)` so finding due entries never scans the whole map. Keys are hashed
/// with foldhash, seeded per map: several times cheaper than SipHash on short keys (every
/// put on a master and every change on a clone hashes one), and still not predictable
/// by a peer choosing keys.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    entries: HashMap<Data, Stored, RandomState>,
    /// `(expiry, key)` for every entry that has an expiry; kept in step with `entries`.
    expiries: BTreeSet<(Timestamp, Data)>,
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops `key`'s expiry from the index, if it had one.
    fn unindex(&mut self, key: &Data, expiry: Option<Timestamp>) {
        if let Some(at) = expiry {
            // The index owns its keys, so removal needs an owned tuple.
            self.expiries.remove(&(at, key.clone()));
        }
    }
}

impl Backend for MemoryBackend {
    fn get(&self, key: &Data) -> Result<Option<Data>, StoreError> {
        Ok(self.entries.get(key).map(|s| s.value.clone()))
    }

    fn get_entry(&self, key: &Data) -> Result<Option<Entry>, StoreError> {
        Ok(self.entries.get(key).map(|s| Entry {
            key: key.clone(),
            value: s.value.clone(),
            expiry: s.expiry,
        }))
    }

    fn put(
        &mut self,
        key: Data,
        value: Data,
        expiry: Option<Timestamp>,
    ) -> Result<Option<Data>, StoreError> {
        match self.entries.entry(key) {
            hash_map::Entry::Occupied(mut slot) => {
                let old_expiry = slot.get().expiry;
                if old_expiry != expiry {
                    if let Some(at) = old_expiry {
                        self.expiries.remove(&(at, slot.key().clone()));
                    }
                    if let Some(at) = expiry {
                        self.expiries.insert((at, slot.key().clone()));
                    }
                }
                let stored = slot.get_mut();
                stored.expiry = expiry;
                Ok(Some(std::mem::replace(&mut stored.value, value)))
            }
            hash_map::Entry::Vacant(slot) => {
                if let Some(at) = expiry {
                    self.expiries.insert((at, slot.key().clone()));
                }
                slot.insert(Stored { value, expiry });
                Ok(None)
            }
        }
    }

    fn erase(&mut self, key: &Data) -> Result<bool, StoreError> {
        match self.entries.remove(key) {
            Some(old) => {
                self.unindex(key, old.expiry);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn clear(&mut self) -> Result<(), StoreError> {
        self.entries.clear();
        self.expiries.clear();
        Ok(())
    }

    fn exists(&self, key: &Data) -> Result<bool, StoreError> {
        Ok(self.entries.contains_key(key))
    }

    fn keys(&self) -> Result<Set, StoreError> {
        Ok(self.entries.keys().cloned().collect())
    }

    fn size(&self) -> Result<u64, StoreError> {
        Ok(self.entries.len() as u64)
    }

    fn expired(&self, now: Timestamp) -> Result<Vec<Data>, StoreError> {
        Ok(self
            .expiries
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, key)| key.clone())
            .collect())
    }

    fn next_expiry(&self) -> Result<Option<Timestamp>, StoreError> {
        Ok(self.expiries.first().map(|(at, _)| *at))
    }

    fn snapshot(&self) -> Result<Vec<Entry>, StoreError> {
        let mut entries: Vec<Entry> = self
            .entries
            .iter()
            .map(|(key, s)| Entry {
                key: key.clone(),
                value: s.value.clone(),
                expiry: s.expiry,
            })
            .collect();
        entries.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        Ok(entries)
    }
}
