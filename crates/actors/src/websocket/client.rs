//! Connecting to a WebSocket server (Broker's, or Zeek's own since 7.2): TCP, TLS for
//! `wss://` with the endpoint's settings, the upgrade with an `X-Application-Name`
//! (which Zeek logs and checks), our subscriptions, and the server's answer: an ack,
//! or an error (Zeek ≥ 8 names what it refused).

use broker_wire::json::{self, ServerMessage, Subscriptions};
use broker_wire::Topic;
use futures::{SinkExt, StreamExt};
use thiserror::Error;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use super::server::socket_config;
use super::session::{Socket, Stream};
use crate::info::NetworkInfo;
use crate::routing::Shared;

/// How this endpoint introduces itself to Zeek (`[-/_.=:*@a-zA-Z0-9]+`).
pub(crate) const APPLICATION_NAME: &str = "broker-rs";

/// Why a connection to a WebSocket server failed.
#[derive(Debug, Error)]
pub(crate) enum OpenError {
    /// The URL is not a `ws://` or `wss://` URL with a host.
    #[error("invalid URL: {0}")]
    Url(String),
    /// TCP, TLS or the upgrade failed, or the server went away.
    #[error("{0}")]
    Unreachable(String),
    /// The handshake took longer than the handshake timeout.
    #[error("handshake timed out")]
    Timeout,
    /// The server answered our subscriptions with an error, or with something else
    /// than an ack.
    #[error("server refused the handshake: {0}")]
    Refused(String),
}

/// Connects to `url`, subscribes to `topics` and waits for the ack, all within the
/// handshake timeout; the connection and where it goes.
pub(crate) async fn open(
    shared: &Shared,
    url: &str,
    topics: &[Topic],
) -> Result<(Socket, NetworkInfo), OpenError> {
    tokio::time::timeout(
        shared.config.handshake_timeout,
        open_now(shared, url, topics),
    )
    .await
    .map_err(|_| OpenError::Timeout)?
}

async fn open_now(
    shared: &Shared,
    url: &str,
    topics: &[Topic],
) -> Result<(Socket, NetworkInfo), OpenError> {
    let mut request = url
        .into_client_request()
        .map_err(|e| OpenError::Url(e.to_string()))?;
    let uri = request.uri();
    let secure = match uri.scheme_str() {
        Some("ws") => false,
        Some("wss") => true,
        _ => {
            return Err(OpenError::Url(format!(
                "{url} is not a ws:// or wss:// URL"
            )))
        }
    };
    let host = uri
        .host()
        .ok_or_else(|| OpenError::Url(format!("{url} names no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    request.headers_mut().insert(
        "X-Application-Name",
        HeaderValue::from_static(APPLICATION_NAME),
    );
    let unreachable = |e: &dyn std::fmt::Display| OpenError::Unreachable(e.to_string());
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| unreachable(&e))?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Stream> = if secure {
        let Some(tls) = &shared.tls else {
            return Err(OpenError::Url(format!(
                "{url} asks for TLS, but the endpoint has disable_ssl set"
            )));
        };
        Box::new(tls.connect(tcp).await.map_err(|e| unreachable(&e))?)
    } else {
        Box::new(tcp)
    };
    let (mut socket, _) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(socket_config(shared)))
            .await
            .map_err(|e| unreachable(&e))?;
    let mut subscriptions = String::new();
    Subscriptions(topics.to_vec()).encode(&mut subscriptions);
    socket
        .send(Message::text(subscriptions))
        .await
        .map_err(|e| unreachable(&e))?;
    let decoder = json::Decoder::new(shared.config.max_frame_len);
    loop {
        let reply = match socket.next().await {
            Some(Ok(Message::Text(text))) => decoder.server_message(text.as_bytes()),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Ok(Message::Binary(_))) => {
                return Err(OpenError::Refused(
                    "a binary frame instead of an ack".into(),
                ))
            }
            Some(Ok(Message::Close(frame))) => {
                let why = frame.map_or_else(|| "no reason given".to_owned(), |f| f.to_string());
                return Err(OpenError::Refused(format!("closed: {why}")));
            }
            Some(Err(e)) => return Err(unreachable(&e)),
            None => return Err(OpenError::Unreachable("connection closed".into())),
        };
        return match reply {
            Ok(ServerMessage::Ack(_)) => Ok((
                socket,
                NetworkInfo {
                    address: host,
                    port,
                },
            )),
            Ok(ServerMessage::Error(error)) => Err(OpenError::Refused(format!(
                "{}: {}",
                error.code, error.context
            ))),
            Ok(ServerMessage::Data(_)) => Err(OpenError::Refused(
                "a data message instead of an ack".into(),
            )),
            Err(error) => Err(OpenError::Refused(error.to_string())),
        };
    }
}
