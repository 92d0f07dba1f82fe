//! [`SqliteBackend`]: entries in a SQLite file that outlives the process.
//!
//! Schema: `store(key BLOB PRIMARY KEY, value BLOB, expiry INTEGER)` with an index on
//! `expiry`, plus `meta(key, value)` recording the encoding format. Keys and values are
//! encoded by [`crate::encoding`]; expiries are nanoseconds since the epoch. Every write is
//! its own autocommitted statement, so it is durable as far as `synchronous` promises once
//! the call returns.

mod options;

use std::path::Path;

use broker_wire::data::Set;
use broker_wire::{Data, Timestamp};
use rusqlite::{params, Connection, OptionalExtension};

pub use options::{FailureMode, JournalMode, SqliteOptions, Synchronous};

use crate::backend::{Backend, Entry};
use crate::encoding::{decode, encode_key, encode_value};
use crate::error::StoreError;

/// The `meta` value identifying files written by this crate.
const FORMAT: &str = "broker-rs-postcard-1";

/// A backend persisting every entry in a SQLite database file.
#[derive(Debug)]
pub struct SqliteBackend {
    conn: Connection,
}

impl SqliteBackend {
    /// Opens (or creates) the database at `options.path`, creating missing parent
    /// directories, applying the pragmas, and serving whatever the file already holds.
    /// With `FailureMode::Delete`, a file that cannot be opened as a store (corrupt, not
    /// SQLite, failing the integrity check) is deleted and a fresh one created, as
    /// Broker does.
    pub fn open(options: &SqliteOptions) -> Result<Self, StoreError> {
        create_parent_dirs(&options.path)?;
        match Self::open_file(options) {
            Err(_) if options.failure_mode == FailureMode::Delete && options.path.is_file() => {
                std::fs::remove_file(&options.path).map_err(|source| StoreError::Io {
                    context: "deleting a corrupt database",
                    path: options.path.clone(),
                    source,
                })?;
                Self::open_file(options)
            }
            opened => opened,
        }
    }

    /// [`SqliteBackend::open`] without the retry.
    fn open_file(options: &SqliteOptions) -> Result<Self, StoreError> {
        let conn =
            Connection::open(&options.path).map_err(StoreError::sqlite("opening database"))?;
        if let Some(mode) = options.journal_mode {
            // `journal_mode` answers with the mode in effect, so it needs the query form.
            conn.pragma_update_and_check(None, "journal_mode", mode.as_str(), |row| {
                row.get::<_, String>(0)
            })
            .map_err(StoreError::sqlite("setting journal_mode"))?;
        }
        if let Some(level) = options.synchronous {
            conn.pragma_update(None, "synchronous", level.as_str())
                .map_err(StoreError::sqlite("setting synchronous"))?;
        }
        prepare_schema(&conn)?;
        if options.integrity_check {
            check_integrity(&conn)?;
        }
        Ok(SqliteBackend { conn })
    }

    /// The value column of `key`'s row, still encoded.
    fn raw_value(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn
            .prepare_cached("SELECT value FROM store WHERE key = ?1")
            .and_then(|mut stmt| stmt.query_row([key], |row| row.get(0)).optional())
            .map_err(StoreError::sqlite("reading a value"))
    }
}

/// Creates the directories above `path` that do not exist yet.
fn create_parent_dirs(path: &Path) -> Result<(), StoreError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                context: "creating directory",
                path: dir.to_path_buf(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// Runs `PRAGMA integrity_check`; an error unless it answers just `ok`.
fn check_integrity(conn: &Connection) -> Result<(), StoreError> {
    let messages = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| row.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(StoreError::sqlite("checking integrity"))?;
    if messages == ["ok"] {
        return Ok(());
    }
    Err(StoreError::InvalidData(format!(
        "integrity check failed: {}",
        messages.join("; ")
    )))
}

/// Creates the tables in a new file, or checks that an existing file is ours.
fn prepare_schema(conn: &Connection) -> Result<(), StoreError> {
    let has_table = |name: &str| -> Result<bool, StoreError> {
        conn.query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [name],
            |row| row.get(0),
        )
        .map_err(StoreError::sqlite("inspecting schema"))
    };
    if has_table("store")? {
        let format: Option<String> = if has_table("meta")? {
            conn.query_row("SELECT value FROM meta WHERE key = 'format'", [], |row| {
                row.get(0)
            })
            .optional()
            .map_err(StoreError::sqlite("reading the format"))?
        } else {
            None
        };
        return match format.as_deref() {
            Some(FORMAT) => Ok(()),
            other => Err(StoreError::InvalidData(format!(
                "database holds a store in format {other:?}, expected {FORMAT:?}"
            ))),
        };
    }
    conn.execute_batch(&format!(
        "BEGIN;
         CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
         INSERT OR REPLACE INTO meta VALUES ('format', '{FORMAT}');
         CREATE TABLE store(key BLOB PRIMARY KEY, value BLOB NOT NULL, expiry INTEGER)
             WITHOUT ROWID;
         CREATE INDEX store_expiry ON store(expiry) WHERE expiry IS NOT NULL;
         COMMIT;"
    ))
    .map_err(StoreError::sqlite("creating schema"))
}

impl Backend for SqliteBackend {
    fn get(&self, key: &Data) -> Result<Option<Data>, StoreError> {
        self.raw_value(&encode_key(key)?)?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    fn get_entry(&self, key: &Data) -> Result<Option<Entry>, StoreError> {
        let encoded = encode_key(key)?;
        let row: Option<(Vec<u8>, Option<i64>)> = self
            .conn
            .prepare_cached("SELECT value, expiry FROM store WHERE key = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([encoded], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
            })
            .map_err(StoreError::sqlite("reading an entry"))?;
        row.map(|(value, expiry)| {
            Ok(Entry {
                key: key.clone(),
                value: decode(&value)?,
                expiry: expiry.map(Timestamp),
            })
        })
        .transpose()
    }

    fn put(
        &mut self,
        key: Data,
        value: Data,
        expiry: Option<Timestamp>,
    ) -> Result<Option<Data>, StoreError> {
        let key = encode_key(&key)?;
        let value = encode_value(&value)?;
        let previous = self.raw_value(&key)?;
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO store(key, value, expiry) VALUES (?1, ?2, ?3)")
            .and_then(|mut stmt| stmt.execute(params![key, value, expiry.map(|t| t.0)]))
            .map_err(StoreError::sqlite("writing an entry"))?;
        previous.map(|bytes| decode(&bytes)).transpose()
    }

    fn erase(&mut self, key: &Data) -> Result<bool, StoreError> {
        let key = encode_key(key)?;
        let erased = self
            .conn
            .prepare_cached("DELETE FROM store WHERE key = ?1")
            .and_then(|mut stmt| stmt.execute([key]))
            .map_err(StoreError::sqlite("erasing an entry"))?;
        Ok(erased > 0)
    }

    fn clear(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM store", [])
            .map_err(StoreError::sqlite("clearing"))?;
        Ok(())
    }

    fn exists(&self, key: &Data) -> Result<bool, StoreError> {
        let key = encode_key(key)?;
        self.conn
            .prepare_cached("SELECT 1 FROM store WHERE key = ?1")
            .and_then(|mut stmt| stmt.exists([key]))
            .map_err(StoreError::sqlite("checking a key"))
    }

    fn keys(&self) -> Result<Set, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key FROM store")
            .map_err(StoreError::sqlite("listing keys"))?;
        let rows = stmt
            .query_map([], |row| row.get::<_, Vec<u8>>(0))
            .map_err(StoreError::sqlite("listing keys"))?;
        rows.map(|bytes| decode(&bytes.map_err(StoreError::sqlite("listing keys"))?))
            .collect()
    }

    fn size(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM store", [], |row| row.get(0))
            .map_err(StoreError::sqlite("counting entries"))
    }

    fn expired(&self, now: Timestamp) -> Result<Vec<Data>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT key FROM store WHERE expiry IS NOT NULL AND expiry <= ?1 ORDER BY expiry",
            )
            .map_err(StoreError::sqlite("finding expired entries"))?;
        let rows = stmt
            .query_map([now.0], |row| row.get::<_, Vec<u8>>(0))
            .map_err(StoreError::sqlite("finding expired entries"))?;
        rows.map(|bytes| decode(&bytes.map_err(StoreError::sqlite("finding expired entries"))?))
            .collect()
    }

    fn next_expiry(&self) -> Result<Option<Timestamp>, StoreError> {
        self.conn
            .query_row("SELECT min(expiry) FROM store", [], |row| {
                row.get::<_, Option<i64>>(0)
            })
            .map(|at| at.map(Timestamp))
            .map_err(StoreError::sqlite("finding the next expiry"))
    }

    fn snapshot(&self) -> Result<Vec<Entry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key, value, expiry FROM store")
            .map_err(StoreError::sqlite("taking a snapshot"))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, Vec<u8>>(0)?,
                    row.get::<_, Vec<u8>>(1)?,
                    row.get::<_, Option<i64>>(2)?,
                ))
            })
            .map_err(StoreError::sqlite("taking a snapshot"))?;
        let mut entries = rows
            .map(|row| {
                let (key, value, expiry) = row.map_err(StoreError::sqlite("taking a snapshot"))?;
                Ok(Entry {
                    key: decode(&key)?,
                    value: decode(&value)?,
                    expiry: expiry.map(Timestamp),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Blob order is not Broker's order of values.
        entries.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        Ok(entries)
    }
}
