//! Topics: hierarchical names, matched by raw byte prefix.
//!
//! A topic is shared, not copied: cloning one (once per message routed to a subscriber
//! or a publisher's buffer) is a reference-count increment, and decoding reuses the
//! previous message's topic when the name repeats, as it does within a batch.

use std::cell::RefCell;
use std::fmt;
use std::ops::{Div, DivAssign};
use std::sync::Arc;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The separator of topic levels.
pub const SEPARATOR: char = '/';

/// Marker of internal topics (`<$>/local/...` never leaves the endpoint).
pub const INTERNAL_MARKER: &str = "<$>";

/// A topic: a string whose hierarchy is by convention (`/zeek/events/...`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Topic(Arc<str>);

impl Default for Topic {
    fn default() -> Self {
        Topic::from("")
    }
}

impl Topic {
    /// A topic with the given name.
    pub fn new(name: impl Into<String>) -> Self {
        Topic(Arc::from(name.into()))
    }

    /// The topic's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `self` and `other` share one allocation (a cheap, conservative
    /// equality test for caches keyed by topic).
    pub fn ptr_eq(&self, other: &Topic) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Whether a subscription to `self` matches `topic`: a raw prefix, so `/topic`
    /// matches `/topicfoo`.
    pub fn is_prefix_of(&self, topic: &str) -> bool {
        topic.as_bytes().starts_with(self.0.as_bytes())
    }

    /// Whether this topic is internal to an endpoint (contains `<$>`).
    pub fn is_internal(&self) -> bool {
        self.0.contains(INTERNAL_MARKER)
    }

    /// Whether messages on this topic must never leave the endpoint (`<$>/local/...`).
    pub fn is_local_only(&self) -> bool {
        self.0.starts_with("<$>/local")
    }

    /// The topic named `name`, sharing the last one decoded on this thread when the
    /// names are equal (saves an allocation and the UTF-8 check per message of a
    /// batch); `None` if `name` is not UTF-8.
    pub(crate) fn decoded(name: &[u8]) -> Option<Topic> {
        thread_local! {
            static LAST: RefCell<Option<Topic>> = const { RefCell::new(None) };
        }
        LAST.with(|last| {
            let mut last = last.borrow_mut();
            match &*last {
                Some(topic) if topic.as_str().as_bytes() == name => Some(topic.clone()),
                _ => {
                    let topic = Topic::from(std::str::from_utf8(name).ok()?);
                    *last = Some(topic.clone());
                    Some(topic)
                }
            }
        })
    }
}

impl Serialize for Topic {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Topic {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Name;
        impl Visitor<'_> for Name {
            type Value = Topic;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a topic name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Topic, E> {
                self.visit_bytes(name.as_bytes())
            }
            fn visit_bytes<E: de::Error>(self, name: &[u8]) -> Result<Topic, E> {
                Topic::decoded(name)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Bytes(name), &self))
            }
        }
        // Strings and byte strings share their encoding; as bytes, a repeated topic is
        // compared before (instead of) being checked for UTF-8.
        d.deserialize_bytes(Name)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Topic {
    fn from(s: &str) -> Self {
        Topic(Arc::from(s))
    }
}

impl From<String> for Topic {
    fn from(s: String) -> Self {
        Topic(Arc::from(s))
    }
}

impl AsRef<str> for Topic {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Broker's join: a separator goes between two non-empty parts unless the right one
/// starts with one, and one trailing separator is dropped
/// (`/a/` / `/b/c` is `/a//b/c`; `/b/c` / `/a/` is `/b/c/a`).
impl DivAssign<&Topic> for Topic {
    fn div_assign(&mut self, rhs: &Topic) {
        if rhs.0.is_empty() {
            return;
        }
        let mut joined = String::with_capacity(self.0.len() + 1 + rhs.0.len());
        joined.push_str(&self.0);
        if !joined.is_empty() && !rhs.0.starts_with(SEPARATOR) {
            joined.push(SEPARATOR);
        }
        joined.push_str(&rhs.0);
        if joined.len() > 1 && joined.ends_with(SEPARATOR) {
            joined.pop();
        }
        *self = Topic::from(joined);
    }
}

impl Div<&Topic> for &Topic {
    type Output = Topic;

    fn div(self, rhs: &Topic) -> Topic {
        let mut joined = self.clone();
        joined /= rhs;
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(a: &str, b: &str) -> String {
        (&Topic::from(a) / &Topic::from(b)).as_str().to_owned()
    }

    #[test]
    fn join_matches_broker_1_4() {
        assert_eq!(join("/a/", "/b/c"), "/a//b/c");
        assert_eq!(join("/b/c", "/a/"), "/b/c/a");
        assert_eq!(join("a", "b"), "a/b");
        assert_eq!(join("a/", "b"), "a//b");
        assert_eq!(join("a", "b/"), "a/b");
        assert_eq!(join("", "/b/"), "/b");
        assert_eq!(join("/", "/"), "/");
        assert_eq!(join("a", ""), "a");
        assert_eq!(join("", "b"), "b");
    }

    #[test]
    fn decoding_shares_a_repeated_topic() {
        let first = Topic::decoded(b"/a/b").unwrap();
        let again = Topic::decoded(b"/a/b").unwrap();
        assert!(first.ptr_eq(&again));
        let other = Topic::decoded(b"/a/c").unwrap();
        assert_eq!(other.as_str(), "/a/c");
        assert!(!other.ptr_eq(&first));
        assert!(Topic::decoded(b"/a/\xff").is_none(), "not UTF-8");
    }

    #[test]
    fn prefix_matching_is_raw() {
        assert!(Topic::from("/topic").is_prefix_of("/topicfoo"));
        assert!(Topic::from("").is_prefix_of("/anything"));
        assert!(!Topic::from("/topic/a").is_prefix_of("/topic"));
    }
}
