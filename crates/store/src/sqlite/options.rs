//! [`SqliteOptions`]: where the SQLite file lives and how durable each write is.

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
}

impl SqliteOptions {
    /// Options for the file at `path`, with SQLite's default durability.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteOptions {
            path: path.into(),
            synchronous: None,
            journal_mode: None,
        }
    }

    /// Options from Broker's backend option map, as Python passes it (`{"path": "..."}`).
    ///
    /// Keys: `path` (string, required), `synchronous` (`off`/`normal`/`full`/`extra` or
    /// 0–3), `journal_mode` (`delete`/`truncate`/`persist`/`memory`/`wal`/`off`). Names are
    /// strings or enum values, case-insensitive, and may carry Zeek's prefixes
    /// (`Broker::SQLITE_SYNCHRONOUS_NORMAL`, `Broker::SQLITE_JOURNAL_MODE_WAL`). Unknown keys
    /// are rejected so a misspelt option does not go unnoticed.
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

/// The lowercase setting name in a string or enum value, without Zeek's prefix.
fn setting_name(value: &Data) -> Option<String> {
    let text = match value {
        Data::EnumValue(name) => name.as_str(),
        other => other.as_str()?,
    };
    Some(
        text.rsplit('_')
            .next()?
            .rsplit(':')
            .next()?
            .to_ascii_lowercase(),
    )
}

fn parse_synchronous(value: &Data) -> Result<Synchronous, StoreError> {
    let level = match value {
        Data::Count(n) => i64::try_from(*n).ok(),
        Data::Integer(n) => Some(*n),
        _ => None,
    };
    let parsed = match (level, setting_name(value).as_deref()) {
        (Some(0), _) | (_, Some("off")) => Synchronous::Off,
        (Some(1), _) | (_, Some("normal")) => Synchronous::Normal,
        (Some(2), _) | (_, Some("full")) => Synchronous::Full,
        (Some(3), _) | (_, Some("extra")) => Synchronous::Extra,
        _ => return Err(invalid("synchronous", value)),
    };
    Ok(parsed)
}

fn parse_journal_mode(value: &Data) -> Result<JournalMode, StoreError> {
    let parsed = match setting_name(value).as_deref() {
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
        ])
        .unwrap();
        assert_eq!(parsed.path, PathBuf::from("/tmp/x.db"));
        assert_eq!(parsed.synchronous, Some(Synchronous::Normal));
        assert_eq!(parsed.journal_mode, Some(JournalMode::Wal));
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
        ];
        for case in cases {
            let err = options(&case).expect_err("must be rejected");
            assert!(matches!(err, StoreError::InvalidData(_)), "{case:?}: {err}");
        }
    }
}
