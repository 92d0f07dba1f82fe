//! Opening a connection: TCP connect (outbound), TLS when the endpoint uses it, and
//! the handshake both directions share. The handshake is generic over any
//! `AsyncRead + AsyncWrite`; after it, the halves are boxed so the peer actor is not
//! generic.

use std::time::Duration;

use broker_wire::frame::{Frame, Hello};
use broker_wire::WireError;
use openssl::ssl::SslVersion;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::framing::{encode_frame, FrameReader};
use crate::info::NetworkInfo;
use crate::tls::{TlsContext, TlsError};

/// The read half of an established connection.
pub(crate) type BoxedReader = Box<dyn AsyncRead + Unpin + Send>;
/// The write half of an established connection.
pub(crate) type BoxedWriter = Box<dyn AsyncWrite + Unpin + Send>;

/// A connection whose handshake succeeded.
pub(crate) struct Established {
    /// Frames from the peer, after its `Hello`.
    pub(crate) reader: FrameReader<BoxedReader>,
    /// Bytes to the peer.
    pub(crate) writer: BoxedWriter,
    /// Whether a write never needs to read first (plaintext, TLS 1.3), so threads
    /// other than the peer's writer may write too.
    pub(crate) shareable_writes: bool,
    /// The peer's `Hello`.
    pub(crate) remote: Hello,
    /// Where the peer is.
    pub(crate) network: NetworkInfo,
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
    /// TLS, or `None` for plaintext.
    pub(crate) tls: Option<TlsContext>,
    /// The largest frame accepted.
    pub(crate) max_frame_len: usize,
    /// How long TLS and the handshake together may take.
    pub(crate) timeout: Duration,
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
    let Opening {
        hello,
        tls,
        max_frame_len,
        timeout,
    } = opening;
    let Some(tls) = tls else {
        return handshake(stream, network, hello, max_frame_len, timeout, true).await;
    };
    let started = tokio::time::Instant::now();
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
    // Below TLS 1.3 a write may have to read first (renegotiation): only the peer's
    // writer, which can wait for that, may write then.
    let tls13 = secured.ssl().version2() == Some(SslVersion::TLS1_3);
    let left = timeout.saturating_sub(started.elapsed());
    handshake(secured, network, hello, max_frame_len, left, tls13).await
}

/// Exchanges `Hello`s over `stream`: ours goes first, so that a peer of another
/// version learns about the mismatch too, then theirs must arrive within `timeout`.
/// `shareable_writes` says whether a write over `stream` never needs to read first.
async fn handshake<S>(
    stream: S,
    network: NetworkInfo,
    hello: Hello,
    max_frame_len: usize,
    timeout: Duration,
    shareable_writes: bool,
) -> Result<Established, ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (read_half, write_half) = tokio::io::split(stream);
    let mut writer: BoxedWriter = Box::new(write_half);
    let mut reader = FrameReader::new(Box::new(read_half) as BoxedReader, max_frame_len);
    let exchange = async {
        writer
            .write_all(&encode_frame(&Frame::Hello(hello)))
            .await?;
        writer.flush().await?;
        reader.handshake().await
    };
    let first = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| ConnectError::Timeout)?;
    let remote = match first {
        Ok(Some(remote)) => remote,
        Ok(None) => {
            return Err(ConnectError::Invalid(
                std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into(),
            ))
        }
        Err(WireError::Incompatible(why)) => return Err(ConnectError::Incompatible(why)),
        Err(err) => return Err(ConnectError::Invalid(err)),
    };
    Ok(Established {
        reader,
        writer,
        shareable_writes,
        remote,
        network,
    })
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
    }
}
