//! Errors of store operations and backends, and their Broker error codes.

use broker_wire::data::DataType;
use broker_wire::Data;
use thiserror::Error;

pub use broker_wire::codes::ErrorCode;

/// Every way a store operation or backend can fail.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The operation needs an existing key and there is none.
    #[error("no such key: {key}")]
    NoSuchKey {
        /// The missing key.
        key: Data,
    },
    /// The operation does not apply to the stored value, or the operand has the wrong type.
    #[error(
        "type clash: {op} on key {key} holding {}{}",
        describe(*.stored),
        operand.map(|t| format!(" with {}", describe(Some(t)))).unwrap_or_default()
    )]
    TypeClash {
        /// The operation's name, as in Broker's API (`increment`, `push`, ...).
        op: &'static str,
        /// The key the operation addressed.
        key: Data,
        /// The type of the stored value, or `None` when the key is missing.
        stored: Option<DataType>,
        /// The type of the operand (amount, index, ...), if the operation has one.
        operand: Option<DataType>,
    },
    /// A value, an option or a stored record is malformed.
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// The SQLite backend failed.
    #[error("sqlite backend: {context}: {source}")]
    Sqlite {
        /// What the backend was doing.
        context: &'static str,
        /// The underlying failure.
        #[source]
        source: rusqlite::Error,
    },
    /// Preparing the backend's files failed.
    #[error("{context} {path}: {source}")]
    Io {
        /// What the backend was doing.
        context: &'static str,
        /// The path involved.
        path: std::path::PathBuf,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// The requested backend type is not available (RocksDB).
    #[error("unsupported backend: {0}")]
    UnsupportedBackend(String),
}

impl StoreError {
    /// Broker's error code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            StoreError::NoSuchKey { .. } => ErrorCode::NoSuchKey,
            StoreError::TypeClash { .. } => ErrorCode::TypeClash,
            StoreError::InvalidData(_) => ErrorCode::InvalidData,
            StoreError::Sqlite { .. }
            | StoreError::Io { .. }
            | StoreError::UnsupportedBackend(_) => ErrorCode::BackendFailure,
        }
    }

    /// A closure wrapping a rusqlite error with what the backend was doing.
    pub(crate) fn sqlite(context: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        move |source| StoreError::Sqlite { context, source }
    }
}

/// A type for error messages: its name, or "nothing" when absent.
fn describe(t: Option<DataType>) -> String {
    match t {
        Some(t) => format!("{t:?}").to_lowercase(),
        None => "nothing".to_owned(),
    }
}
