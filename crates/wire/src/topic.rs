//! Topics: hierarchical names, matched by raw byte prefix.

use std::fmt;
use std::ops::{Div, DivAssign};

use serde::{Deserialize, Serialize};

/// The separator of topic levels.
pub const SEPARATOR: char = '/';

/// Marker of internal topics (`<$>/local/...` never leaves the endpoint).
pub const INTERNAL_MARKER: &str = "<$>";

/// A topic: a string whose hierarchy is by convention (`/zeek/events/...`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Topic(String);

impl Topic {
    /// A topic with the given name.
    pub fn new(name: impl Into<String>) -> Self {
        Topic(name.into())
    }

    /// The topic's name.
    pub fn as_str(&self) -> &str {
        &self.0
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
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Topic {
    fn from(s: &str) -> Self {
        Topic(s.to_owned())
    }
}

impl From<String> for Topic {
    fn from(s: String) -> Self {
        Topic(s)
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
        if !self.0.is_empty() && !rhs.0.starts_with(SEPARATOR) {
            self.0.push(SEPARATOR);
        }
        self.0.push_str(&rhs.0);
        if self.0.len() > 1 && self.0.ends_with(SEPARATOR) {
            self.0.pop();
        }
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
        (&Topic::from(a) / &Topic::from(b)).0
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
    fn prefix_matching_is_raw() {
        assert!(Topic::from("/topic").is_prefix_of("/topicfoo"));
        assert!(Topic::from("").is_prefix_of("/anything"));
        assert!(!Topic::from("/topic/a").is_prefix_of("/topic"));
    }
}
