//! The endpoint's waits on a condition: a direct peer's subscription matching a topic
//! ([`Endpoint::await_peer_subscription`]), an endpoint becoming reachable
//! ([`Endpoint::await_peer`]), and the routing snapshot's conditions the store API
//! waits for. Each runs on the endpoint's thread, whose runtime has the timer, and ends
//! when the caller stops waiting.

use std::time::Duration;

use broker_wire::frame::NodeId;
use broker_wire::Topic;
use futures::channel::oneshot;
use futures::future::Either;
use tokio::sync::watch;

use super::Endpoint;
use crate::routing::Routes;

impl Endpoint {
    /// Waits up to `timeout` until some direct peer's (or WebSocket client's) filter
    /// matches `topic` (a message published on `topic` now would reach it); whether one
    /// does. Returns at once if one does already; `false` once the endpoint is shut down.
    pub fn await_peer_subscription(&self, topic: &Topic, timeout: Duration) -> bool {
        futures::executor::block_on(self.await_peer_subscription_async(topic, timeout))
    }

    /// Async [`Endpoint::await_peer_subscription`].
    pub async fn await_peer_subscription_async(&self, topic: &Topic, timeout: Duration) -> bool {
        let topic = topic.clone();
        self.await_routes(timeout, move |routes| routes.peer_wants(&topic))
            .await
    }

    /// Waits up to `timeout` until `node` is reachable, a peer or an endpoint further
    /// away that some peer speaking our protocol reaches (within the TTL); whether it is.
    pub fn await_peer(&self, node: &NodeId, timeout: Duration) -> bool {
        futures::executor::block_on(self.await_peer_async(node, timeout))
    }

    /// Async [`Endpoint::await_peer`].
    pub async fn await_peer_async(&self, node: &NodeId, timeout: Duration) -> bool {
        let node = *node;
        let reachable = self.inner.shared.watch_reachable();
        self.await_watch(reachable, timeout, move |nodes| nodes.contains(&node))
            .await
    }

    /// Waits up to `timeout` until the routing snapshot satisfies `condition`; whether
    /// it does.
    pub(crate) async fn await_routes(
        &self,
        timeout: Duration,
        condition: impl Fn(&Routes) -> bool + Send + 'static,
    ) -> bool {
        let routes = self.inner.shared.watch_routes();
        self.await_watch(routes, timeout, move |routes| condition(routes))
            .await
    }

    /// Waits up to `timeout` until the value `watched` satisfies `condition`; whether it
    /// does. The wait runs on the endpoint's thread, whose runtime has the timer, so
    /// callers need none; it ends early when the caller stops waiting.
    async fn await_watch<T: Send + Sync + 'static>(
        &self,
        mut watched: watch::Receiver<T>,
        timeout: Duration,
        condition: impl Fn(&T) -> bool + Send + 'static,
    ) -> bool {
        if condition(&watched.borrow_and_update()) {
            return true;
        }
        let (mut found, outcome) = oneshot::channel();
        let wait = async move {
            let changed = watched.wait_for(move |value| condition(value));
            let timed = std::pin::pin!(tokio::time::timeout(timeout, changed));
            let met = match futures::future::select(timed, found.cancellation()).await {
                // An error: the watch's sender is gone, the endpoint shut down.
                Either::Left((result, _)) => matches!(result, Ok(Ok(_))),
                Either::Right(_) => return,
            };
            let _ = found.send(met);
        };
        self.inner.arbiter.spawn(wait) && outcome.await.unwrap_or(false)
    }
}
