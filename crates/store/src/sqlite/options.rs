//! [`SqliteOptions`]: where the SQLite file lives, how durable each write is, and what
//! to do with a corrupt file, from Broker's backend options.

use std::collections::BTreeMap;
use std::path::PathBuf;

use broker_wire::Data;

use crate::error::StoreError;

/// SQLite's `synchronous` setting: how hard each commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// Hand writes to the OS and go on; a power loss may lose recent commits.
    Off,
    /// Sync at critical moments; with WAL, a power loss may lose recent commits only.
    Normal,
    /// Sync on every commit (SQLite's default).
    Full,
    /// Like `Full`, also syncing the directory after unlinking a rollback journal.
    Extra,
}

/// SQLite's `journal_mode` setting: how commits are made atomic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalMode {
    /// A rollback journal deleted after each commit (SQLite's default).
    Delete,
    /// A rollback journal truncated after each commit.
    Truncate,
    /// A rollback journal whose header is zeroed after each commit.
    Persist,
    /// A rollback journal kept in memory.
    Memory,
    /// A write-ahead log; fastest durable mode for frequent small writes.
    Wal,
    /// No journal: a crash mid-commit may corrupt the file.
    Off,
}

/// What to do when the database file cannot be opened as a store (Broker's
/// `failure_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailureMode {
    /// Fail the attach (Broker's default).
    #[default]
    Fail,
    /// Delete the file and start afresh, empty.
    Delete,
}

impl Synchronous {
    /// The pragma value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Synchronous::Off => "OFF",
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
            Synchronous::Extra => "EXTRA",
        }
    }
}

impl JournalMode {
    /// The pragma value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            JournalMode::Delete => "DELETE",
            JournalMode::Truncate => "TRUNCATE",
            JournalMode::Persist => "PERSIST",
            JournalMode::Memory => "MEMORY",
            JournalMode::Wal => "WAL",
            JournalMode::Off => "OFF",
        }
    }
}

/// How to open a SQLite backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// The database file; missing parent directories are created.
    pub path: PathBuf,
    /// The `synchronous` pragma; `None` keeps SQLite's default (`FULL`).
    pub synchronous: Option<Synchronous>,
    /// The `journal_mode` pragma; `None` keeps SQLite's default (`DELETE`).
    pub journal_mode: Option<JournalMode>,
    /// What to do with a file that is corrupt or not a store.
    pub failure_mode: FailureMode,
    /// Whether to run `PRAGMA integrity_check` on opening, failing unless it is clean.
    pub integrity_check: bool,
}

impl SqliteOptions {
    /// Options for the file at `path`, with SQLite's default durability.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteOptions {
            path: path.into(),
            synchronous: None,
            journal_mode: None,
            failure_mode: FailureMode::Fail,
            integrity_check: false,
        }
    }

    /// Options from Broker's backend option map, as Python passes it (`{"path": "..."}`).
    ///
    /// Keys, as Broker's (values are Zeek's enum values, e.g.
    /// `Broker::SQLITE_SYNCHRONOUS_NORMAL`):
    /// - `path` (string, required);
    /// - `synchronous`: `Broker::SQLITE_SYNCHRONOUS_{OFF,NORMAL,FULL,EXTRA}` (or 0–3);
    /// - `journal_mode`: `Broker::SQLITE_JOURNAL_MODE_{DELETE,WAL}`, and here also
    ///   `TRUNCATE`, `PERSIST`, `MEMORY`, `OFF`;
    /// - `failure_mode`: `Broker::SQLITE_FAILURE_MODE_{FAIL,DELETE}`;
    /// - `integrity_check`: a boolean.
    ///
    /// A setting may also be given by its bare name as a string or enum, in any case
    /// (`"wal"`). A name with another prefix (`Foo::SQLITE_JOURNAL_MODE_WAL`), a value
    /// not in the list, a value of the wrong type or an unknown key is rejected, as
    /// Broker rejects them, so a misspelt option does not go unnoticed.
    pub fn from_options(options: &BTreeMap<String, Data>) -> Result<Self, StoreError> {
        let mut parsed = SqliteOptions::new(PathBuf::new());
        let mut has_path = false;
        for (name, value) in options {
            match name.as_str() {
                "path" => {
                    let path = value.as_str().ok_or_else(|| invalid(name, value))?;
                    parsed.path = PathBuf::from(path);
                    has_path = !path.is_empty();
                }
                "synchronous" => parsed.synchronous = Some(parse_synchronous(value)?),
                "journal_mode" => parsed.journal_mode = Some(parse_journal_mode(value)?),
                "failure_mode" => parsed.failure_mode = parse_failure_mode(value)?,
                "integrity_check" => match value {
                    Data::Boolean(check) => parsed.integrity_check = *check,
                    _ => return Err(invalid(name, value)),
                },
                _ => {
                    return Err(StoreError::InvalidData(format!(
                        "unknown sqlite option {name:?}"
                    )))
                }
            }
        }
        if !has_path {
            return Err(StoreError::InvalidData(
                "sqlite backend needs a non-empty \"path\" option".into(),
            ));
        }
        Ok(parsed)
    }
}

/// The error for an option whose value is not acceptable.
fn invalid(name: &str, value: &Data) -> StoreError {
    StoreError::InvalidData(format!("invalid value for sqlite option {name:?}: {value}"))
}

/// The lowercase setting name in a string or enum value: the part after Broker's
/// `prefix` (`Broker::SQLITE_JOURNAL_MODE_`), or a bare name; `None` for a name with
/// another prefix.
fn setting_name(value: &Data, prefix: &str) -> Option<String> {
    let text = match value {
        Data::EnumValue(name) => name.as_str(),
        other => other.as_str()?,
    };
    let name = match text.strip_prefix(prefix) {
        Some(rest) => rest,
        None if !text.contains(':') => text,
        None => return None,
    };
    Some(name.to_ascii_lowercase())
}

fn parse_synchronous(value: &Data) -> Result<Synchronous, StoreError> {
    let level = match value {
        Data::Count(n) => i64::try_from(*n).ok(),
        Data::Integer(n) => Some(*n),
        _ => None,
    };
    let name = setting_name(value, "Broker::SQLITE_SYNCHRONOUS_");
    let parsed = match (level, name.as_deref()) {
        (Some(0), _) | (_, Some("off")) => Synchronous::Off,
        (Some(1), _) | (_, Some("normal")) => Synchronous::Normal,
        (Some(2), _) | (_, Some("full")) => Synchronous::Full,
        (Some(3), _) | (_, Some("extra")) => Synchronous::Extra,
        _ => return Err(invalid("synchronous", value)),
    };
    Ok(parsed)
}

fn parse_journal_mode(value: &Data) -> Result<JournalMode, StoreError> {
    let parsed = match setting_name(value, "Broker::SQLITE_JOURNAL_MODE_").as_deref() {
        Some("delete") => JournalMode::Delete,
        Some("truncate") => JournalMode::Truncate,
        Some("persist") => JournalMode::Persist,
        Some("memory") => JournalMode::Memory,
        Some("wal") => JournalMode::Wal,
        Some("off") => JournalMode::Off,
        _ => return Err(invalid("journal_mode", value)),
    };
    Ok(parsed)
}

fn parse_failure_mode(value: &Data) -> Result<FailureMode, StoreError> {
    match setting_name(value, "Broker::SQLITE_FAILURE_MODE_").as_deref() {
        Some("fail") => Ok(FailureMode::Fail),
        Some("delete") => Ok(FailureMode::Delete),
        _ => Err(invalid("failure_mode", value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(entries: &[(&str, Data)]) -> Result<SqliteOptions, StoreError> {
        let map = entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        SqliteOptions::from_options(&map)
    }

    #[test]
    fn parses_path_and_pragmas_in_every_spelling() {
        let parsed = options(&[
            ("path", Data::string("/tmp/x.db")),
            (
                "synchronous",
                Data::EnumValue("Broker::SQLITE_SYNCHRONOUS_NORMAL".into()),
            ),
            ("journal_mode", Data::string("WAL")),
            (
                "failure_mode",
                Data::EnumValue("Broker::SQLITE_FAILURE_MODE_DELETE".into()),
            ),
            ("integrity_check", Data::Boolean(true)),
        ])
        .unwrap();
        assert_eq!(parsed.path, PathBuf::from("/tmp/x.db"));
        assert_eq!(parsed.synchronous, Some(Synchronous::Normal));
        assert_eq!(parsed.journal_mode, Some(JournalMode::Wal));
        assert_eq!(parsed.failure_mode, FailureMode::Delete);
        assert!(parsed.integrity_check);
        let numeric = options(&[("path", Data::string("a")), ("synchronous", Data::Count(0))]);
        assert_eq!(numeric.unwrap().synchronous, Some(Synchronous::Off));
        let only_path = options(&[("path", Data::string("a"))]).unwrap();
        assert_eq!(only_path, SqliteOptions::new("a"));
    }

    #[test]
    fn rejects_missing_path_bad_values_and_unknown_keys() {
        let cases = [
            vec![],
            vec![("path", Data::Count(1))],
            vec![("path", Data::string(""))],
            vec![
                ("path", Data::string("a")),
                ("synchronous", Data::string("sometimes")),
            ],
            vec![
                ("path", Data::string("a")),
                ("synchronous", Data::Integer(7)),
            ],
            vec![
                ("path", Data::string("a")),
                ("journal_mode", Data::Count(1)),
            ],
            vec![("path", Data::string("a")), ("pth", Data::string("b"))],
            // Broker's own wrong-option cases: another prefix, a value of another
            // option, an unknown value, a string where a boolean belongs.
            vec![
                ("path", Data::string("a")),
                (
                    "journal_mode",
                    Data::EnumValue("Foo::SQLITE_JOURNAL_MODE_WAL".into()),
                ),
            ],
            vec![
                ("path", Data::string("a")),
                (
                    "journal_mode",
                    Data::EnumValue("Broker::SQLITE_SYNCHRONOUS_OFF".into()),
                ),
            ],
            vec![
                ("path", Data::string("a")),
                (
                    "synchronous",
                    Data::EnumValue("Broker::SQLITE_SYNCHRONOUS_CHRONOS".into()),
                ),
            ],
            vec![
                ("path", Data::string("a")),
                ("failure_mode", Data::string("sometimes")),
            ],
            vec![
                ("path", Data::string("a")),
                ("integrity_check", Data::string("true")),
            ],
        ];
        for case in cases {
            let err = options(&case).expect_err("must be rejected");
            assert!(matches!(err, StoreError::InvalidData(_)), "{case:?}: {err}");
        }
    }
}
