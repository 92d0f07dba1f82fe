//! The narrow channel from the data path and the store actors to the Core: what they
//! report (a slow peer, a status, a store actor gone), never a handle on the
//! Core itself. The Core reads the other end as a stream.

use broker_wire::frame::NodeId;
use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};

use crate::status::StatusEvent;

/// Something the Core must learn of.
#[derive(Debug)]
pub(crate) enum Report {
    /// A link's outbox stayed full (see `SlowPeerPolicy`).
    SlowPeer {
        node: NodeId,
        /// Whether messages were dropped (`Drop`) rather than the peer disconnected.
        dropped: bool,
    },
    /// An event for the status subscribers.
    Status(StatusEvent),
    /// A store actor's inbox went away: stop routing to subscription `id`.
    Unsubscribe(u64),
    /// Status events were shed from a full subscriber queue: report them once there
    /// is room (the Core sends this itself, to get a context for the retry timer).
    ShedStatusEvents,
}

/// The sending end; cheap to clone. Unbounded: reports are rare and the Core never
/// waits on the data path, so a report never stalls a sender.
#[derive(Clone)]
pub(crate) struct Reporter(UnboundedSender<Report>);

/// The Core's end.
pub(crate) type Reports = UnboundedReceiver<Report>;

impl Reporter {
    /// A new channel.
    pub(crate) fn channel() -> (Reporter, Reports) {
        let (tx, rx) = unbounded();
        (Reporter(tx), rx)
    }

    /// Tells the Core; dropped once the Core is gone (the endpoint shut down).
    pub(crate) fn report(&self, report: Report) {
        let _ = self.0.unbounded_send(report);
    }
}
