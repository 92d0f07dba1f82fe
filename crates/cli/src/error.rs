//! Errors of the tools, each with the context a user needs to fix the cause.

use thiserror::Error;

/// Every way a tool can fail after its arguments parsed.
#[derive(Debug, Error)]
pub enum CliError {
    /// The endpoint failed (start, listen, peer).
    #[error(transparent)]
    Endpoint(#[from] broker_actors::EndpointError),
    /// A `host:port` argument is malformed.
    #[error("invalid peer address {0:?}: expected host:port, e.g. 127.0.0.1:9999 or [::1]:9999")]
    PeerAddress(String),
    /// Input that should be a JSON-encoded Broker value is not one.
    #[error("invalid JSON value {input}: {reason}")]
    Json {
        /// The offending input.
        input: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A topology file is malformed or inconsistent.
    #[error("topology: {0}")]
    Topology(String),
    /// A store's backend or endpoint failed while attaching it.
    #[error(transparent)]
    Attach(#[from] broker_actors::AttachError),
    /// A clone found no direct peer holding its master in time.
    #[error("store {store}: no peer holds its master after {seconds}s")]
    NoMaster {
        /// The store.
        store: String,
        /// How long it waited.
        seconds: f64,
    },
    /// A master cannot be attached: a direct peer holds one already.
    #[error("store {store}: a peer already holds its master")]
    MasterExists {
        /// The store.
        store: String,
    },
    /// `broker-harness faults --scenario` names no scenario.
    #[error("no fault scenario {name:?}; there are: {known}")]
    UnknownScenario {
        /// The name given.
        name: String,
        /// The scenarios there are, comma-separated.
        known: String,
    },
    /// A node running as a child process of the harness failed.
    #[error("node {node} (child process): {reason}")]
    Child {
        /// The node.
        node: String,
        /// What went wrong.
        reason: String,
    },
    /// Standard input or output failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl CliError {
    /// A file error for `path`.
    pub fn file(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        CliError::File {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}
