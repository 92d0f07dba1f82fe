//! broker-rs: Zeek's Broker communication library in Rust.
//!
//! This facade re-exports the workspace's layers so that one dependency gives the
//! whole library:
//! - [`wire`]: the data model ([`Data`], [`Topic`]), Zeek message layouts, frames and codec.
//! - [`store`]: data-store semantics and backends, independent of I/O.
//! - [`actors`]: endpoints, peerings, subscribers, publishers and stores as actors.

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub use broker_actors as actors;
pub use broker_store as store;
pub use broker_wire as wire;
pub use broker_wire::{Data, Topic};
