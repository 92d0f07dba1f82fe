//! Which links want a topic, found from the topic instead of by testing every link's
//! filter: a message for one peer among a thousand costs about what it costs among ten
//! (a Zeek cluster's manager writes to one node's `zeek/cluster/node/<name>/` topic, which
//! one of hundreds of peers subscribes to).
//!
//! A filter topic matches a message topic when it is a byte prefix of it, so the
//! candidates of a message topic are its prefixes of the lengths the filter topics have:
//! one hash lookup per distinct filter-topic length, whatever the number of links.

use broker_wire::Topic;
use foldhash::{HashMap, HashMapExt};

/// The filters of a routing snapshot's links (by position in the snapshot), by topic.
#[derive(Default)]
pub(crate) struct TopicIndex {
    /// Filter topic → the positions of the links whose filter has it, ascending.
    links: HashMap<Box<str>, Vec<u32>>,
    /// The distinct lengths of the filter topics, ascending.
    lengths: Vec<usize>,
}

impl TopicIndex {
    /// Indexes the filters of the links at positions 0, 1, ... in order.
    pub(crate) fn new<'f>(filters: impl IntoIterator<Item = &'f [Topic]>) -> Self {
        let mut links: HashMap<Box<str>, Vec<u32>> = HashMap::new();
        for (position, filter) in filters.into_iter().enumerate() {
            let position = u32::try_from(position).expect("fewer than 2^32 links");
            for (i, topic) in filter.iter().enumerate() {
                // A topic that another of the same filter covers (or repeats) adds no
                // match; leaving it out lists each link once per message topic.
                let covered = filter.iter().enumerate().any(|(j, other)| {
                    if other == topic {
                        j < i
                    } else {
                        other.is_prefix_of(topic.as_str())
                    }
                });
                if !covered {
                    links
                        .entry(topic.as_str().into())
                        .or_default()
                        .push(position);
                }
            }
        }
        let mut lengths: Vec<usize> = links.keys().map(|topic| topic.len()).collect();
        lengths.sort_unstable();
        lengths.dedup();
        TopicIndex { links, lengths }
    }

    /// The positions of the links whose filter matches `topic`, each once, in runs of
    /// ascending positions (one run per matching filter topic).
    pub(crate) fn matching<'a>(&'a self, topic: &'a str) -> impl Iterator<Item = u32> + 'a {
        self.lengths
            .iter()
            .take_while(move |&&len| len <= topic.len())
            // A filter topic that is a prefix of `topic` ends on one of its character
            // boundaries; other lengths cannot match.
            .filter_map(move |&len| topic.get(..len))
            .filter_map(|prefix| self.links.get(prefix))
            .flatten()
            .copied()
    }

    /// Whether some link's filter matches `topic`.
    pub(crate) fn any_matches(&self, topic: &str) -> bool {
        self.matching(topic).next().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(names: &[&str]) -> Vec<Topic> {
        names.iter().map(|&name| Topic::from(name)).collect()
    }

    /// The positions `index` gives for `topic`, sorted.
    fn matching(index: &TopicIndex, topic: &str) -> Vec<u32> {
        let mut positions: Vec<u32> = index.matching(topic).collect();
        positions.sort_unstable();
        positions
    }

    /// What testing every filter in turn gives.
    fn scanned(filters: &[Vec<Topic>], topic: &str) -> Vec<u32> {
        (0..filters.len() as u32)
            .filter(|&i| filters[i as usize].iter().any(|f| f.is_prefix_of(topic)))
            .collect()
    }

    #[test]
    fn finds_every_link_whose_filter_has_a_prefix_of_the_topic_once() {
        let filters = vec![
            topics(&["/zeek/cluster/node/worker-1/", "/zeek/logs"]),
            topics(&["/zeek/cluster/node/worker-2/", "/zeek/logs"]),
            // Overlapping and repeated topics in one filter: still listed once.
            topics(&["/zeek", "/zeek/logs", "/zeek"]),
            topics(&[]),
            topics(&[""]),
            topics(&["/é", "/z"]),
        ];
        let index = TopicIndex::new(filters.iter().map(Vec::as_slice));
        for topic in [
            "/zeek/logs/conn",
            "/zeek/cluster/node/worker-1/x",
            "/zeek/cluster/node/worker-10/x",
            "/zeek",
            "/ze",
            "/élan",
            "/ê",
            "",
            "other",
        ] {
            assert_eq!(
                matching(&index, topic),
                scanned(&filters, topic),
                "{topic:?}"
            );
            assert_eq!(
                index.any_matches(topic),
                !scanned(&filters, topic).is_empty()
            );
        }
    }

    #[test]
    fn nothing_matches_in_an_empty_index() {
        let index = TopicIndex::default();
        assert_eq!(index.matching("/a").count(), 0);
        assert!(!index.any_matches(""));
    }
}
