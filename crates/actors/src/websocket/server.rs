//! The WebSocket server: accepts connections on its own socket, secures them with the
//! endpoint's TLS settings (Broker's server uses the peering settings), completes the
//! HTTP upgrade on `/v1/messages/json` and the v1 handshake (subscriptions, ack), then
//! runs each client as a session. Each connection is handled concurrently, bounded by
//! the handshake timeout, so idle or half-open connections cannot pile up.

use std::sync::Arc;

use actix::Addr;
use broker_wire::json::{self, Ack, ErrorMessage};
use broker_wire::Topic;
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;

use super::session::{self, Socket, Stream};
use crate::core::Core;
use crate::listener::accept;
use crate::routing::Shared;

/// What the server says it is in its ack.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Accepts WebSocket clients on `socket` until the task is aborted.
pub(crate) async fn serve(shared: Arc<Shared>, core: Addr<Core>, socket: TcpListener) {
    loop {
        let (stream, network) = accept(&socket).await;
        let (shared, core) = (shared.clone(), core.clone());
        actix::spawn(async move {
            let timeout = shared.config.handshake_timeout;
            // A client that fails its handshake only learns why itself: a port scan
            // or a confused client is no news for the endpoint.
            if let Ok(Some((socket, filter))) =
                tokio::time::timeout(timeout, handshake(&shared, stream)).await
            {
                let mut ack = String::new();
                Ack {
                    endpoint: shared.node.to_string(),
                    version: VERSION.to_owned(),
                }
                .encode(&mut ack);
                session::run(shared, core, socket, filter, network, Some(ack), None).await;
            }
        });
    }
}

/// The WebSocket settings of both roles: messages and frames as large as a native
/// frame may be.
pub(crate) fn socket_config(shared: &Shared) -> WebSocketConfig {
    let cap = shared.config.max_frame_len;
    WebSocketConfig::default()
        .max_message_size(Some(cap))
        .max_frame_size(Some(cap))
}

/// TLS if the endpoint uses it, the upgrade, and the client's subscriptions; `None`
/// if any fails (the client was told why where the protocol allows).
async fn handshake(shared: &Shared, stream: TcpStream) -> Option<(Socket, Vec<Topic>)> {
    let _ = stream.set_nodelay(true);
    let stream: Box<dyn Stream> = match &shared.tls {
        Some(tls) => Box::new(tls.accept(stream).await.ok()?),
        None => Box::new(stream),
    };
    let mut socket = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        check_path,
        Some(socket_config(shared)),
    )
    .await
    .ok()?;
    let refusal = loop {
        match socket.next().await? {
            Ok(Message::Text(text)) => {
                let decoder = json::Decoder::new(shared.config.max_frame_len);
                match decoder.subscriptions(text.as_bytes()) {
                    Ok(subscriptions) => return Some((socket, subscriptions.0)),
                    Err(error) => break Some(ErrorMessage::from(&error)),
                }
            }
            Ok(Message::Binary(_)) => break None,
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
            Ok(Message::Close(_)) | Err(_) => return None,
        }
    };
    // Zeek names what was wrong before it closes; Broker only closes.
    if let Some(refusal) = refusal {
        let mut text = String::new();
        refusal.encode(&mut text);
        let _ = socket.send(Message::text(text)).await;
    }
    let frame = CloseFrame {
        code: CloseCode::Policy,
        reason: "the first message must be a JSON array of topics".into(),
    };
    let _ = socket.close(Some(frame)).await;
    None
}

/// Accepts the upgrade on the API's path only, answering anything else as Broker
/// does: `400 Bad Request`.
#[allow(clippy::result_large_err)] // The callback's signature is tungstenite's.
fn check_path(request: &Request, response: Response) -> Result<Response, ErrorResponse> {
    if request.uri().path() == json::PATH {
        return Ok(response);
    }
    let mut refusal = ErrorResponse::new(Some(format!(
        "invalid path {}; try {}",
        request.uri().path(),
        json::PATH
    )));
    *refusal.status_mut() = StatusCode::BAD_REQUEST;
    Err(refusal)
}
