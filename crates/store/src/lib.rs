//! Broker's data stores without actors: the meaning of every store operation, and the
//! backends that hold the entries.
//!
//! A master owns a [`Store`] and feeds it [`Operation`]s with the current time; each
//! success yields a [`Change`] to number, send to clones and publish as a store event.
//! A clone owns a [`Store`] too and replays the master's changes with
//! [`Store::apply_change`]. Nothing here reads a clock, spawns a task or touches the
//! network; the only I/O is the SQLite backend's file.
//!
//! ```
//! use broker_store::{Change, Operation, Store};
//! use broker_wire::{Data, Timespan, Timestamp};
//!
//! let (mut master, mut clone) = (Store::in_memory(), Store::in_memory());
//! let op = Operation::Increment { key: "hits".into(), amount: Data::Count(1), expiry: None };
//! let change = master.apply(op, Timestamp(0))?.expect("increment always changes");
//! clone.apply_change(&change)?;
//! assert_eq!(clone.get(&"hits".into())?, Some(Data::Count(1)));
//!
//! let ttl = Operation::Put { key: "tmp".into(), value: Data::None, expiry: Some(Timespan(5)) };
//! master.apply(ttl, Timestamp(10))?;
//! assert_eq!(master.next_expiry()?, Some(Timestamp(15)));
//! assert_eq!(master.expire_due(Timestamp(15))?, vec![Change::Expire { key: "tmp".into() }]);
//! # Ok::<(), broker_store::StoreError>(())
//! ```
//!
//! # Layout
//! - [`operation`]: [`Operation`] (a requested write, with its exact semantics and where
//!   Broker 1.4 differs) and [`Change`] (an applied write); both serde-serializable.
//! - [`store`]: [`Store`], applying operations and changes over a backend, expiry and
//!   queries; [`open_backend`] by [`BackendType`].
//! - `semantics`: the value-level meaning of each operation, as pure functions.
//! - [`backend`]: the [`Backend`] trait and its contract, and [`Entry`].
//! - [`memory`]: [`MemoryBackend`], a hash map with an expiry index.
//! - [`sqlite`]: [`SqliteBackend`] and its [`SqliteOptions`].
//! - [`encoding`]: canonical byte encodings of keys and values for persistent backends.
//! - [`messages`]: the master/clone messages and store events as [`Data`](broker_wire::Data)
//!   layouts, and the stores' topics.
//! - [`replays`]: [`Replays`], which of a clone's writes a master applies, so that writes
//!   sent again after an outage apply at most once.
//! - [`error`]: [`StoreError`] and Broker's [`ErrorCode`]s.

pub mod backend;
pub mod channel;
pub mod encoding;
pub mod error;
pub mod memory;
pub mod messages;
pub mod native;
pub mod operation;
pub mod replays;
mod semantics;
pub mod sqlite;
pub mod store;

pub use backend::{Backend, Entry};
pub use error::{ErrorCode, StoreError};
pub use memory::MemoryBackend;
pub use operation::{Change, Operation};
pub use replays::Replays;
pub use sqlite::{FailureMode, JournalMode, SqliteBackend, SqliteOptions, Synchronous};
pub use store::{open_backend, BackendType, Store};
