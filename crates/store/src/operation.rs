//! What travels between replicas: [`Operation`]s (requested writes, clone → master) and
//! [`Change`]s (applied writes, master → clones and store events).

use broker_wire::{Data, Timespan, Timestamp};
use serde::{Deserialize, Serialize};

/// A write requested of a store, applied by the master with
/// [`Store::apply`](crate::Store::apply).
///
/// Every variant with an `expiry` replaces the entry's expiry on success: `Some(span)` makes
/// the entry expire `span` after the master applies it, `None` clears any existing expiry
/// (Broker 1.4 does the same). The expiry is relative so that clocks of a clone and its
/// master need not agree. An operation that fails changes nothing, expiry included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Operation {
    /// Stores `value` under `key`, inserting or replacing.
    Put {
        /// The key.
        key: Data,
        /// The new value.
        value: Data,
        /// Time to live.
        expiry: Option<Timespan>,
    },
    /// Stores `value` under `key` only if the key is absent; the caller learns which
    /// happened from whether a [`Change`] results.
    PutUnique {
        /// The key.
        key: Data,
        /// The value to insert.
        value: Data,
        /// Time to live, applied only if inserted.
        expiry: Option<Timespan>,
    },
    /// Removes `key`; erasing an absent key succeeds and still yields an erase change, as
    /// in Broker 1.4.
    Erase {
        /// The key.
        key: Data,
    },
    /// Removes every entry.
    Clear,
    /// Adds `amount`: count + count, integer + integer, real + real, timespan + timespan,
    /// timestamp + timespan. A missing key is created from the amount, except that a
    /// timespan creates the timestamp `epoch + amount` (as Broker 1.4 does). Counts and
    /// integers wrap on overflow like Broker's C++ arithmetic. Any other pairing, including
    /// integer + count, is a type clash.
    Increment {
        /// The key.
        key: Data,
        /// What to add.
        amount: Data,
        /// Time to live.
        expiry: Option<Timespan>,
    },
    /// Subtracts `amount`, with the pairings of [`Operation::Increment`]; like increment,
    /// a missing key starts from zero (the spec; Broker 1.4 refuses it with `NoSuchKey`).
    /// Counts wrap below zero (Broker 1.4: `3 - 5` gives `2^64 - 2`).
    Decrement {
        /// The key.
        key: Data,
        /// What to subtract.
        amount: Data,
        /// Time to live.
        expiry: Option<Timespan>,
    },
    /// Appends the string `suffix` to a string; a missing key becomes `suffix`.
    /// Broker 1.4 also "appends" to vectors (pushing) and sets (inserting); here anything
    /// but a string is a type clash.
    Append {
        /// The key.
        key: Data,
        /// The string to append; another type is a type clash.
        suffix: Data,
        /// Time to live.
        expiry: Option<Timespan>,
    },
    /// With `value: None`, adds `index` to a set; with `Some(value)`, maps `index` to
    /// `value` in a table (replacing). A missing key becomes a one-element set or table.
    /// Broker 1.4 inserts the pair `(index, value)` as one element when the key holds a
    /// set; here a set with a value, or a table without one, is a type clash.
    InsertInto {
        /// The key.
        key: Data,
        /// The set element or table key.
        index: Data,
        /// The table value, or `None` for a set.
        value: Option<Data>,
        /// Time to live.
        expiry: Option<Timespan>,
    },
    /// Removes `index` from a set, or the entry keyed `index` from a table; removing an
    /// absent element succeeds. A missing key is `NoSuchKey`. Broker 1.4 pops the last
    /// element of a vector whatever the index; here a vector is a type clash.
    RemoveFrom {
        /// The key.
        key: Data,
        /// The element or table key to remove.
        index: Data,
        /// Time to live.
        expiry: Option<Timespan>,
    },
    /// Appends `value` to a vector; a missing key becomes a one-element vector.
    /// Broker 1.4 adds instead when the key holds a number; here that is a type clash.
    Push {
        /// The key.
        key: Data,
        /// The element to append.
        value: Data,
        /// Time to live.
        expiry: Option<Timespan>,
    },
    /// Removes the last element of a vector; popping an empty vector succeeds and changes
    /// nothing but the expiry (as in Broker 1.4). A missing key is `NoSuchKey`.
    Pop {
        /// The key.
        key: Data,
        /// Time to live.
        expiry: Option<Timespan>,
    },
}

impl Operation {
    /// The operation's name in Broker's API, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Put { .. } => "put",
            Operation::PutUnique { .. } => "put_unique",
            Operation::Erase { .. } => "erase",
            Operation::Clear => "clear",
            Operation::Increment { .. } => "increment",
            Operation::Decrement { .. } => "decrement",
            Operation::Append { .. } => "append",
            Operation::InsertInto { .. } => "insert_into",
            Operation::RemoveFrom { .. } => "remove_from",
            Operation::Push { .. } => "push",
            Operation::Pop { .. } => "pop",
        }
    }

    /// The key the operation addresses; `None` for [`Operation::Clear`].
    pub fn key(&self) -> Option<&Data> {
        match self {
            Operation::Clear => None,
            Operation::Put { key, .. }
            | Operation::PutUnique { key, .. }
            | Operation::Erase { key }
            | Operation::Increment { key, .. }
            | Operation::Decrement { key, .. }
            | Operation::Append { key, .. }
            | Operation::InsertInto { key, .. }
            | Operation::RemoveFrom { key, .. }
            | Operation::Push { key, .. }
            | Operation::Pop { key, .. } => Some(key),
        }
    }
}

/// A write as applied by the master: what clones replay with
/// [`Store::apply_change`](crate::Store::apply_change) and what store events report.
/// Expiries are absolute, on the master's clock. (Broker 1.4's store events show the
/// relative expiry the request carried — `expiry - now` at the master.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// `key` did not exist and now holds `value` (event `"insert"`).
    Insert {
        /// The key.
        key: Data,
        /// The new value.
        value: Data,
        /// When the entry expires.
        expiry: Option<Timestamp>,
    },
    /// `key` held `old` and now holds `new`, possibly equal to `old` (event `"update"`).
    Update {
        /// The key.
        key: Data,
        /// The previous value.
        old: Data,
        /// The new value.
        new: Data,
        /// When the entry expires.
        expiry: Option<Timestamp>,
    },
    /// `key` was erased by request; it may not have existed (event `"erase"`).
    Erase {
        /// The key.
        key: Data,
    },
    /// `key` reached its expiry and was removed (event `"expire"`).
    Expire {
        /// The key.
        key: Data,
    },
    /// Every entry was removed. `keys` lists them in Broker's order, so each replica can
    /// publish one `"erase"` event per key, as Broker 1.4 does for `clear`.
    Clear {
        /// The keys that were present.
        keys: Vec<Data>,
    },
}
