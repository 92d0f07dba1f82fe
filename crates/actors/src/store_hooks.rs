//! What the store actors need from the endpoint beyond publishing to peers: running on the
//! endpoint's thread, reporting errors to status subscribers, delivering store events to
//! subscribers of the same endpoint (ordinary publishes never reach them), and reading a
//! queue as a stream.

use std::sync::Arc;

use actix::{Context, Handler, Message};
use broker_wire::{Data, Topic};
use futures::Stream;

use crate::core::Core;
use crate::queue::BoundedQueue;
use crate::routing::{matches, Shared};
use crate::status::{ErrorCode, StatusEvent};

/// Runs a closure on the endpoint's thread, inside its actor system: how a store actor is
/// started from a caller's thread.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct RunOnEndpoint(pub(crate) Box<dyn FnOnce() + Send>);

impl Handler<RunOnEndpoint> for Core {
    type Result = ();

    fn handle(&mut self, msg: RunOnEndpoint, _: &mut Context<Self>) {
        (msg.0)();
    }
}

/// Hands an event to the status subscribers.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct EmitStatus(pub(crate) StatusEvent);

impl Handler<EmitStatus> for Core {
    type Result = ();

    fn handle(&mut self, msg: EmitStatus, _: &mut Context<Self>) {
        self.emit(msg.0);
    }
}

/// Reports a store error to the endpoint's status subscribers.
pub(crate) fn emit_error(shared: &Shared, code: ErrorCode, message: String) {
    if let Some(core) = shared.core.get() {
        core.do_send(EmitStatus(StatusEvent::error(code, None, message)));
    }
}

/// Feeds `messages` to this endpoint's matching subscribers, in order, waiting for room
/// like deliveries from peers do.
pub(crate) async fn deliver_locally(shared: &Shared, messages: Vec<(Topic, Data)>) {
    if messages.is_empty() {
        return;
    }
    let routes = shared.routes();
    for (topic, data) in messages {
        for subscriber in routes
            .subscribers
            .iter()
            .filter(|s| matches(&s.filter, &topic))
        {
            // A closed queue belongs to a dropped subscriber: nothing to deliver.
            let _ = subscriber
                .queue
                .push_async((topic.clone(), data.clone()), 1)
                .await;
        }
    }
}

/// Everything a queue receives, in batches, until it is closed and drained.
pub(crate) fn batches<T: Send + 'static>(
    queue: Arc<BoundedQueue<T>>,
) -> impl Stream<Item = Vec<T>> {
    futures::stream::unfold(queue, |queue| async move {
        let batch = queue.pop_all_async().await?;
        Some((batch, queue))
    })
}
