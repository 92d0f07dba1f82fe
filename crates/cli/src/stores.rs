//! Data stores in the tools: attaching a master or clone by name, writes given as
//! `KEY=VALUE`, and store events in readable form.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use broker_actors::{CloneOptions, Endpoint, Store, Subscriber};
use broker_store::messages::events_topic;
use broker_store::BackendType;
use broker_wire::Data;
use serde_json::json;

use crate::error::CliError;
use crate::interrupt::Interrupt;
use crate::json::{parse_value, to_json};
use crate::POLL_SLICE;

/// The backends a tool can give a master.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// In memory; gone when the process ends.
    Memory,
    /// An SQLite file (`--store-path`).
    Sqlite,
}

/// Attaches the master of `name` on `endpoint`, with an SQLite file at `path` or in
/// memory; an error if a direct peer already holds that master.
pub fn attach_master(
    endpoint: &Endpoint,
    name: &str,
    sqlite: Option<&PathBuf>,
) -> Result<Store, CliError> {
    let (backend, options) = match sqlite {
        Some(path) => (
            BackendType::Sqlite,
            BTreeMap::from([("path".to_owned(), Data::string(path.display().to_string()))]),
        ),
        None => (BackendType::Memory, BTreeMap::new()),
    };
    endpoint
        .attach_master(name, backend, options)?
        .ok_or_else(|| CliError::MasterExists {
            store: name.to_owned(),
        })
}

/// Attaches a clone of `name` on `endpoint`, waiting at most `timeout` for a direct
/// peer holding its master.
pub fn attach_clone(endpoint: &Endpoint, name: &str, timeout: Duration) -> Result<Store, CliError> {
    let options = CloneOptions {
        attach_timeout: timeout,
        require_master: true,
        ..CloneOptions::default()
    };
    endpoint
        .attach_clone_with(name, options)?
        .ok_or_else(|| CliError::NoMaster {
            store: name.to_owned(),
            seconds: timeout.as_secs_f64(),
        })
}

/// A local subscriber to the events of store `name`. Make it before writing, or the
/// first events are missed.
pub fn event_subscriber(endpoint: &Endpoint, name: &str) -> Subscriber {
    endpoint.make_subscriber(vec![events_topic(name)], 1024)
}

/// Prints the events `events` receives on stdout, labelled `name`, as text or JSON
/// objects, on a thread, until interrupted.
pub fn print_events(events: Subscriber, name: &str, json: bool, interrupt: Interrupt) {
    let name = name.to_owned();
    std::thread::spawn(move || {
        while !interrupt.is_set() {
            let Some((_, data)) = events.get(Some(POLL_SLICE)) else {
                continue;
            };
            match StoreEvent::parse(&data) {
                Some(event) if json => match event.to_json() {
                    Ok(mut object) => {
                        object["name"] = name.as_str().into();
                        println!("{object}");
                    }
                    Err(e) => eprintln!("{name}: {event}: {e}"),
                },
                Some(event) => println!("{name}: {event}"),
                None => eprintln!("{name}: unexpected store event {data}"),
            }
        }
    });
}

/// A write given as `KEY=VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// The key, a string.
    pub key: Data,
    /// The value.
    pub value: Data,
}

impl Assignment {
    /// Parses `KEY=VALUE`: the value is a JSON value in the notation of `--json`
    /// (`{"@data-type":"count","data":3}`), or else the text itself as a string.
    pub fn parse(text: &str) -> Result<Assignment, String> {
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))?;
        if key.is_empty() {
            return Err(format!("empty key in {text:?}"));
        }
        Ok(Assignment {
            key: Data::string(key),
            value: parse_value(value).unwrap_or_else(|_| Data::string(value)),
        })
    }
}

/// A store event as Broker publishes it, taken apart.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreEvent {
    /// `insert`, `update`, `erase` or `expire`.
    pub kind: String,
    /// The store.
    pub store: String,
    /// The key concerned.
    pub key: Data,
    /// The previous value (update).
    pub old: Option<Data>,
    /// The new value (insert, update).
    pub value: Option<Data>,
}

impl StoreEvent {
    /// Parses an event published on a store's events topic; `None` if it has not one
    /// of Broker's shapes.
    pub fn parse(data: &Data) -> Option<StoreEvent> {
        let fields = data.as_vector()?;
        let kind = fields.first()?.as_str()?.to_owned();
        let store = fields.get(1)?.as_str()?.to_owned();
        let key = fields.get(2)?.clone();
        let (old, value) = match (kind.as_str(), fields.len()) {
            ("insert", 7) => (None, Some(fields[3].clone())),
            ("update", 8) => (Some(fields[3].clone()), Some(fields[4].clone())),
            ("erase" | "expire", 5) => (None, None),
            _ => return None,
        };
        Some(StoreEvent {
            kind,
            store,
            key,
            old,
            value,
        })
    }

    /// The event as a JSON object: `kind`, `store`, `key`, and `old`/`value` when set;
    /// an error if a value cannot be written in JSON.
    pub fn to_json(&self) -> Result<serde_json::Value, CliError> {
        let mut object =
            json!({ "store": self.store, "event": self.kind, "key": to_json(&self.key)? });
        if let Some(old) = &self.old {
            object["old"] = to_json(old)?;
        }
        if let Some(value) = &self.value {
            object["value"] = to_json(value)?;
        }
        Ok(object)
    }
}

impl std::fmt::Display for StoreEvent {
    /// `kv insert color = red`, `kv update color: red -> blue`, `kv erase color`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.store, self.kind, self.key)?;
        match (&self.old, &self.value) {
            (Some(old), Some(new)) => write!(f, ": {old} -> {new}"),
            (None, Some(value)) => write!(f, " = {value}"),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_take_json_values_or_plain_text() {
        let parsed = |text| Assignment::parse(text).map(|a| (a.key.to_string(), a.value));
        assert_eq!(parsed("n=3").unwrap(), ("n".into(), Data::string("3")));
        assert_eq!(
            parsed(r#"c={"@data-type":"count","data":3}"#).unwrap(),
            ("c".into(), Data::Count(3))
        );
        assert_eq!(
            parsed("color=red=ish").unwrap(),
            ("color".into(), Data::string("red=ish"))
        );
        assert!(parsed("novalue").is_err());
        assert!(parsed("=3").is_err());
    }

    #[test]
    fn events_of_every_shape_parse_and_print() {
        let node = || [Data::string("node"), Data::Count(1)];
        let event = |fields: Vec<Data>| Data::Vector(fields.into_iter().chain(node()).collect());
        let insert = event(vec![
            "insert".into(),
            "kv".into(),
            "color".into(),
            "red".into(),
            Data::None,
        ]);
        let update = event(vec![
            "update".into(),
            "kv".into(),
            "color".into(),
            "red".into(),
            "blue".into(),
            Data::None,
        ]);
        let erase = event(vec!["erase".into(), "kv".into(), "color".into()]);
        let shown: Vec<String> = [insert, update, erase]
            .iter()
            .map(|e| StoreEvent::parse(e).unwrap().to_string())
            .collect();
        assert_eq!(
            shown,
            [
                "kv insert color = red",
                "kv update color: red -> blue",
                "kv erase color"
            ]
        );
        assert!(StoreEvent::parse(&Data::string("insert")).is_none());
        assert!(StoreEvent::parse(&event(vec!["insert".into(), "kv".into()])).is_none());
    }
}
