//! Errors of encoding and decoding frames and of reading Zeek messages.

use thiserror::Error;

/// Every way encoding or decoding a frame, or reading a Zeek message, can fail. A
/// partial frame is not an error: decoding returns `Ok(None)` and waits for more
/// bytes.
#[derive(Debug, Error)]
pub enum WireError {
    /// The length prefix announces more bytes than the configured cap.
    #[error("frame of {len} bytes exceeds the cap of {cap} bytes")]
    FrameTooLarge {
        /// The announced frame length.
        len: usize,
        /// The configured cap.
        cap: usize,
    },
    /// The frame body is not a valid encoding of any frame.
    #[error("malformed frame: {0}")]
    Malformed(#[from] postcard::Error),
    /// The frame body decoded but left bytes unread.
    #[error("malformed frame: {0} trailing bytes")]
    TrailingBytes(usize),
    /// A value nests deeper than the decoder allows.
    #[error("value nests deeper than {0} levels")]
    TooDeep(usize),
    /// The peer speaks another protocol or another version of ours.
    #[error("incompatible peer: {0}")]
    Incompatible(String),
    /// A value is not a Zeek event of the layout `(1, 1, (name, (args...)))`.
    #[error("invalid Zeek event: {0}")]
    InvalidEvent(&'static str),
    /// Reading from or writing to the connection failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}
