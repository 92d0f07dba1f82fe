//! Broker's data model and wire protocol, free of any async runtime.
//!
//! # Layout
//! - [`data`]: [`Data`], Broker's value type, with its total order, hashing and
//!   `Display` in Broker's notation; the scalar helpers [`Port`], [`Timestamp`],
//!   [`Timespan`].
//! - [`topic`]: [`Topic`], raw-prefix matching and Broker's `/` join.
//! - [`zeek`]: typed views of Zeek message layouts (events and friends) over [`Data`].
//! - [`frame`]: the frames two endpoints exchange over a connection.
//! - [`codec`]: length-prefixed postcard encoding of frames, with a size cap checked
//!   before any allocation.
//! - [`error`]: [`WireError`], every way decoding can fail.

pub mod codec;
pub mod data;
pub mod error;
pub mod frame;
pub mod topic;
pub mod zeek;

pub use data::{Data, Port, Protocol, Timespan, Timestamp};
pub use error::WireError;
pub use topic::Topic;
