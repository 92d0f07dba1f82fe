//! The SQLite backend's persistence, files and options.

use std::collections::BTreeMap;

use broker_store::{
    open_backend, BackendType, Entry, ErrorCode, FailureMode, JournalMode, Operation,
    SqliteBackend, SqliteOptions, Store, StoreError,
};
use broker_wire::data::Set;
use broker_wire::{Data, Timespan, Timestamp};

fn path_option(path: &std::path::Path) -> BTreeMap<String, Data> {
    BTreeMap::from([("path".to_string(), Data::string(path.to_str().unwrap()))])
}

#[test]
fn a_reopened_file_serves_its_contents_and_expiries() {
    let dir = tempfile::tempdir().unwrap();
    // Missing directories on the way are created.
    let path = dir.path().join("nested/deeper/store.db");
    let expected = {
        let backend = open_backend(BackendType::Sqlite, &path_option(&path)).unwrap();
        let mut store = Store::new(backend);
        let now = Timestamp(1_000);
        let writes = [
            Operation::Put {
                key: "plain".into(),
                value: Data::Set(Set::from([1.into(), "x".into()])),
                expiry: None,
            },
            Operation::Put {
                key: Data::Count(7),
                value: 2.5.into(),
                expiry: Some(Timespan(500)),
            },
            Operation::Push {
                key: "v".into(),
                value: Data::None,
                expiry: None,
            },
        ];
        for op in writes {
            store.apply(op, now).unwrap();
        }
        store.snapshot().unwrap()
    };
    assert_eq!(expected.len(), 3);

    let mut reopened = Store::new(Box::new(
        SqliteBackend::open(&SqliteOptions::new(&path)).unwrap(),
    ));
    assert_eq!(reopened.snapshot().unwrap(), expected);
    assert_eq!(reopened.next_expiry().unwrap(), Some(Timestamp(1_500)));
    let expired = reopened.expire_due(Timestamp(1_500)).unwrap();
    assert_eq!(expired.len(), 1);
    assert!(!reopened.exists(&Data::Count(7)).unwrap());
}

#[test]
fn journal_mode_and_synchronous_take_effect() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.db");
    let mut options = BTreeMap::from([
        ("journal_mode".to_string(), Data::string("wal")),
        (
            "synchronous".to_string(),
            Data::EnumValue("Broker::SQLITE_SYNCHRONOUS_NORMAL".into()),
        ),
    ]);
    options.extend(path_option(&path));
    let mut store = Store::new(open_backend(BackendType::Sqlite, &options).unwrap());
    let op = Operation::Put {
        key: 1.into(),
        value: 2.into(),
        expiry: None,
    };
    store.apply(op, Timestamp(0)).unwrap();
    // In WAL mode, committed writes sit in the write-ahead log while the file is open.
    assert!(dir.path().join("wal.db-wal").exists());
    drop(store);
    let reopened = SqliteBackend::open(&SqliteOptions {
        journal_mode: Some(JournalMode::Wal),
        ..SqliteOptions::new(&path)
    })
    .unwrap();
    let entries = broker_store::Backend::snapshot(&reopened).unwrap();
    let expected = Entry {
        key: 1.into(),
        value: 2.into(),
        expiry: None,
    };
    assert_eq!(entries, vec![expected]);
}

#[test]
fn a_file_in_another_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("foreign.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE store(key BLOB PRIMARY KEY, value BLOB, expiry INTEGER);")
        .unwrap();
    drop(conn);
    let err = SqliteBackend::open(&SqliteOptions::new(&path)).unwrap_err();
    assert!(matches!(err, StoreError::InvalidData(_)), "{err}");
}

#[test]
fn unusable_paths_and_options_fail_with_broker_codes() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let below_a_file = open_backend(BackendType::Sqlite, &path_option(&blocker.join("x.db")));
    assert_eq!(below_a_file.unwrap_err().code(), ErrorCode::BackendFailure);
    let not_a_database = open_backend(BackendType::Sqlite, &path_option(&blocker));
    assert_eq!(
        not_a_database.unwrap_err().code(),
        ErrorCode::BackendFailure
    );
    let no_path = open_backend(BackendType::Sqlite, &BTreeMap::new());
    assert_eq!(no_path.unwrap_err().code(), ErrorCode::InvalidData);
    let rocks = open_backend(BackendType::RocksDb, &BTreeMap::new());
    assert_eq!(rocks.unwrap_err().code(), ErrorCode::BackendFailure);
}

/// A store file with one entry, then garbage written into its header, the way Broker's
/// `sqlite-failure-mode` test corrupts one.
fn corrupt_store_file(path: &std::path::Path) {
    let mut store = Store::new(Box::new(
        SqliteBackend::open(&SqliteOptions::new(path)).unwrap(),
    ));
    let put = Operation::Put {
        key: 1.into(),
        value: 2.into(),
        expiry: None,
    };
    store.apply(put, Timestamp(0)).unwrap();
    drop(store);
    let mut bytes = std::fs::read(path).unwrap();
    bytes[2..6].copy_from_slice(b"AAAA");
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn failure_mode_fail_refuses_a_corrupt_file_and_delete_starts_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.db");
    corrupt_store_file(&path);
    let failed = SqliteBackend::open(&SqliteOptions {
        failure_mode: FailureMode::Fail,
        ..SqliteOptions::new(&path)
    });
    assert_eq!(failed.unwrap_err().code(), ErrorCode::BackendFailure);
    assert!(path.exists(), "failure mode FAIL keeps the file");
    let mut options = path_option(&path);
    options.insert(
        "failure_mode".into(),
        Data::EnumValue("Broker::SQLITE_FAILURE_MODE_DELETE".into()),
    );
    let fresh = open_backend(BackendType::Sqlite, &options).unwrap();
    assert_eq!(fresh.snapshot().unwrap(), vec![]);
}

#[test]
fn integrity_check_passes_on_a_sound_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = path_option(&dir.path().join("sound.db"));
    options.insert("integrity_check".into(), Data::Boolean(true));
    assert!(open_backend(BackendType::Sqlite, &options).is_ok());
    options.insert("integrity_check".into(), Data::string("yes"));
    let refused = open_backend(BackendType::Sqlite, &options).map(|_| ());
    assert_eq!(refused.unwrap_err().code(), ErrorCode::InvalidData);
}
