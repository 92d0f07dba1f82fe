//! TLS for peer connections, compatible with Broker's OpenSSL configuration.
//!
//! Three modes, chosen once at endpoint creation:
//! - **authenticated**: a certificate, its key and a CA file or directory are configured;
//!   both sides present certificates and verify the other's against the CA.
//! - **anonymous** (`disable_ssl = false` without certificates, the default): the link is
//!   encrypted but nobody is authenticated, as Broker 1.4's anonymous TLS. Each endpoint
//!   presents an ephemeral self-signed certificate that nobody verifies; an
//!   authenticated endpoint rejects it, so the two modes never exchange data.
//! - **plaintext** (`disable_ssl = true`): no TLS at all; see [`TlsContext::new`].
//!
//! OpenSSL (not rustls) because Broker users' PEM material includes X.509 v1 leaf
//! certificates and legacy encrypted keys (`Proc-Type: 4,ENCRYPTED`), which rustls rejects.

use std::path::{Path, PathBuf};
use std::pin::Pin;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{Ssl, SslContext, SslContextBuilder, SslFiletype, SslMethod, SslVerifyMode};
use openssl::x509::store::X509Lookup;
use openssl::x509::{X509NameBuilder, X509};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_openssl::SslStream;

use crate::config::TlsConfig;

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
    /// The TLS handshake with a peer failed (authentication, protocol mismatch, I/O).
    #[error("TLS handshake failed: {0}")]
    Handshake(String),
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
        if config.is_authenticated() {
            configure_authenticated(&mut builder, config)?;
        } else {
            configure_anonymous(&mut builder)?;
        }
        // Read whole records at once (as much as the socket has) instead of a header
        // and then a body: one `recv` per wake-up instead of three.
        builder.set_read_ahead(true);
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
            .map_err(|e| TlsError::Handshake(e.to_string()))?;
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
            .map_err(|e| TlsError::Handshake(e.to_string()))?;
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
    Ok(())
}

/// An ephemeral self-signed identity nobody verifies: encryption without authentication.
fn configure_anonymous(builder: &mut SslContextBuilder) -> Result<(), TlsError> {
    let key = ephemeral_key()?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(Nid::COMMONNAME, "broker-anonymous")?;
    let name = name.build();
    let mut serial = BigNum::new()?;
    serial.rand(64, MsbOption::MAYBE_ZERO, false)?;
    let mut cert = X509::builder()?;
    cert.set_version(2)?;
    let serial = serial.to_asn1_integer()?;
    cert.set_serial_number(&serial)?;
    cert.set_subject_name(&name)?;
    cert.set_issuer_name(&name)?;
    cert.set_pubkey(&key)?;
    let not_before = Asn1Time::days_from_now(0)?;
    let not_after = Asn1Time::days_from_now(3650)?;
    cert.set_not_before(&not_before)?;
    cert.set_not_after(&not_after)?;
    cert.sign(&key, MessageDigest::sha256())?;
    builder.set_certificate(&cert.build())?;
    builder.set_private_key(&key)?;
    builder.set_verify(SslVerifyMode::NONE);
    Ok(())
}

fn ephemeral_key() -> Result<PKey<Private>, ErrorStack> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    PKey::from_ec_key(EcKey::generate(&group)?)
}
