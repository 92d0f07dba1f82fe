//! The reader of a peer speaking Broker's native protocol: envelopes in, as Broker's
//! core handles them. Data for us (receiver nil or us) goes to the data path, stamped
//! with our origin and fresh ids (Broker's wire has none); a routing_update replaces
//! the peer's filter; a ping (keepalive or "BYE") is answered with a pong; messages
//! from a nil sender or ourselves are "local" in Broker's sense and dropped, as Broker
//! drops them; a store command goes to the data path on its topic like data, wrapped
//! as a `broker-command` value (`broker_store::messages`), where the store actors
//! subscribed to that topic take it. Everything already buffered is handled as one
//! batch.

use std::sync::Arc;

use actix::prelude::*;
use broker_store::messages::broker_command_to_data;
use broker_wire::frame::{DataMessage, NodeId};
use broker_wire::native::{Content, Envelope, NativeCodec};
use broker_wire::WireError;

use super::{sanitize, CloseReason};
use crate::connection::BoxedReader;
use crate::core::{Core, PeerFilter};
use crate::framing::FrameReader;
use crate::link::Link;
use crate::metrics::MessageKind;
use crate::routing::{receive_fresh, Shared};

/// At most this many messages are handed to the data path at once.
const MAX_BATCH: usize = 1024;

/// Reads envelopes until the connection ends; returns why.
pub(super) async fn read_loop(
    shared: Arc<Shared>,
    core: Addr<Core>,
    node: NodeId,
    conn: u64,
    link: Arc<Link>,
    mut reader: FrameReader<BoxedReader>,
) -> CloseReason {
    let own = shared.node;
    let peer = node;
    let mut batch = Vec::new();
    // The Core's keepalive tick reads the link's liveness (see `super::read_loop`).
    loop {
        let mut next = match reader.next_body().await {
            Ok(Some(body)) => Some(body),
            Ok(None) | Err(WireError::Io(_)) => return CloseReason::Closed,
            Err(err) => return CloseReason::Invalid(err.to_string()),
        };
        link.liveness.frame_arrived();
        while let Some(body) = next.take() {
            // CAF skips empty frames in phase 3.
            if !body.is_empty() {
                let envelope = match Envelope::decode(&body) {
                    Ok(envelope) => envelope,
                    Err(err) => {
                        return CloseReason::Invalid(format!("invalid native message: {err}"))
                    }
                };
                let local = envelope.sender.is_nil() || envelope.sender == own;
                let for_us = envelope.receiver.is_nil() || envelope.receiver == own;
                if !local && for_us {
                    shared
                        .counters
                        .processed(message_kind(&envelope.content), 1);
                    match envelope.content {
                        Content::Data(data) => batch.push(DataMessage {
                            origin: shared.node,
                            id: 0,
                            ttl: envelope.ttl,
                            topic: envelope.topic,
                            data,
                        }),
                        Content::RoutingUpdate(filter) => core.do_send(PeerFilter {
                            node,
                            conn,
                            filter: sanitize(filter),
                        }),
                        Content::Ping(payload) => {
                            let pong = Envelope::control(own, peer, Content::Pong(payload));
                            let mut out = Vec::new();
                            if NativeCodec::new(usize::MAX)
                                .encode_envelope(&pong, &mut out)
                                .is_ok()
                            {
                                link.answer(out.into()).await;
                            }
                        }
                        // Keepalive answers: receiving them was the point.
                        Content::Pong(_) => {}
                        Content::Command(command) => batch.push(DataMessage {
                            origin: shared.node,
                            id: 0,
                            ttl: envelope.ttl,
                            topic: envelope.topic,
                            data: broker_command_to_data(&command),
                        }),
                    }
                }
            }
            if batch.len() < MAX_BATCH {
                next = match reader.buffered_body() {
                    Ok(body) => body,
                    Err(err) => return CloseReason::Invalid(err.to_string()),
                };
            }
        }
        if !batch.is_empty() {
            let first = shared.reserve_ids(batch.len());
            for (message, id) in batch.iter_mut().zip(first..) {
                message.id = id;
            }
            receive_fresh(&shared, node, std::mem::take(&mut batch)).await;
        }
        link.liveness.listening();
    }
}

/// The metrics' kind of a native message.
fn message_kind(content: &Content) -> MessageKind {
    match content {
        Content::Data(_) => MessageKind::Data,
        Content::Command(_) => MessageKind::Command,
        Content::RoutingUpdate(_) => MessageKind::RoutingUpdate,
        Content::Ping(_) => MessageKind::Ping,
        Content::Pong(_) => MessageKind::Pong,
    }
}
