//! Opening a connection: TCP connect (outbound), TLS when the endpoint uses it, then
//! Broker's native handshake, which every connection speaks so that any peer may be a
//! Broker (Zeek). Inside it two broker-rs endpoints select our private version
//! ([`BROKER_RS_VERSION`]) and go on with our own `Hello` exchange and frames on the
//! same stream; with a Broker the connection speaks the native protocol (version 1).
//! The handshakes are generic over any `AsyncRead + AsyncWrite`; after them, the halves
//! are boxed so the peer actor is not generic.

mod peerings;

use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use broker_wire::frame::{Frame, Hello, NodeId};
use broker_wire::native::{
    Closed, DropConn, EndpointId, Handshake, HandshakeError, HandshakeMachine, NativeCodec,
    NativeError, Next, Reservation, Role, BROKER_RS_VERSION,
};
use broker_wire::{Topic, WireError};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::framing::{encode_frame, FrameReader};
use crate::info::NetworkInfo;
use crate::tls::{TlsContext, TlsError};

pub(crate) use peerings::{PeerSlot, Peerings};

/// The read half of an established connection.
pub(crate) type BoxedReader = Box<dyn AsyncRead + Unpin + Send>;
/// The write half of an established connection.
pub(crate) type BoxedWriter = Box<dyn AsyncWrite + Unpin + Send>;

/// Who is at the other end of an established connection, and so what it speaks.
pub(crate) enum Remote {
    /// A broker-rs endpoint: our frames follow; its `Hello`.
    BrokerRs(Hello),
    /// A Broker endpoint: native envelopes follow.
    Native {
        /// Its endpoint id.
        id: EndpointId,
        /// Its subscription filter, from the handshake.
        filter: Vec<Topic>,
    },
}

impl Remote {
    /// The peer's node id.
    pub(crate) fn node(&self) -> NodeId {
        match self {
            Remote::BrokerRs(hello) => hello.node,
            Remote::Native { id, .. } => *id,
        }
    }

    /// The peer's filter as the handshake said it.
    pub(crate) fn into_filter(self) -> Vec<Topic> {
        match self {
            Remote::BrokerRs(hello) => hello.filter,
            Remote::Native { filter, .. } => filter,
        }
    }
}

/// A connection whose handshake succeeded.
pub(crate) struct Established {
    /// Frames from the peer, after the handshake.
    pub(crate) reader: FrameReader<BoxedReader>,
    /// Bytes to the peer.
    pub(crate) writer: BoxedWriter,
    /// The peer and its protocol.
    pub(crate) remote: Remote,
    /// The peer's reservation, which the peering keeps.
    pub(crate) slot: PeerSlot,
    /// Where the peer is.
    pub(crate) network: NetworkInfo,
    /// The TCP socket's descriptor (see [`TcpSocket`]).
    pub(crate) socket: TcpSocket,
}

/// Linux's `TCP_ESTABLISHED` state (`include/net/tcp_states.h`), which libc lacks.
const TCP_ESTABLISHED: u8 = 1;

/// What the kernel knows of an established connection's TCP socket, asked through its
/// descriptor. Only valid while the connection's halves are alive, which the peering
/// that holds it guarantees; a reused descriptor answers at worst "not established".
#[derive(Debug, Clone, Copy)]
pub(crate) struct TcpSocket(RawFd);

impl TcpSocket {
    /// Whether the connection is still established: not reset or closed by the remote.
    pub(crate) fn established(self) -> bool {
        // SAFETY: `tcp_info` is plain data; getsockopt writes at most `len` bytes of it.
        let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let asked = unsafe {
            libc::getsockopt(
                self.0,
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&mut info as *mut libc::tcp_info).cast(),
                &mut len,
            )
        };
        asked != 0 || info.tcpi_state == TCP_ESTABLISHED
    }

    /// Makes the coming close a reset: a remote that stopped reading would otherwise
    /// never see the end, since a close's FIN waits behind the unsent data.
    pub(crate) fn reset_on_close(self) {
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid `linger` of the size given; failure only means a FIN instead.
        unsafe {
            libc::setsockopt(
                self.0,
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
    }
}

/// Every way opening a connection can fail.
#[derive(Debug, Error)]
pub(crate) enum ConnectError {
    /// TCP connect failed.
    #[error("{0}")]
    Unreachable(std::io::Error),
    /// The peer did not complete the handshake in time.
    #[error("handshake timed out")]
    Timeout,
    /// The peer speaks another version.
    #[error("{0}")]
    Incompatible(String),
    /// The peer sent something that is not a valid handshake.
    #[error("{0}")]
    Invalid(WireError),
    /// The native handshake failed (answered with drop_conn where Broker sends one).
    #[error("{0}")]
    Handshake(HandshakeError),
    /// The peer refused the connection with a drop_conn.
    #[error("peer refused the connection: {} (code {})", .0.description, .0.code)]
    Refused(DropConn),
    /// Another connection carries (or is opening) the peering with `peer`: this one
    /// was dropped as redundant, by us or by the peer (benign).
    #[error("redundant connection")]
    Redundant(EndpointId),
    /// TLS failed: authentication, or one side speaks TLS and the other not.
    #[error("{0}")]
    Tls(TlsError),
}

/// Which end of a connection this endpoint is: who starts the TLS handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// We connected.
    Outbound,
    /// We accepted.
    Inbound,
}

/// Everything the opening of a connection needs from the endpoint.
#[derive(Clone)]
pub(crate) struct Opening {
    /// Our handshake.
    pub(crate) hello: Hello,
    /// The peers reserved by handshakes and peerings.
    pub(crate) peerings: Arc<Peerings>,
    /// TLS, or `None` for plaintext.
    pub(crate) tls: Option<TlsContext>,
    /// The largest frame accepted.
    pub(crate) max_frame_len: usize,
    /// How long TLS and the handshake together may take.
    pub(crate) timeout: Duration,
    /// The highest version our native hello offers: [`BROKER_RS_VERSION`], or Broker's
    /// only version where the endpoint speaks the native protocol with everyone.
    pub(crate) max_version: u8,
}

/// Connects to `address:port`, secures the stream and performs the handshake.
pub(crate) async fn connect(
    address: &str,
    port: u16,
    opening: Opening,
) -> Result<Established, ConnectError> {
    let stream = tokio::time::timeout(opening.timeout, TcpStream::connect((address, port)))
        .await
        .map_err(|_| ConnectError::Unreachable(std::io::ErrorKind::TimedOut.into()))?
        .map_err(ConnectError::Unreachable)?;
    let network = NetworkInfo {
        address: address.to_owned(),
        port,
    };
    open(stream, Side::Outbound, network, opening).await
}

/// Secures an established TCP stream with TLS when the endpoint uses it, then
/// performs the handshake; both within the opening's timeout. A TLS endpoint and a
/// plaintext one fail here at once: each takes the other's first bytes for garbage.
pub(crate) async fn open(
    stream: TcpStream,
    side: Side,
    network: NetworkInfo,
    opening: Opening,
) -> Result<Established, ConnectError> {
    let _ = stream.set_nodelay(true);
    let socket = TcpSocket(stream.as_raw_fd());
    let started = tokio::time::Instant::now();
    let timeout = opening.timeout;
    let Some(tls) = opening.tls.clone() else {
        return handshake(stream, socket, side, network, opening, timeout).await;
    };
    let securing = async {
        match side {
            Side::Outbound => tls.connect(stream).await,
            Side::Inbound => tls.accept(stream).await,
        }
    };
    let secured = tokio::time::timeout(timeout, securing)
        .await
        .map_err(|_| ConnectError::Timeout)?
        .map_err(ConnectError::Tls)?;
    let left = timeout.saturating_sub(started.elapsed());
    handshake(secured, socket, side, network, opening, left).await
}

/// Runs Broker's handshake over `stream`, then ours if both ends are broker-rs, all
/// within `timeout`.
async fn handshake<S>(
    stream: S,
    socket: TcpSocket,
    side: Side,
    network: NetworkInfo,
    opening: Opening,
    timeout: Duration,
) -> Result<Established, ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (read_half, write_half) = tokio::io::split(stream);
    let mut writer: BoxedWriter = Box::new(write_half);
    let mut reader = FrameReader::new(Box::new(read_half) as BoxedReader, opening.max_frame_len);
    let exchange = async {
        let role = match side {
            Side::Outbound => Role::Connector,
            Side::Inbound => Role::Acceptor,
        };
        let native = native_handshake(&mut reader, &mut writer, role, &opening).await?;
        let remote = if native.version == BROKER_RS_VERSION {
            let hello = hello_exchange(&mut reader, &mut writer, opening.hello).await?;
            if hello.node != native.peer {
                return Err(ConnectError::Invalid(WireError::Incompatible(format!(
                    "node {} is not endpoint {}",
                    hello.node, native.peer
                ))));
            }
            Remote::BrokerRs(hello)
        } else {
            Remote::Native {
                id: native.peer,
                filter: native.filter,
            }
        };
        Ok((remote, native.slot))
    };
    let (remote, slot) = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| ConnectError::Timeout)??;
    Ok(Established {
        reader,
        writer,
        remote,
        slot,
        network,
        socket,
    })
}

/// What Broker's handshake settled.
struct Negotiated {
    peer: EndpointId,
    filter: Vec<Topic>,
    version: u8,
    slot: PeerSlot,
}

/// Drives a [`HandshakeMachine`] over the connection: hello or probe, the tie-break,
/// the reservation of the peer (parking a redundant connection until the other one
/// settles), the filters.
async fn native_handshake(
    reader: &mut FrameReader<BoxedReader>,
    writer: &mut BoxedWriter,
    role: Role,
    opening: &Opening,
) -> Result<Negotiated, ConnectError> {
    let own = opening.hello.node;
    let filter = opening.hello.filter.clone();
    let (mut machine, first) = HandshakeMachine::offering(role, own, filter, opening.max_version);
    let codec = NativeCodec::new(opening.max_frame_len);
    send_handshake(writer, &codec, &[first]).await?;
    let mut slot = None;
    // The peer whose reservation was refused (being connected or peered already).
    let mut refused = None;
    loop {
        let body = match reader.next_body().await {
            Ok(Some(body)) => body,
            Ok(None) => return Err(ConnectError::Invalid(eof().into())),
            Err(WireError::FrameTooLarge { len, cap }) => {
                // Refused before allocation, and answered as Broker answers bad input.
                let error = NativeError::FrameTooLarge { len, cap };
                let drop = Handshake::DropConn(DropConn {
                    sender: own,
                    code: error.ec() as u8,
                    description: error.description(),
                });
                let _ = send_handshake(writer, &codec, &[drop]).await;
                return Err(ConnectError::Handshake(error.into()));
            }
            Err(error) => return Err(ConnectError::Invalid(error)),
        };
        if let Ok(Handshake::Hello(hello)) = Handshake::decode(&body) {
            if hello.sender == own {
                return Err(ConnectError::Invalid(WireError::Incompatible(
                    "connected to itself".into(),
                )));
            }
        }
        let mut step = machine.receive(&body);
        loop {
            send_handshake(writer, &codec, &step.send).await?;
            step = match step.next {
                Next::Continue => break,
                Next::Reserve { peer, .. } => {
                    let (reservation, granted) = opening.peerings.reserve(peer);
                    if reservation != Reservation::Granted {
                        refused = Some(peer);
                    }
                    slot = granted;
                    machine.reserved(reservation)
                }
                Next::Parked { peer } => {
                    opening.peerings.settled(peer).await;
                    machine.drop_redundant()
                }
                Next::Established {
                    peer,
                    filter,
                    version,
                    ..
                } => {
                    let slot = slot.ok_or(ConnectError::Redundant(peer))?;
                    return Ok(Negotiated {
                        peer,
                        filter,
                        version,
                        slot,
                    });
                }
                Next::Closed(closed) => {
                    return Err(match (closed, refused) {
                        // Refused as the responder (drop_conn 40): as redundant as the
                        // originator's drop_conn 39, the peer being connected or peered.
                        (
                            Closed::Failed {
                                error: HandshakeError::RedundantAtResponder,
                                ..
                            },
                            Some(peer),
                        ) => ConnectError::Redundant(peer),
                        (closed, _) => closed_error(closed, &opening.peerings),
                    });
                }
            };
        }
    }
}

/// Why a native handshake ended without a peering.
fn closed_error(closed: Closed, peerings: &Peerings) -> ConnectError {
    match closed {
        Closed::Redundant { peer } => ConnectError::Redundant(peer),
        // A drop_conn 39 is benign where we hold the peer already (Broker's rule).
        Closed::DroppedByPeer(drop)
            if drop.code == broker_wire::codes::ErrorCode::RedundantConnection.code()
                && peerings.holds(drop.sender) =>
        {
            ConnectError::Redundant(drop.sender)
        }
        Closed::DroppedByPeer(drop)
            if drop.code == broker_wire::codes::ErrorCode::PeerIncompatible.code() =>
        {
            ConnectError::Incompatible(drop.description)
        }
        Closed::DroppedByPeer(drop) => ConnectError::Refused(drop),
        Closed::Failed {
            error:
                HandshakeError::Decode(
                    error @ (NativeError::UnsupportedVersions { .. }
                    | NativeError::UnsupportedVersionSelected(_)),
                ),
            ..
        } => ConnectError::Incompatible(error.description()),
        Closed::Failed { error, .. } => ConnectError::Handshake(error),
    }
}

/// Writes handshake messages and flushes them.
async fn send_handshake(
    writer: &mut BoxedWriter,
    codec: &NativeCodec,
    messages: &[Handshake],
) -> Result<(), ConnectError> {
    if messages.is_empty() {
        return Ok(());
    }
    let mut bytes = Vec::new();
    for message in messages {
        codec
            .encode_handshake(message, &mut bytes)
            .map_err(|e| ConnectError::Handshake(e.into()))?;
    }
    let write = async {
        writer.write_all(&bytes).await?;
        writer.flush().await
    };
    write
        .await
        .map_err(|e| ConnectError::Invalid(WireError::Io(e)))
}

fn eof() -> std::io::Error {
    std::io::ErrorKind::UnexpectedEof.into()
}

/// Exchanges our `Hello`s after Broker's handshake selected our version: ours goes
/// first, so that a peer of another version learns about the mismatch too.
async fn hello_exchange(
    reader: &mut FrameReader<BoxedReader>,
    writer: &mut BoxedWriter,
    hello: Hello,
) -> Result<Hello, ConnectError> {
    let send = async {
        writer
            .write_all(&encode_frame(&Frame::Hello(hello)))
            .await?;
        writer.flush().await
    };
    send.await
        .map_err(|e| ConnectError::Invalid(WireError::Io(e)))?;
    match reader.handshake().await {
        Ok(Some(remote)) => Ok(remote),
        Ok(None) => Err(ConnectError::Invalid(eof().into())),
        Err(WireError::Incompatible(why)) => Err(ConnectError::Incompatible(why)),
        Err(err) => Err(ConnectError::Invalid(err)),
    }
}

/// A frame's name for messages.
pub(crate) fn frame_name(frame: &Frame) -> &'static str {
    match frame {
        Frame::Hello(_) => "Hello",
        Frame::Filter(_) => "Filter",
        Frame::Batch(_) => "Batch",
        Frame::Ping(_) => "Ping",
        Frame::Pong(_) => "Pong",
        Frame::Goodbye => "Goodbye",
        Frame::Store(_) => "Store",
        Frame::Reach(_) => "Reach",
    }
}
