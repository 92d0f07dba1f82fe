//! Planning a batch: which links want which of its messages, and the bytes each gets,
//! encoded once per encoding in use (and the whole batch's bytes made once, shared by
//! every link that wants all of it).

use std::ops::Range;
use std::sync::Arc;

use broker_wire::frame::{DataMessage, NodeId};
use broker_wire::Payload;
use bytes::Bytes;

use super::{matches, Routes, Shared};
use crate::link::{Encoder, Link};

/// The bytes one batch produces: for each link that wants part of it, the bytes its
/// encoding made and the number of messages they hold.
pub(crate) type Deliveries = Vec<(Arc<Link>, Bytes, usize)>;

/// Encodes `messages` once per encoding in use and cuts the bytes for each peer and
/// WebSocket client (except `skip`) whose filter wants some of them. Local-only topics
/// never leave the endpoint.
pub(crate) fn plan(
    shared: &Shared,
    routes: &Routes,
    messages: &[DataMessage<Payload>],
    skip: Option<NodeId>,
) -> Deliveries {
    plan_to(shared, routes, routes.link_positions(), messages, skip)
}

/// One encoding's encoder for a batch, and the bytes of the whole batch once made.
struct BatchEncoding {
    name: &'static str,
    encoder: Box<dyn Encoder>,
    whole: Option<(Bytes, usize)>,
}

/// [`plan`] for the links at `positions` only.
pub(super) fn plan_to(
    shared: &Shared,
    routes: &Routes,
    positions: Range<usize>,
    messages: &[DataMessage<Payload>],
    skip: Option<NodeId>,
) -> Deliveries {
    let mut deliveries = Vec::new();
    // Usually one: every link of an encoding shares its encoder, and the bytes of the
    // whole batch, which most links want.
    let mut encoders: Vec<BatchEncoding> = Vec::new();
    let mut selected = Vec::with_capacity(messages.len());
    for position in routes.wanting(positions, messages) {
        let peer = routes.link(position);
        if Some(peer.link.node) == skip {
            continue;
        }
        selected.clear();
        selected.extend((0..messages.len()).filter(|&i| {
            !messages[i].topic.is_local_only() && matches(&peer.filter, &messages[i].topic)
        }));
        if selected.is_empty() {
            continue;
        }
        let encoding = peer.link.encoding;
        let index = match encoders.iter().position(|e| e.name == encoding.name()) {
            Some(index) => index,
            None => {
                let encoder =
                    encoding.encoder(shared.node, messages.len(), shared.config.max_frame_len);
                encoders.push(BatchEncoding {
                    name: encoding.name(),
                    encoder,
                    whole: None,
                });
                encoders.len() - 1
            }
        };
        let BatchEncoding { encoder, whole, .. } = &mut encoders[index];
        let to = peer.link.node;
        let (bytes, count) = if selected.len() == messages.len() && !encoder.names_receiver() {
            whole
                .get_or_insert_with(|| encoder.encode(messages, &selected, to))
                .clone()
        } else {
            encoder.encode(messages, &selected, to)
        };
        if count > 0 {
            deliveries.push((peer.link.clone(), bytes, count));
        }
    }
    deliveries
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use broker_wire::Topic;

    use super::*;
    use crate::config::{Config, SlowPeerPolicy};
    use crate::link::{Encoding, BATCH};
    use crate::reports::Reporter;
    use crate::routing::PeerRoute;

    /// A second encoding, as a new kind of link brings one: one line per message
    /// naming its topic and the receiver. It counts the encoders made.
    struct Lines {
        encoders: AtomicUsize,
    }

    struct LinesEncoder;

    impl Encoding for Lines {
        fn name(&self) -> &'static str {
            "lines"
        }

        fn encoder(&self, _: NodeId, _: usize, _: usize) -> Box<dyn Encoder> {
            self.encoders.fetch_add(1, Ordering::Relaxed);
            Box::new(LinesEncoder)
        }
    }

    impl Encoder for LinesEncoder {
        fn encode(
            &mut self,
            messages: &[DataMessage<Payload>],
            selected: &[usize],
            to: NodeId,
        ) -> (Bytes, usize) {
            let lines: String = selected
                .iter()
                .map(|&i| format!("{} to {}\n", messages[i].topic.as_str(), to.0[0]))
                .collect();
            (Bytes::from(lines), selected.len())
        }

        fn names_receiver(&self) -> bool {
            true
        }
    }

    static LINES: Lines = Lines {
        encoders: AtomicUsize::new(0),
    };

    fn node(n: u8) -> NodeId {
        NodeId([n; 16])
    }

    fn route(
        n: u8,
        encoding: &'static dyn Encoding,
        filter: &str,
        reporter: &Reporter,
    ) -> PeerRoute {
        let link = Link::new(
            node(n),
            encoding,
            64,
            SlowPeerPolicy::Block,
            reporter.clone(),
        );
        PeerRoute {
            filter: Arc::new(vec![Topic::from(filter)]),
            link: Arc::new(link),
        }
    }

    #[test]
    fn each_link_gets_its_encodings_bytes_encoded_once_per_encoding() {
        let (reporter, _reports) = Reporter::channel();
        let shared = Shared::new(node(0), Config::default(), None, reporter.clone());
        let peers = vec![
            route(1, &BATCH, "/", &reporter),
            route(2, &LINES, "/", &reporter),
            route(3, &BATCH, "/", &reporter),
            route(4, &LINES, "/b", &reporter),
        ];
        let routes = Routes::new(peers, Vec::new(), Vec::new(), Arc::default());
        let messages = messages(&["/a", "/b", "/c"]);
        let before = LINES.encoders.load(Ordering::Relaxed);
        let deliveries = plan(&shared, &routes, &messages, None);
        assert_eq!(LINES.encoders.load(Ordering::Relaxed) - before, 1);
        let by_node = |n: u8| {
            let (_, bytes, count) = deliveries
                .iter()
                .find(|(link, _, _)| link.node == node(n))
                .expect("a delivery for every interested link");
            (bytes.clone(), *count)
        };
        let (first, count) = by_node(1);
        assert_eq!(count, 3);
        // The batch links wanting the whole batch share the very same bytes.
        assert_eq!(first.as_ptr(), by_node(3).0.as_ptr());
        assert_eq!(by_node(2), (Bytes::from("/a to 2\n/b to 2\n/c to 2\n"), 3));
        assert_eq!(by_node(4), (Bytes::from("/b to 4\n"), 1));
    }

    fn messages(topics: &[&str]) -> Vec<DataMessage<Payload>> {
        (1..)
            .zip(topics)
            .map(|(id, &topic)| DataMessage {
                origin: node(9),
                id,
                ttl: 4,
                topic: Topic::from(topic),
                data: broker_wire::Data::Count(id).into(),
            })
            .collect()
    }

    /// The nodes of `deliveries`, with the messages each got, by node.
    fn delivered(deliveries: &Deliveries) -> Vec<(u8, Bytes)> {
        let mut nodes: Vec<(u8, Bytes)> = deliveries
            .iter()
            .map(|(link, bytes, _)| (link.node.0[0], bytes.clone()))
            .collect();
        nodes.sort();
        nodes
    }

    #[test]
    fn a_batch_goes_to_the_links_that_want_some_of_it_and_no_other() {
        let (reporter, _reports) = Reporter::channel();
        let shared = Shared::new(node(0), Config::default(), None, reporter.clone());
        // Many peers each wanting their own node topic (as Zeek's nodes do), and two
        // WebSocket clients.
        let peers = (1..=200)
            .map(|n| route(n, &LINES, &format!("/node/{n}/"), &reporter))
            .collect();
        let clients = vec![
            route(201, &LINES, "/node/1", &reporter),
            route(202, &LINES, "/other", &reporter),
        ];
        let routes = Routes::new(peers, clients, Vec::new(), Arc::default());
        let batch = messages(&["/node/7/a", "/node/7/b", "/node/12/a", "<$>/local/node/3/"]);
        let lines = |text: &str| Bytes::from(text.to_string());
        assert_eq!(
            delivered(&plan(&shared, &routes, &batch, None)),
            vec![
                (7, lines("/node/7/a to 7\n/node/7/b to 7\n")),
                (12, lines("/node/12/a to 12\n")),
                (201, lines("/node/12/a to 201\n")),
            ]
        );
        // The peer a batch came from never gets it back; clients and peers apart.
        assert_eq!(
            delivered(&plan(&shared, &routes, &batch, Some(node(7)))),
            vec![
                (12, lines("/node/12/a to 12\n")),
                (201, lines("/node/12/a to 201\n")),
            ]
        );
        let clients = routes.client_positions();
        assert_eq!(
            delivered(&plan_to(&shared, &routes, clients, &batch, None)),
            vec![(201, lines("/node/12/a to 201\n"))]
        );
        let topic = Topic::from("/node/12/x");
        let mut wanting: Vec<u8> = routes
            .links_wanting(&topic)
            .map(|p| p.link.node.0[0])
            .collect();
        wanting.sort();
        assert_eq!(wanting, vec![12, 201]);
        assert!(!routes.peer_wants(&Topic::from("/node/300/")));
    }
}
