//! Zeek's message layouts over [`Data`], defined once for every crate.
//!
//! A Zeek message is a vector `(format version, message type, content, ...)`: version
//! and type are counts, the content a vector. An event's content is
//! `(name, (args...))` with an optional third element, its metadata: a vector of
//! `(count key, value)` pairs, where key [`NETWORK_TIMESTAMP`] must hold a timestamp.
//! What is an event follows Broker's `zeek::Event::valid()`: trailing elements after the
//! content, or after the metadata, are tolerated. One addition: names must be UTF-8
//! (Python sees them as `str`).

use crate::codes::code_table;
use crate::data::{Data, Vector};
use crate::error::WireError;

/// The format version of Zeek messages, their first element.
pub const FORMAT_VERSION: u64 = 1;

/// The metadata key of an event's network timestamp, as the count it is on the wire.
pub const NETWORK_TIMESTAMP: u64 = MetadataType::NetworkTimestamp.code() as u64;

code_table! {
    /// The well-known keys of an event's metadata (Broker's `zeek::MetadataType`): keys
    /// up to 199 are Zeek's, from [`MetadataType::UserMetadataStart`] on free for users.
    pub enum MetadataType {
        /// The network time at which the event was raised; its value is a timestamp.
        NetworkTimestamp = 1, "NetworkTimestamp", py "NetworkTimestamp",
            "the network time at which the event was raised";
        /// The first key free for users.
        UserMetadataStart = 200, "UserMetadataStart", py "UserMetadataStart",
            "the first metadata key free for users";
    }
}

code_table! {
    /// The kind of a Zeek message, its second element.
    pub enum MessageType {
        /// A remote event: `(1, 1, (name, (args...)[, metadata]))`.
        Event = 1, "Event", "a remote event";
        /// The creation of a log stream.
        LogCreate = 2, "LogCreate", "the creation of a log stream";
        /// A write to a log stream.
        LogWrite = 3, "LogWrite", "a write to a log stream";
        /// The new value of a script identifier.
        IdentifierUpdate = 4, "IdentifierUpdate", "the new value of a script identifier";
        /// A batch of Zeek messages.
        Batch = 5, "Batch", "a batch of Zeek messages";
    }
}

impl MessageType {
    /// The type of the Zeek message `data`, or `None` if it is not one (not a vector
    /// of at least three elements starting with [`FORMAT_VERSION`] and a known type,
    /// both counts).
    pub fn of(data: &Data) -> Option<MessageType> {
        match data.as_vector()?.as_slice() {
            [Data::Count(FORMAT_VERSION), Data::Count(kind), _, ..] => Self::from_count(*kind),
            _ => None,
        }
    }

    /// The message type with the given wire value.
    pub fn from_count(kind: u64) -> Option<MessageType> {
        u8::try_from(kind).ok().and_then(MessageType::from_u8)
    }
}

/// A borrowed, validated view of an event inside a [`Data`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventView<'a> {
    /// The event's name.
    pub name: &'a str,
    /// The event's arguments.
    pub args: &'a [Data],
    /// The event's metadata entries, each a vector `(count key, value)`; empty
    /// without metadata. [`EventView::metadata`] reads them as pairs.
    pub metadata: &'a [Data],
}

impl<'a> EventView<'a> {
    /// Views `data` as an event, or says why it is not one.
    pub fn parse(data: &'a Data) -> Result<Self, WireError> {
        let content = match data.as_vector().map(Vec::as_slice) {
            Some([Data::Count(FORMAT_VERSION), Data::Count(kind), content, ..])
                if MessageType::from_count(*kind) == Some(MessageType::Event) =>
            {
                content
            }
            _ => return Err(invalid("not a vector (1, 1, content) of counts")),
        };
        let Data::Vector(content) = content else {
            return Err(invalid("content is not a vector"));
        };
        let (name, args, metadata) = match content.as_slice() {
            [name @ Data::String(_), Data::Vector(args)] => (name, args, &[][..]),
            [name @ Data::String(_), Data::Vector(args), Data::Vector(metadata), ..] => {
                (name, args, metadata.as_slice())
            }
            [Data::String(_), Data::Vector(_), _, ..] => {
                return Err(invalid("metadata is not a vector"))
            }
            _ => return Err(invalid("content is not (name string, args vector)")),
        };
        metadata.iter().try_for_each(check_metadata_entry)?;
        Ok(EventView {
            name: name.as_str().ok_or(invalid("name is not UTF-8"))?,
            args,
            metadata,
        })
    }

    /// The metadata as `(key, value)` pairs, in order.
    pub fn metadata(&self) -> impl Iterator<Item = (u64, &'a Data)> + 'a {
        self.metadata.iter().filter_map(metadata_entry)
    }

    /// An owned copy of the event.
    pub fn to_event(&self) -> Event {
        Event {
            name: self.name.to_owned(),
            args: self.args.to_vec(),
            metadata: self.metadata().map(|(k, v)| (k, v.clone())).collect(),
        }
    }
}

/// A metadata entry `(count key, value)` as a pair.
fn metadata_entry(entry: &Data) -> Option<(u64, &Data)> {
    match entry.as_vector()?.as_slice() {
        [Data::Count(key), value] => Some((*key, value)),
        _ => None,
    }
}

/// Checks one metadata entry: `(count key, value)`, a timestamp under
/// [`NETWORK_TIMESTAMP`].
fn check_metadata_entry(entry: &Data) -> Result<(), WireError> {
    match entry.as_vector().map(Vec::as_slice) {
        Some([Data::Count(NETWORK_TIMESTAMP), value]) if !matches!(value, Data::Timestamp(_)) => {
            Err(invalid("network timestamp metadata is not a timestamp"))
        }
        Some([Data::Count(_), _]) => Ok(()),
        _ => Err(invalid("metadata entry is not (count key, value)")),
    }
}

fn invalid(reason: &'static str) -> WireError {
    WireError::InvalidEvent(reason)
}

/// A Zeek event: a name and arguments.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Event {
    /// The event's name.
    pub name: String,
    /// The event's arguments.
    pub args: Vector,
    /// The event's metadata, `(key, value)` pairs (e.g. [`NETWORK_TIMESTAMP`]).
    pub metadata: Vec<(u64, Data)>,
}

impl Event {
    /// An event named `name` with `args`.
    pub fn new(name: impl Into<String>, args: Vector) -> Self {
        Event {
            name: name.into(),
            args,
            metadata: Vec::new(),
        }
    }

    /// The event with the metadata entry `key = value` added.
    pub fn with_metadata(mut self, key: u64, value: Data) -> Self {
        self.metadata.push((key, value));
        self
    }

    /// Checks that `data` is an event, as Broker's `Event::valid` does.
    pub fn validate(data: &Data) -> Result<(), WireError> {
        EventView::parse(data).map(|_| ())
    }

    /// The event as the message Zeek exchanges: `(1, 1, (name, (args...)))`, with
    /// the metadata third in the content when there is any (as Zeek ≥ 8.0.1 does).
    pub fn to_data(&self) -> Data {
        self.clone().into_data()
    }

    /// Like [`Event::to_data`], consuming the event.
    pub fn into_data(self) -> Data {
        let mut content = vec![Data::from(self.name), Data::Vector(self.args)];
        if !self.metadata.is_empty() {
            let entries = self.metadata.into_iter();
            content.push(Data::Vector(
                entries
                    .map(|(key, value)| Data::Vector(vec![Data::Count(key), value]))
                    .collect(),
            ));
        }
        Data::Vector(vec![
            Data::Count(FORMAT_VERSION),
            Data::Count(MessageType::Event.code().into()),
            Data::Vector(content),
        ])
    }
}

impl TryFrom<&Data> for Event {
    type Error = WireError;

    fn try_from(data: &Data) -> Result<Event, WireError> {
        EventView::parse(data).map(|view| view.to_event())
    }
}

impl From<Event> for Data {
    fn from(event: Event) -> Data {
        event.into_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Timestamp;

    fn count(c: u64) -> Data {
        Data::Count(c)
    }

    fn vector(items: Vec<Data>) -> Data {
        Data::Vector(items)
    }

    fn message(version: Data, kind: Data, content: Data) -> Data {
        vector(vec![version, kind, content])
    }

    fn ping(args: Vec<Data>) -> Data {
        vector(vec![Data::from("ping"), vector(args)])
    }

    #[test]
    fn event_round_trips_through_data() {
        let event = Event::new("ping", vec![Data::from("x"), count(3)]);
        let data = event.to_data();
        assert_eq!(data.to_string(), "(1, 1, (ping, (x, 3)))");
        assert_eq!(MessageType::of(&data), Some(MessageType::Event));
        assert_eq!(Event::try_from(&data).unwrap(), event);
        let view = EventView::parse(&data).unwrap();
        assert_eq!((view.name, view.args.len()), ("ping", 2));
    }

    #[test]
    fn metadata_is_absent_empty_or_pairs() {
        let stamp = Data::Timestamp(crate::Timestamp(4_711_000_000_000));
        let event =
            Event::new("pong", vec![count(84)]).with_metadata(NETWORK_TIMESTAMP, stamp.clone());
        let data = event.to_data();
        assert_eq!(
            data.to_string(),
            "(1, 1, (pong, (84), ((1, 4711000000000ns))))"
        );
        let view = EventView::parse(&data).unwrap();
        assert_eq!(
            view.metadata().collect::<Vec<_>>(),
            [(NETWORK_TIMESTAMP, &stamp)]
        );
        assert_eq!(view.to_event(), event);
        let empty = message(
            count(1),
            count(1),
            vector(vec![Data::from("e"), vector(vec![]), vector(vec![])]),
        );
        assert_eq!(EventView::parse(&empty).unwrap().metadata().count(), 0);
        assert_eq!(
            Event::new("e", vec![]).to_data().to_string(),
            "(1, 1, (e, ()))"
        );
        let bad = message(
            count(1),
            count(1),
            vector(vec![
                Data::from("e"),
                vector(vec![]),
                vector(vec![vector(vec![Data::Integer(1), count(2)])]),
            ]),
        );
        assert!(matches!(
            Event::validate(&bad),
            Err(WireError::InvalidEvent(_))
        ));
    }

    fn ping_with(extra: Vec<Data>) -> Data {
        let mut content = vec![Data::from("ping"), vector(vec![])];
        content.extend(extra);
        message(count(1), count(1), vector(content))
    }

    fn entry(key: u64, value: Data) -> Data {
        vector(vec![count(key), value])
    }

    /// The cases checked against today's Broker's `broker.zeek.Event(...).valid()`
    /// (`/work/shared/reference/broker-2.8`).
    #[test]
    fn validity_matches_brokers_event_valid() {
        let network_time = Data::Timestamp(Timestamp(1_700_000_000_000_000_000));
        let valid = [
            message(count(1), count(1), ping(vec![])),
            message(count(1), count(1), ping(vec![Data::Integer(1)])),
            message(
                count(1),
                count(1),
                vector(vec![Data::from(""), vector(vec![])]),
            ),
            // Metadata, as Zeek 6 and later send it: (count key, value) pairs.
            ping_with(vec![vector(vec![entry(1, network_time.clone())])]),
            ping_with(vec![vector(vec![entry(200, Data::from("user"))])]),
            ping_with(vec![vector(vec![])]),
            // Trailing elements after the metadata and after the content are tolerated.
            ping_with(vec![vector(vec![]), count(5)]),
            vector(vec![count(1), count(1), ping(vec![]), count(7)]),
        ];
        for data in &valid {
            assert!(Event::validate(data).is_ok(), "{data} should be valid");
        }
        let with_metadata = &valid[3];
        let view = EventView::parse(with_metadata).unwrap();
        assert_eq!(view.metadata, &[entry(1, network_time.clone())]);
        assert_eq!(
            Event::try_from(with_metadata).unwrap(),
            Event::new("ping", vec![]).with_metadata(NETWORK_TIMESTAMP, network_time)
        );
        let invalid = [
            // Version and type must be counts, not integers.
            message(Data::Integer(1), Data::Integer(1), ping(vec![])),
            message(count(2), count(1), ping(vec![])),
            message(count(1), count(2), ping(vec![])),
            message(count(1), count(1), vector(vec![count(3), vector(vec![])])),
            message(
                count(1),
                count(1),
                vector(vec![Data::from("ping"), count(5)]),
            ),
            message(count(1), count(1), vector(vec![Data::from("ping")])),
            message(count(1), count(1), Data::from("ping")),
            vector(vec![count(1), count(1)]),
            Data::from("ping"),
            // Metadata must be a vector of (count key, value), with a timestamp at key 1.
            ping_with(vec![count(5)]),
            ping_with(vec![vector(vec![count(5)])]),
            ping_with(vec![vector(vec![entry(1, Data::from("x"))])]),
            ping_with(vec![vector(vec![vector(vec![
                Data::Integer(1),
                Data::from("x"),
            ])])]),
            ping_with(vec![vector(vec![vector(vec![
                count(200),
                Data::from("x"),
                Data::from("y"),
            ])])]),
            // Our one addition: names must be UTF-8 (Python sees them as `str`).
            message(
                count(1),
                count(1),
                vector(vec![Data::String(vec![0xff]), vector(vec![])]),
            ),
        ];
        for data in &invalid {
            assert!(
                matches!(Event::validate(data), Err(WireError::InvalidEvent(_))),
                "{data} should be invalid"
            );
        }
    }

    #[test]
    fn message_types_have_zeeks_numbers() {
        for (kind, number) in [
            (MessageType::Event, 1),
            (MessageType::LogCreate, 2),
            (MessageType::LogWrite, 3),
            (MessageType::IdentifierUpdate, 4),
            (MessageType::Batch, 5),
        ] {
            assert_eq!(kind as u64, number);
            assert_eq!(MessageType::from_count(number), Some(kind));
            let data = message(count(1), count(number), vector(vec![]));
            assert_eq!(MessageType::of(&data), Some(kind));
        }
        assert_eq!(MessageType::from_count(0), None);
        assert_eq!(MessageType::from_count(6), None);
    }

    #[test]
    fn metadata_types_have_zeeks_numbers() {
        assert_eq!(
            MetadataType::from_u8(1),
            Some(MetadataType::NetworkTimestamp)
        );
        assert_eq!(NETWORK_TIMESTAMP, 1);
        assert_eq!(MetadataType::UserMetadataStart.code(), 200);
        assert_eq!(MetadataType::ALL.len(), 2);
    }
}
