//! Typed views of Zeek message layouts over [`Data`].
//!
//! A Zeek message is a vector `(format version, message type, content...)`, all
//! counts. An event is `(1, 1, (name, (args...)[, metadata]))`; as in Broker 1.4,
//! extra trailing elements in the message or in its content are tolerated. Zeek 6 and
//! later put metadata third in the content when it is a vector: `((key, value)...)`
//! pairs with count keys (absent, empty or filled depending on the Zeek version).

use crate::data::{Data, Vector};
use crate::error::WireError;

/// The format version of Zeek messages, their first element.
pub const FORMAT_VERSION: u64 = 1;

/// The event metadata key of the network timestamp (a `timestamp`). Keys 1 to 199 are
/// reserved for Zeek, 200 and up are for users.
pub const NETWORK_TIMESTAMP: u64 = 1;

/// The kind of a Zeek message, its second element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum MessageType {
    /// A remote event: `(1, 1, (name, (args...)))`.
    Event = 1,
    /// The creation of a log stream.
    LogCreate = 2,
    /// A write to a log stream.
    LogWrite = 3,
    /// The new value of a script identifier.
    IdentifierUpdate = 4,
    /// A batch of Zeek messages.
    Batch = 5,
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
        Some(match kind {
            1 => MessageType::Event,
            2 => MessageType::LogCreate,
            3 => MessageType::LogWrite,
            4 => MessageType::IdentifierUpdate,
            5 => MessageType::Batch,
            _ => return None,
        })
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
        if MessageType::of(data) != Some(MessageType::Event) {
            return Err(WireError::InvalidEvent(
                "not a vector (1, 1, content) of counts",
            ));
        }
        let content = match data.as_vector().map(Vec::as_slice) {
            Some([_, _, Data::Vector(content), ..]) => content,
            _ => return Err(WireError::InvalidEvent("content is not a vector")),
        };
        match content.as_slice() {
            [name @ Data::String(_), Data::Vector(args), rest @ ..] => Ok(EventView {
                name: name
                    .as_str()
                    .ok_or(WireError::InvalidEvent("name is not UTF-8"))?,
                args,
                metadata: match rest.first() {
                    Some(Data::Vector(entries)) => {
                        if !entries.iter().all(|entry| metadata_entry(entry).is_some()) {
                            return Err(WireError::InvalidEvent(
                                "metadata is not a vector of (count, value) pairs",
                            ));
                        }
                        entries
                    }
                    _ => &[],
                },
            }),
            _ => Err(WireError::InvalidEvent(
                "content is not (name string, args vector)",
            )),
        }
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
            Data::Count(MessageType::Event as u64),
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

    /// The cases checked against Broker 1.4's `broker.zeek.Event(...).valid()`.
    #[test]
    fn validity_matches_broker_1_4() {
        let valid = [
            message(count(1), count(1), ping(vec![])),
            message(count(1), count(1), ping(vec![Data::Integer(1)])),
            message(
                count(1),
                count(1),
                vector(vec![Data::from(""), vector(vec![])]),
            ),
            // Trailing elements in the content and in the message are tolerated.
            message(count(1), count(1), {
                let mut content = ping(vec![]);
                if let Data::Vector(items) = &mut content {
                    items.push(count(5));
                }
                content
            }),
            vector(vec![count(1), count(1), ping(vec![]), count(7)]),
        ];
        for data in &valid {
            assert!(Event::validate(data).is_ok(), "{data} should be valid");
        }
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
}
