//! `broker._broker`: the native module behind the Python package `broker`.
//!
//! Conversions and thin wrappers only: the pure-Python package (`python/broker`) adds
//! what is easier in Python (asyncio, argument juggling of Broker 1.4's API).
//!
//! # Layout
//! - [`convert`] — Python values ⇄ [`broker_wire::Data`], both ways, in Rust.
//! - [`data`] — `Data`, a Broker value with typed accessors (the base class of the
//!   package's `Data` and `ImmutableData`).
//! - [`error`] — `BrokerError`, a `RuntimeError` carrying an `EC`.
//! - [`values`] — scalar wrappers `Count`, `Enum`, `Port`, `Timespan`, `Timestamp`,
//!   `Address`, `Subnet`.
//! - [`containers`] — `Set`, `Table`, `Vector` wrappers and `FrozenTable` (a read-only
//!   `dict`, Broker's `HashableReadOnlyDict`).
//! - [`enums`] — `EC`, `SC`, `PeerStatus`, `PeerFlags`, `Backend`, `Frontend`,
//!   `Data.Type`, `Port.Protocol` as Python `IntEnum`/`IntFlag` classes.
//! - [`topic`] — `Topic`.
//! - [`zeek`] — `zeek.Event`, `zeek.SafeEvent`, `zeek.MetadataType`.
//! - [`config`] — `BrokerOptions`, `Configuration`, `Version`, `now()`.
//! - [`endpoint`] — `Endpoint`.
//! - [`subscriber`] — `Subscriber`, `StatusSubscriber` (get variants, iteration, `with`,
//!   `reset`, safe mode).
//! - [`publisher`] — `Publisher` (interruptible waits, `with`, `reset`).
//! - [`store`] — `Store`, and `Endpoint.attach_master` / `attach_clone`.
//! - [`status`] — `Status`, `Error`, `EndpointInfo`, `NetworkInfo`, `PeerInfo`.
//! - [`wait`] — blocking in slices without the GIL, waking on Ctrl-C.

pub mod config;
pub mod containers;
pub mod convert;
pub mod data;
pub mod endpoint;
pub mod enums;
pub mod error;
pub mod publisher;
pub mod status;
pub mod store;
pub mod subscriber;
pub mod topic;
pub mod values;
pub mod wait;
pub mod zeek;

use pyo3::prelude::*;

/// The extension's own allocations (decoded values, tables, strings) go to mimalloc:
/// building a table's temporary vector made glibc consolidate its small free blocks,
/// sending every later key allocation down the slow path.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `arena_eager_commit` (its index in `mi_option_t`, mimalloc.h, v2 and v3;
/// `libmimalloc-sys` names no constant for it).
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// Turns off mimalloc's eager commit of its arenas, unless the user set it through the
/// environment (`MIMALLOC_ARENA_EAGER_COMMIT`). Eager commit makes every page of an
/// arena resident once one is used: each connection's buffers (256 KiB write, 64 KiB
/// read), mostly untouched on an idle peering, then cost their full size in RSS.
/// Measured with benches/python/scale.py in docs/performance.md ("Scale").
fn lazy_commit() {
    if std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none() {
        // SAFETY: sets a process-wide option of the allocator; mimalloc reads it when it
        // reserves its next arena, and any value is valid for this option.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0) };
    }
}

#[pymodule]
fn _broker(m: &Bound<'_, PyModule>) -> PyResult<()> {
    lazy_commit();
    enums::register(m)?;
    error::register(m)?;
    m.add_class::<data::PyData>()?;
    m.add_class::<values::Count>()?;
    m.add_class::<values::Enum>()?;
    m.add_class::<values::Port>()?;
    m.add_class::<values::Timespan>()?;
    m.add_class::<values::Timestamp>()?;
    m.add_class::<values::Address>()?;
    m.add_class::<values::Subnet>()?;
    m.add_class::<containers::Set>()?;
    m.add_class::<containers::Table>()?;
    m.add_class::<containers::Vector>()?;
    m.add_class::<containers::FrozenTable>()?;
    m.add_class::<topic::PyTopic>()?;
    zeek::register(m)?;
    m.add_class::<config::BrokerOptions>()?;
    m.add_class::<config::Configuration>()?;
    m.add_class::<config::Version>()?;
    m.add_class::<endpoint::PyEndpoint>()?;
    m.add_class::<subscriber::PySubscriber>()?;
    m.add_class::<subscriber::PyStatusSubscriber>()?;
    m.add_class::<publisher::PyPublisher>()?;
    m.add_class::<store::PyStore>()?;
    m.add_class::<status::NetworkInfo>()?;
    m.add_class::<status::OptionalNetworkInfo>()?;
    m.add_class::<status::EndpointInfo>()?;
    m.add_class::<status::PeerInfo>()?;
    m.add_class::<status::Status>()?;
    m.add_class::<status::Error>()?;
    m.add_function(wrap_pyfunction!(config::now, m)?)?;
    Ok(())
}
