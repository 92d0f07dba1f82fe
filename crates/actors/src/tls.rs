//! TLS for peer connections, configured exactly as Broker configures OpenSSL, so that
//! broker-rs and Broker (Zeek) endpoints complete each other's TLS handshakes. The
//! connecting side is the TLS client, the accepting side the TLS server.
//!
//! Three modes, chosen once at endpoint creation:
//! - **authenticated** (any of certificate, key, passphrase, CA file or CA directory
//!   configured): mutual TLS, each side presents its certificate chain and requires and
//!   verifies the other's against the CA (`SSL_VERIFY_PEER|FAIL_IF_NO_PEER_CERT`),
//!   ciphers `HIGH:!aNULL:!MD5`, TLS ≥ 1.2.
//! - **anonymous** (`disable_ssl = false` without any of those, the default): encrypted,
//!   nobody authenticated, as Broker does it: no certificate at all, the anonymous
//!   cipher `AECDH-AES256-SHA` (security level 0 admits it), group P-384, no
//!   verification, TLS ≥ 1.2. A server without a certificate cannot do TLS 1.3, so
//!   these links are TLS 1.2. An authenticated endpoint meets it with no common
//!   cipher or a missing client certificate, so the two modes never exchange data.
//! - **plaintext** (`disable_ssl = true`): no TLS at all; see [`TlsContext::new`].
//!
//! OpenSSL (not rustls) because rustls has no anonymous ciphers, and Broker users' PEM
//! material includes X.509 v1 leaf certificates and legacy encrypted keys
//! (`Proc-Type: 4,ENCRYPTED`), which rustls rejects.

use std::path::{Path, PathBuf};
use std::pin::Pin;

use openssl::error::ErrorStack;
use openssl::pkey::PKey;
use openssl::ssl::{
    ErrorCode, Ssl, SslContext, SslContextBuilder, SslFiletype, SslMethod, SslOptions,
    SslVerifyMode, SslVersion,
};
use openssl::x509::store::X509Lookup;
use openssl::x509::X509;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_openssl::SslStream;

use crate::config::TlsConfig;

/// Broker's ciphers when certificates authenticate both sides.
const AUTHENTICATED_CIPHERS: &str = "HIGH:!aNULL:!MD5";
/// Broker's one anonymous cipher (TLS_ECDH_anon_WITH_AES_256_CBC_SHA); OpenSSL 1.1+
/// admits unauthenticated ciphers only at security level 0.
const ANONYMOUS_CIPHERS: &str = "AECDH-AES256-SHA@SECLEVEL=0";
/// The only key-exchange group Broker offers for anonymous links.
const ANONYMOUS_GROUPS: &str = "P-384";

/// Why TLS could not be set up or a TLS handshake failed.
#[derive(Debug, Error)]
pub enum TlsError {
    /// A configured file could not be read.
    #[error("cannot read {what} file {path}: {source}")]
    Read {
        /// Which option named the file.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A configured file was read but OpenSSL rejected its contents.
    #[error("cannot load {what} from {path}: {source}")]
    Load {
        /// Which option named the file.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// OpenSSL's errors (a wrong passphrase shows up here).
        source: ErrorStack,
    },
    /// The options are incomplete or contradictory.
    #[error("invalid TLS configuration: {0}")]
    Config(&'static str),
    /// OpenSSL failed while building the context.
    #[error("TLS setup failed: {0}")]
    Setup(#[from] ErrorStack),
    /// The TLS handshake with a peer failed (authentication, protocol mismatch).
    #[error("TLS handshake failed: {0}")]
    Handshake(String),
    /// The connection ended (closed or reset) under the TLS handshake: the peer went
    /// away rather than said anything wrong.
    #[error("connection closed during the TLS handshake: {0}")]
    Closed(String),
}

/// The TLS side of one endpoint: one OpenSSL context for both directions.
#[derive(Clone)]
pub struct TlsContext {
    context: SslContext,
}

impl std::fmt::Debug for TlsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsContext")
    }
}

impl TlsContext {
    /// The context for `config`, or `None` when `disable_ssl` asks for plaintext.
    /// Every file is read and checked here, so a wrong passphrase or an unreadable file
    /// fails endpoint creation with an error naming the file.
    pub fn new(config: &TlsConfig, disable_ssl: bool) -> Result<Option<Self>, TlsError> {
        if disable_ssl {
            return Ok(None);
        }
        let mut builder = SslContextBuilder::new(SslMethod::tls())?;
        builder.set_min_proto_version(Some(SslVersion::TLS1_2))?;
        if config.is_authenticated() {
            configure_authenticated(&mut builder, config)?;
        } else {
            configure_anonymous(&mut builder)?;
        }
        // Read whole records at once (as much as the socket has) instead of a header
        // and then a body: one `recv` per wake-up instead of three.
        builder.set_read_ahead(true);
        // Neither Broker nor we renegotiate; refusing it means that after the handshake
        // a TLS 1.2 write never has to read, so any thread may write (see
        // `link::writer`). A peer asking to renegotiate gets a `no_renegotiation` alert.
        builder.set_options(SslOptions::NO_RENEGOTIATION);
        Ok(Some(TlsContext {
            context: builder.build(),
        }))
    }

    /// Runs the client side of the handshake over `stream`.
    pub async fn connect<S>(&self, stream: S) -> Result<SslStream<S>, TlsError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut tls = self.stream(stream)?;
        Pin::new(&mut tls)
            .connect()
            .await
            .map_err(handshake_failed)?;
        Ok(tls)
    }

    /// Runs the server side of the handshake over `stream`.
    pub async fn accept<S>(&self, stream: S) -> Result<SslStream<S>, TlsError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut tls = self.stream(stream)?;
        Pin::new(&mut tls)
            .accept()
            .await
            .map_err(handshake_failed)?;
        Ok(tls)
    }

    fn stream<S>(&self, stream: S) -> Result<SslStream<S>, TlsError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let ssl = Ssl::new(&self.context)?;
        Ok(SslStream::new(ssl, stream)?)
    }
}

/// Why a handshake failed: the connection ended under it (an I/O error such as a reset,
/// a TLS close, or end of stream, which OpenSSL reports as a syscall error with nothing
/// on its error stack), or TLS itself failed.
fn handshake_failed(error: openssl::ssl::Error) -> TlsError {
    let stack = error
        .ssl_error()
        .map(ErrorStack::errors)
        .unwrap_or_default();
    let closed = error.io_error().is_some()
        || error.code() == ErrorCode::ZERO_RETURN
        || (error.code() == ErrorCode::SYSCALL && stack.is_empty());
    if closed {
        TlsError::Closed(error.to_string())
    } else {
        TlsError::Handshake(error.to_string())
    }
}

fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

/// Maps OpenSSL's rejection of a file's contents to an error naming the file.
fn load<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(ErrorStack) -> TlsError + 'a {
    move |source| TlsError::Load {
        what,
        path: path.to_owned(),
        source,
    }
}

fn configure_authenticated(
    builder: &mut SslContextBuilder,
    config: &TlsConfig,
) -> Result<(), TlsError> {
    let (Some(cert_path), Some(key_path)) = (&config.certificate, &config.key) else {
        return Err(TlsError::Config(
            "openssl_certificate and openssl_key must be set together",
        ));
    };
    if config.cafile.is_none() && config.capath.is_none() {
        return Err(TlsError::Config(
            "openssl_cafile or openssl_capath is needed to authenticate peers",
        ));
    }

    let chain = X509::stack_from_pem(&read_file("certificate", cert_path)?)
        .map_err(load("certificate", cert_path))?;
    let mut chain = chain.into_iter();
    let leaf = chain
        .next()
        .ok_or(TlsError::Config("openssl_certificate holds no certificate"))?;
    builder.set_certificate(&leaf)?;
    for extra in chain {
        builder.add_extra_chain_cert(extra)?;
    }

    let key_pem = read_file("key", key_path)?;
    let key = match &config.passphrase {
        Some(passphrase) => PKey::private_key_from_pem_passphrase(&key_pem, passphrase.as_bytes()),
        // Without a passphrase OpenSSL would prompt on the terminal for an encrypted key;
        // an empty one makes it fail cleanly instead.
        None => PKey::private_key_from_pem_passphrase(&key_pem, b""),
    }
    .map_err(load("key", key_path))?;
    builder.set_private_key(&key)?;
    builder.check_private_key().map_err(load("key", key_path))?;

    if let Some(cafile) = &config.cafile {
        read_file("CA", cafile)?;
        builder.set_ca_file(cafile).map_err(load("CA", cafile))?;
    }
    if let Some(capath) = &config.capath {
        let dir = capath
            .to_str()
            .ok_or(TlsError::Config("openssl_capath is not UTF-8"))?;
        builder
            .cert_store_mut()
            .add_lookup(X509Lookup::hash_dir())?
            .add_dir(dir, SslFiletype::PEM)
            .map_err(load("CA directory", capath))?;
    }
    builder.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    builder.set_cipher_list(AUTHENTICATED_CIPHERS)?;
    Ok(())
}

/// Broker's anonymous mode: no certificate, an anonymous ECDH cipher, no verification.
fn configure_anonymous(builder: &mut SslContextBuilder) -> Result<(), TlsError> {
    builder.set_verify(SslVerifyMode::NONE);
    builder.set_groups_list(ANONYMOUS_GROUPS)?;
    builder.set_cipher_list(ANONYMOUS_CIPHERS)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use foreign_types::ForeignTypeRef;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    extern "C" {
        /// Not wrapped by the openssl crate; asks for a renegotiation at the next I/O.
        fn SSL_renegotiate(ssl: *mut std::ffi::c_void) -> std::os::raw::c_int;
    }

    /// Inline writes from other threads rely on a write never having to read, which
    /// holds only while a handshake cannot start again. OpenSSL 3 servers already refuse
    /// a client's request to renegotiate; a server's request must leave our client out
    /// of any handshake too.
    #[tokio::test]
    async fn a_peer_cannot_make_us_renegotiate() {
        let ours = TlsContext::new(&TlsConfig::default(), false)
            .unwrap()
            .unwrap();
        // A server as ours but willing to renegotiate.
        let mut builder = SslContextBuilder::new(SslMethod::tls()).unwrap();
        configure_anonymous(&mut builder).unwrap();
        let willing = TlsContext {
            context: builder.build(),
        };
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let (client, server) = tokio::join!(ours.connect(client_io), willing.accept(server_io));
        let (mut client, mut server) = (client.unwrap(), server.unwrap());
        assert_eq!(client.ssl().version2(), Some(SslVersion::TLS1_2));
        // SAFETY: the pointer is the server's live `SSL`, used on this thread only.
        assert_eq!(unsafe { SSL_renegotiate(server.ssl().as_ptr().cast()) }, 1);
        // The server sends a HelloRequest, then waits for a ClientHello.
        let short = Duration::from_millis(200);
        let _ = tokio::time::timeout(short, server.write_all(b"x")).await;
        let mut buf = [0; 16];
        let _ = tokio::time::timeout(short, client.read(&mut buf)).await;
        assert!(client.ssl().is_init_finished(), "our client renegotiates");
        let write = tokio::time::timeout(short, client.write_all(b"still writing"));
        assert!(
            matches!(write.await, Ok(Ok(()))),
            "a write waits for a read"
        );
    }
}
