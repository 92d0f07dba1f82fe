//! A WebSocket connection after its v1 handshake, whichever side opened it: the link
//! the Core routes to, a writer sending the link's outbox as text frames, and a
//! reader publishing what the other side sends on its behalf. The Core learns of the
//! connection (`AttachClient`) before either task runs, and of its end
//! (`ClientClosed`) when the reader stops.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::Addr;
use broker_wire::frame::{DataMessage, NodeId};
use broker_wire::json::{self, ErrorMessage, JsonError, ServerMessage};
use broker_wire::Topic;
use bytes::Bytes;
use futures::stream::{SplitSink, SplitStream};
use futures::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use super::encoding::{JSON, SEPARATOR};
use super::PEER_TYPE;
use crate::core::{AttachClient, ClientClosed, Core};
use crate::info::{EndpointInfo, LinkType, NetworkInfo};
use crate::link::Link;
use crate::peer::CloseReason;
use crate::reports::Report;
use crate::routing::{receive_from_client, Shared};
use crate::status::{ErrorCode, StatusEvent};

/// Any byte stream a WebSocket runs over: TCP, or TLS over TCP.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Stream for S {}

/// A WebSocket over any stream.
pub(crate) type Socket = WebSocketStream<Box<dyn Stream>>;

/// At most this many messages are read before they are published as one batch.
const MAX_BATCH: usize = 1024;

/// What the Core needs to know of a connection and to end it.
pub(crate) struct Session {
    /// The id the other side has in our routing (a fresh one per connection).
    pub(crate) node: NodeId,
    /// What it gets: the topic prefixes it subscribed to.
    pub(crate) filter: Vec<Topic>,
    /// Where it is.
    pub(crate) network: NetworkInfo,
    /// Its link.
    pub(crate) link: Arc<Link>,
    /// Set to end the connection at once, without flushing.
    pub(crate) kill: watch::Sender<bool>,
    /// Becomes true when the writer is done (closed the connection or failed).
    pub(crate) written: watch::Receiver<bool>,
}

/// Runs a connection whose handshake is done: attaches it to the Core, then reads
/// until it ends. `first` is queued before any data (the server's ack); `target`
/// names the URL of a connection we opened, so the Core can retry it.
pub(crate) async fn run(
    shared: Arc<Shared>,
    core: Addr<Core>,
    socket: Socket,
    filter: Vec<Topic>,
    network: NetworkInfo,
    first: Option<String>,
    target: Option<String>,
) {
    let node = NodeId::random();
    let config = &shared.config;
    let link = Arc::new(Link::new(
        node,
        &JSON,
        config.web_socket_buffer,
        config.web_socket_overflow,
        shared.reporter.clone(),
    ));
    if let Some(first) = first {
        let _ = link.outbox.push_unbounded(Bytes::from(first + "\n"));
    }
    let (kill, killed) = watch::channel(false);
    let (written_tx, written) = watch::channel(false);
    let session = Session {
        node,
        filter,
        network,
        link: link.clone(),
        kill,
        written,
    };
    let outbound = target.is_some();
    let context = EndpointInfo {
        node,
        network: Some(session.network.clone()),
        link: LinkType::WebSocket,
    };
    let attached = core.send(AttachClient { session, target }).await;
    if !matches!(attached, Ok(true)) {
        return; // Shutting down: dropping the socket closes it.
    }
    let (sink, mut stream) = socket.split();
    let closing = Arc::new(Mutex::new(None));
    let mut writer = actix::spawn({
        let (link, closing, killed) = (link.clone(), closing.clone(), killed.clone());
        async move {
            let mut sink = sink;
            // A write error ends the connection as the reader will see; only a kill
            // leaves the socket to be dropped at once.
            let killed = tokio::select! {
                _ = write_loop(link, &mut sink, closing) => false,
                _ = until_killed(killed) => true,
            };
            let _ = written_tx.send(true);
            (!killed).then_some(sink)
        }
    });
    let (reason, refused) = tokio::select! {
        ended = read_loop(&shared, &context, outbound, &mut stream, &link) => {
            let (reason, frame) = ended;
            let refused = frame.is_some();
            *closing.lock().expect("close frame lock poisoned") = frame;
            (reason, refused)
        }
        _ = until_killed(killed) => (CloseReason::Closed, false),
    };
    core.do_send(ClientClosed { node, reason });
    // The Core closes the outbox; the writer flushes it and says goodbye, in time.
    let sink = match tokio::time::timeout(FLUSH_TIMEOUT, &mut writer).await {
        Ok(Ok(sink)) => sink,
        _ => {
            writer.abort();
            None
        }
    };
    if let (true, Some(sink)) = (refused, sink) {
        if let Ok(socket) = stream.reunite(sink) {
            linger(socket).await;
        }
    }
}

/// Resolves when the Core kills the connection; never if it only forgets it (the
/// sender dropped): a connection it forgot still flushes and closes.
async fn until_killed(mut killed: watch::Receiver<bool>) {
    if killed.wait_for(|k| *k).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// How long a closing connection may take to flush what was queued for it.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a refused connection's input is drained after the close frame.
const LINGER: Duration = Duration::from_secs(2);

/// Ends a refused connection after its close frame: shuts our direction (the client,
/// which waits for the server to close, learns at once), then drains what the client
/// still sends (the rest of an oversized message, say) until it closes, for at most
/// [`LINGER`]: closing a socket with unread input resets the connection, and the
/// client would lose our close frame with it.
async fn linger(mut socket: Socket) {
    let drain = async {
        let stream = socket.get_mut();
        let _ = stream.shutdown().await;
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(1..) = stream.read(&mut buffer).await {}
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// Sends the outbox, one text frame per line, flushing once per wake-up; when the
/// outbox is closed and drained, the close frame (the reader's reason, if any).
async fn write_loop(
    link: Arc<Link>,
    sink: &mut SplitSink<Socket, Message>,
    closing: Arc<Mutex<Option<CloseFrame>>>,
) -> Result<(), WsError> {
    loop {
        let open = link.outbox.wait_items_async().await;
        for bytes in link.outbox.pop_now(usize::MAX) {
            for line in bytes.split(|b| *b == SEPARATOR).filter(|l| !l.is_empty()) {
                let text = Utf8Bytes::try_from(bytes.slice_ref(line))
                    .expect("the JSON encoder writes UTF-8");
                sink.feed(Message::Text(text)).await?;
            }
        }
        sink.flush().await?;
        link.made_progress();
        if !open {
            let frame = closing.lock().expect("close frame lock poisoned").take();
            sink.send(Message::Close(frame)).await?;
            return sink.close().await;
        }
    }
}

/// Reads until the connection ends: decodes each text frame as a data message and
/// publishes them in batches. A client's undecodable message is answered with an
/// error message; a server's errors (`outbound`) become error statuses. Returns why
/// it ended and the close frame to send, if the other side is to blame.
async fn read_loop(
    shared: &Shared,
    context: &EndpointInfo,
    outbound: bool,
    stream: &mut SplitStream<Socket>,
    link: &Link,
) -> (CloseReason, Option<CloseFrame>) {
    let node = context.node;
    let decoder = json::Decoder::new(shared.config.max_frame_len);
    // Broker numbers a client's messages after its subscriptions from 1.
    let mut inputs = 0u64;
    let mut next_id = 1u64;
    loop {
        let Some(first) = stream.next().await else {
            return (CloseReason::Closed, None);
        };
        let mut batch = Vec::new();
        let mut next = Some(first);
        let mut ended = None;
        while let Some(item) = next.take() {
            match item {
                Ok(Message::Text(text)) => {
                    let received = if outbound {
                        server_data(shared, context, &decoder, text.as_bytes())
                    } else {
                        inputs += 1;
                        client_data(&decoder, inputs, text.as_bytes(), link).await
                    };
                    if let Some(message) = received {
                        batch.push(DataMessage {
                            origin: node,
                            id: next_id,
                            ttl: shared.config.ttl,
                            topic: message.topic,
                            data: message.data,
                        });
                        next_id += 1;
                    }
                }
                Ok(Message::Binary(_)) => {
                    ended = Some(refuse(
                        CloseCode::Unsupported,
                        "binary frames are not supported",
                    ));
                }
                Ok(Message::Close(_)) => ended = Some((CloseReason::Closed, None)),
                // Pings are answered by the WebSocket layer.
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                Err(WsError::Capacity(CapacityError::MessageTooLong { size, max_size })) => {
                    ended = Some(refuse(
                        CloseCode::Size,
                        &format!("message of {size} bytes exceeds the cap of {max_size} bytes"),
                    ));
                }
                Err(WsError::Protocol(why)) => {
                    ended = Some(refuse(CloseCode::Protocol, &why.to_string()));
                }
                Err(WsError::Utf8(why)) => {
                    ended = Some(refuse(CloseCode::Invalid, &why));
                }
                Err(_) => ended = Some((CloseReason::Closed, None)),
            }
            if ended.is_none() && batch.len() < MAX_BATCH {
                next = stream.next().now_or_never().flatten();
            }
        }
        if !batch.is_empty() {
            receive_from_client(shared, node, batch).await;
        }
        if let Some(ended) = ended {
            return ended;
        }
    }
}

/// A server's text frame: its data message, if it is one. Its error messages, and
/// what we could not read, become error statuses; a second ack says nothing new.
fn server_data(
    shared: &Shared,
    context: &EndpointInfo,
    decoder: &json::Decoder,
    text: &[u8],
) -> Option<json::DataMessage> {
    match decoder.server_message(text) {
        Ok(ServerMessage::Data(message)) => return Some(message),
        Ok(ServerMessage::Error(error)) => {
            let code = ErrorCode::from_name(error.code.as_str()).unwrap_or(ErrorCode::Unspecified);
            let why = format!("{PEER_TYPE} server: {}", error.context);
            report(shared, context, code, why);
        }
        Ok(ServerMessage::Ack(_)) => {}
        Err(error) => {
            let why = format!("{PEER_TYPE} server sent {error}");
            report(shared, context, ErrorCode::DeserializationFailed, why);
        }
    }
    None
}

/// A client's text frame, its input number `input`: its data message, or, when it does
/// not decode, none and an error message back to the client.
async fn client_data(
    decoder: &json::Decoder,
    input: u64,
    text: &[u8],
    link: &Link,
) -> Option<json::DataMessage> {
    let error = match decoder.data_message(text) {
        Ok(message) => return Some(message),
        Err(error) => error,
    };
    let mut line = String::new();
    input_error(input, &error).encode(&mut line);
    line.push(SEPARATOR as char);
    // Counts as a message: a client that floods garbage without reading meets the
    // overflow policy.
    link.send(Bytes::from(line), 1).await;
    None
}

/// Tells the status subscribers of a server's complaint (or of what it sent that we
/// could not read); the connection goes on.
fn report(shared: &Shared, context: &EndpointInfo, code: ErrorCode, why: String) {
    let event = StatusEvent::error(code, Some(context.clone()), why);
    shared.reporter.report(Report::Status(event));
}

/// The connection ends because the other side sent `why`; the close frame says so.
fn refuse(code: CloseCode, why: &str) -> (CloseReason, Option<CloseFrame>) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(json::excerpt(why)),
    };
    (CloseReason::Invalid(why.to_owned()), Some(frame))
}

/// Broker's error message for input number `input` that failed to decode.
fn input_error(input: u64, error: &JsonError) -> ErrorMessage {
    let context = match error {
        JsonError::Syntax(why) => format!("input #{input} contained malformed JSON -> {why}"),
        JsonError::WrongType {
            expected: "a JSON object",
            ..
        } => format!("input #{input} expected a JSON object"),
        other => format!("input #{input} contained invalid data -> {other}"),
    };
    ErrorMessage {
        code: error.code(),
        context,
    }
}
