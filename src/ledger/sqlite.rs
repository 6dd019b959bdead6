//! The SQLite backend: the ledger in a file on this machine (the default). One run at a time
//! holds its lock; a second run waits for it. The lock belongs to the file, not to the path
//! that names it: a symlink, a `..` or a hard link to the same ledger waits for the same lock.

use super::{Delivery, Note, Noted, OpenError, QueuedConversion, Store};
use crate::values::date::now_utc;
use anyhow::{Context, Result, bail};
use rusqlite::{Connection, OptionalExtension, params};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// An open, locked SQLite ledger.
pub struct SqliteLedger {
    // Dropped in field order: the connection before the locks. Behind a mutex so that the
    // API's concurrent senders share one ledger.
    conn: std::sync::Mutex<Connection>,
    path: PathBuf,
    /// `<canonical path>.lock`: taken first, it also serialises creating the ledger.
    _lock: File,
    /// The database file itself, locked too, so that two hard links to it share a lock.
    _file_lock: File,
}

/// The schema's version (`PRAGMA user_version`): 0 before encrypted parts, 1 with their
/// columns (a version 0 ledger is migrated when opened).
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL,
    destination TEXT NOT NULL,
    remote_name TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    input TEXT NOT NULL,
    delivered_at TEXT NOT NULL,
    source_lines TEXT NOT NULL DEFAULT '',
    encrypted_sha256 TEXT,
    encrypted_bytes BIGINT
);
CREATE INDEX IF NOT EXISTS deliveries_by_content ON deliveries (destination, sha256);
CREATE TABLE IF NOT EXISTS conversions (
    destination TEXT NOT NULL,
    order_key TEXT NOT NULL,
    order_id TEXT NOT NULL,
    queued_uri TEXT NOT NULL,
    input TEXT NOT NULL,
    line INTEGER NOT NULL,
    queued_at TEXT NOT NULL,
    PRIMARY KEY (destination, order_key)
);
CREATE TABLE IF NOT EXISTS sending (
    sha256 TEXT NOT NULL,
    destination TEXT NOT NULL,
    remote_name TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    encrypted_sha256 TEXT,
    encrypted_bytes BIGINT,
    PRIMARY KEY (destination, sha256)
);
";

impl SqliteLedger {
    /// Opens (creating if needed) the ledger at `path`, waiting until `wait` for a run that
    /// holds it. `notice` is told once when waiting starts.
    pub fn open(
        path: &Path,
        wait: Duration,
        notice: &mut dyn FnMut(&str),
    ) -> Result<SqliteLedger, OpenError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the ledger folder {}", dir.display()))
                .map_err(OpenError::Other)?;
        }
        let real = canonical(path).map_err(OpenError::Other)?;
        let deadline = Instant::now().checked_add(wait);
        let lock_path = PathBuf::from(format!("{}.lock", real.display()));
        let path_lock = lock(&lock_path, true, path, deadline, notice)?;
        if matches!(std::fs::symlink_metadata(&real), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
        {
            create(&real).map_err(OpenError::Other)?;
        }
        let file_lock = lock(&real, false, path, deadline, notice)?;
        let conn = open_db(&real, path).map_err(OpenError::Other)?;
        Ok(SqliteLedger {
            conn: std::sync::Mutex::new(conn),
            path: path.to_path_buf(),
            _lock: path_lock,
            _file_lock: file_lock,
        })
    }

    /// The connection. A panic while it was held cannot leave a transaction half-done
    /// (SQLite rolls it back), so a poisoned lock is taken over.
    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A transaction that begins by clearing the note of `key` (a part's sha256, an order's
    /// key) at `destination`: a record and the end of its note are one change.
    fn clearing<'c>(
        &self,
        db: &'c Connection,
        destination: &str,
        key: &str,
    ) -> Result<rusqlite::Transaction<'c>> {
        let tx = db
            .unchecked_transaction()
            .with_context(|| format!("cannot write to the ledger {}", self.path.display()))?;
        tx.execute(
            "DELETE FROM sending WHERE destination = ?1 AND sha256 = ?2",
            params![destination, key],
        )
        .with_context(|| format!("cannot write to the ledger {}", self.path.display()))?;
        Ok(tx)
    }
}

impl Store for SqliteLedger {
    /// The delivery of content `sha256` to `destination`, if it was delivered.
    fn find(&self, destination: &str, sha256: &str) -> Result<Option<Delivery>> {
        self.db()
            .query_row(
                "SELECT sha256, destination, remote_name, bytes, rows, input, delivered_at, source_lines,
                     encrypted_sha256, encrypted_bytes
                 FROM deliveries WHERE destination = ?1 AND sha256 = ?2
                 ORDER BY id DESC LIMIT 1",
                params![destination, sha256],
                row,
            )
            .optional()
            .with_context(|| format!("cannot read the ledger {}", self.path.display()))
    }

    /// Notes, before a part is sent, that it is being sent: if the run dies between the
    /// server's rename and [`Ledger::record`], the next run finds this note and checks the
    /// server instead of sending the part again.
    fn begin(&self, destination: &str, sha256: &str, note: &Note<'_>) -> Result<()> {
        self.db()
            .execute(
                "INSERT OR REPLACE INTO sending (sha256, destination, remote_name, bytes, started_at, encrypted_sha256, encrypted_bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    sha256,
                    destination,
                    note.remote_name,
                    note.bytes as i64,
                    now_utc(),
                    note.encrypted.map(|(sha, _)| sha),
                    note.encrypted.map(|(_, n)| n as i64)
                ],
            )
            .with_context(|| format!("cannot write to the ledger {}", self.path.display()))?;
        Ok(())
    }

    /// What was noted of a part a run began to send and did not record, if anything.
    fn unfinished(&self, destination: &str, sha256: &str) -> Result<Option<Noted>> {
        self.db()
            .query_row(
                "SELECT remote_name, encrypted_sha256, encrypted_bytes FROM sending
                 WHERE destination = ?1 AND sha256 = ?2",
                params![destination, sha256],
                |r| {
                    let sha: Option<String> = r.get(1)?;
                    let bytes: Option<i64> = r.get(2)?;
                    Ok(Noted {
                        remote_name: r.get(0)?,
                        encrypted: sha.zip(bytes.map(|n| n as u64)),
                    })
                },
            )
            .optional()
            .with_context(|| format!("cannot read the ledger {}", self.path.display()))
    }

    /// Records a confirmed delivery and clears its note, in one transaction (durably:
    /// committed before this returns).
    fn record(&self, d: &Delivery) -> Result<()> {
        let db = self.db();
        let tx = self.clearing(&db, &d.destination, &d.sha256)?;
        tx
            .execute(
                "INSERT INTO deliveries (sha256, destination, remote_name, bytes, rows, input, delivered_at, source_lines, encrypted_sha256, encrypted_bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    d.sha256,
                    d.destination,
                    d.remote_name,
                    d.bytes as i64,
                    d.rows as i64,
                    d.input,
                    d.delivered_at,
                    d.source_lines,
                    d.encrypted_sha256,
                    d.encrypted_bytes.map(|n| n as i64)
                ],
            )
            .with_context(|| format!("cannot write to the ledger {}", self.path.display()))?;
        tx.commit()
            .with_context(|| format!("cannot write to the ledger {}", self.path.display()))
    }

    /// When the conversion `order_key` was queued at `destination`, with its `QueuedUri`.
    fn find_conversion(
        &self,
        destination: &str,
        order_key: &str,
    ) -> Result<Option<(String, String)>> {
        self.db()
            .query_row(
                "SELECT queued_uri, queued_at FROM conversions WHERE destination = ?1 AND order_key = ?2",
                params![destination, order_key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .with_context(|| format!("cannot read the ledger {}", self.path.display()))
    }

    /// Records a queued conversion (committed before this returns).
    fn record_conversion(&self, c: &QueuedConversion) -> Result<()> {
        let db = self.db();
        let tx = self.clearing(&db, &c.destination, &c.order_key)?;
        tx
            .execute(
                "INSERT OR REPLACE INTO conversions (destination, order_key, order_id, queued_uri, input, line, queued_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![c.destination, c.order_key, c.order_id, c.queued_uri, c.input, c.line as i64, c.queued_at],
            )
            .with_context(|| format!("cannot write to the ledger {}", self.path.display()))?;
        tx.commit()
            .with_context(|| format!("cannot write to the ledger {}", self.path.display()))
    }

    /// Queued conversions, oldest first, optionally only those at or after `since`.
    fn conversions(&self, since: &str) -> Result<Vec<QueuedConversion>> {
        let db = self.db();
        let mut stmt = db.prepare(
            "SELECT destination, order_key, order_id, queued_uri, input, line, queued_at
             FROM conversions WHERE queued_at >= ?1 ORDER BY queued_at, rowid",
        )?;
        let rows = stmt.query_map(params![since], |r| {
            Ok(QueuedConversion {
                destination: r.get(0)?,
                order_key: r.get(1)?,
                order_id: r.get(2)?,
                queued_uri: r.get(3)?,
                input: r.get(4)?,
                line: r.get::<_, i64>(5)? as u64,
                queued_at: r.get(6)?,
            })
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .with_context(|| format!("cannot read the ledger {}", self.path.display()))
    }

    /// Every delivery, oldest first, optionally only those at or after `since` (a date or
    /// timestamp prefix compared as text, which ISO 8601 UTC allows).
    fn history(&self, since: &str) -> Result<Vec<Delivery>> {
        let db = self.db();
        let mut stmt = db.prepare(
            "SELECT sha256, destination, remote_name, bytes, rows, input, delivered_at, source_lines,
                 encrypted_sha256, encrypted_bytes
             FROM deliveries WHERE delivered_at >= ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![since], row)?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .with_context(|| format!("cannot read the ledger {}", self.path.display()))
    }
}

fn row(r: &rusqlite::Row) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        sha256: r.get(0)?,
        destination: r.get(1)?,
        remote_name: r.get(2)?,
        bytes: r.get::<_, i64>(3)? as u64,
        rows: r.get::<_, i64>(4)? as u64,
        input: r.get(5)?,
        delivered_at: r.get(6)?,
        source_lines: r.get(7)?,
        encrypted_sha256: r.get(8)?,
        encrypted_bytes: r.get::<_, Option<i64>>(9)?.map(|n| n as u64),
    })
}

/// The ledger's file whatever names it: symlinks and `..` resolved, also for a ledger not
/// created yet (its folder resolved) or a symlink to one.
fn canonical(path: &Path) -> Result<PathBuf> {
    let mut path = path.to_path_buf();
    // As the kernel does, give up on a chain of links that never ends.
    for _ in 0..40 {
        match std::fs::canonicalize(&path) {
            Ok(real) => return Ok(real),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot resolve {}", path.display()));
            }
            Err(_) => {}
        }
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        match std::fs::read_link(&path) {
            // A link to a ledger not created yet: follow it by hand.
            Ok(target) => path = parent.join(target),
            Err(_) => {
                let name = path
                    .file_name()
                    .with_context(|| format!("{} does not name a file", path.display()))?;
                let dir = std::fs::canonicalize(&parent)
                    .with_context(|| format!("cannot resolve {}", parent.display()))?;
                return Ok(dir.join(name));
            }
        }
    }
    bail!("{}: too many levels of symbolic links", path.display())
}

/// Locks `lock_path`, waiting until `deadline` (`None`: for ever) for another run. `create`: a
/// lock file, created when missing; else the ledger itself, only read here (a read-only one
/// is refused later, with advice). `ledger` is the path as the user gave it, for messages.
fn lock(
    lock_path: &Path,
    create: bool,
    ledger: &Path,
    deadline: Option<Instant>,
    notice: &mut dyn FnMut(&str),
) -> Result<File, OpenError> {
    let file = File::options()
        .read(true)
        .create(create)
        .truncate(false)
        .write(create)
        .open(lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))
        .map_err(OpenError::Other)?;
    let mut told = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                if !told {
                    notice(&format!(
                        "waiting for another convsubmit run to finish with the ledger {}",
                        ledger.display()
                    ));
                    told = true;
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(OpenError::Busy(ledger.display().to_string()));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(OpenError::Other(
                    anyhow::Error::new(e).context(format!("cannot lock {}", lock_path.display())),
                ));
            }
        }
    }
}

/// Opens the ledger file `real`; messages name it `path`, as the user did.
fn open_db(real: &Path, path: &Path) -> Result<Connection> {
    let damaged = |e: rusqlite::Error| {
        // A full disk damages nothing: moving the ledger aside would be the wrong advice.
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
            return anyhow::anyhow!(
                "the ledger {} cannot be written ({e}); nothing was sent. Free some space on \
                 its disk, then re-run",
                path.display()
            );
        }
        anyhow::anyhow!(
            "the ledger {} cannot be used ({e}); nothing was sent. If it is damaged, move it \
             aside: a new ledger knows of no delivery, so the next run would send every part again",
            path.display()
        )
    };
    match std::fs::metadata(real) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(real)?,
        // A ledger is never empty once created (see `create`): this one was emptied.
        Ok(m) if m.len() == 0 => bail!(
            "the ledger {} is empty; nothing was sent. Something emptied it: restore it from a \
             backup, or remove it to start a new one, knowing that the next run would then send \
             every part again",
            path.display()
        ),
        _ => {}
    }
    let conn = Connection::open(real).map_err(damaged)?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(damaged)?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(damaged)?;
    if check != "ok" {
        bail!(
            "the ledger {} is damaged ({check}); nothing was sent. Move it aside to start a new \
             one: a new ledger knows of no delivery, so the next run would send every part again",
            path.display()
        );
    }
    conn.execute_batch("PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL;")
        .map_err(damaged)?;
    conn.execute_batch(SCHEMA).map_err(damaged)?;
    // Another program's database: its tables lack our columns.
    let missing = super::missing_column(|table| {
        conn.prepare(&format!("SELECT * FROM {table} LIMIT 0"))
            .map(|stmt| stmt.column_names().iter().map(|c| c.to_string()).collect())
    })
    .map_err(damaged)?;
    if let Some((table, c)) = missing {
        return Err(damaged(rusqlite::Error::InvalidColumnName(format!(
            "table {table} has no column {c}: not a convsubmit ledger"
        ))));
    }
    // Fail now, before anything is sent, if the ledger cannot be written (a read-only file
    // or folder): rewriting the schema version is a real write, journal and all.
    let mut version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(damaged)?;
    if version == 0 {
        // Before encrypted parts (or just created): add their columns, in one transaction.
        migrate(&conn).map_err(|e| {
            anyhow::anyhow!(
                "the ledger {} cannot be brought to schema version {SCHEMA_VERSION} ({e}); \
                 nothing was sent. Give this user write access to it and to its folder",
                path.display()
            )
        })?;
        version = SCHEMA_VERSION;
    }
    if version != SCHEMA_VERSION {
        bail!(
            "the ledger {} has schema version {version}, and this convsubmit knows only version \
             {SCHEMA_VERSION}; nothing was sent. Another convsubmit made or changed it: run \
             that version, or upgrade convsubmit on this machine",
            path.display()
        );
    }
    conn.execute_batch(&format!("PRAGMA user_version = {version}"))
        .map_err(|e| {
            anyhow::anyhow!(
                "the ledger {} cannot be written ({e}); nothing was sent. Give this user write \
                 access to it and to its folder",
                path.display()
            )
        })?;
    Ok(conn)
}

/// Brings a version 0 ledger to [`SCHEMA_VERSION`]: the columns of encrypted parts it lacks.
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    let sql = super::add_encrypted_columns("", |table| {
        tx.prepare(&format!("SELECT * FROM {table} LIMIT 0"))
            .map(|stmt| stmt.column_names().iter().map(|c| c.to_string()).collect())
    })?;
    tx.execute_batch(&sql)?;
    tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    tx.commit()
}

/// A new ledger, built under a temporary name and renamed into place, so that a run killed
/// while creating it never leaves an empty file behind (which would pass for a ledger that
/// knows of no delivery).
fn create(path: &Path) -> Result<()> {
    let tmp = PathBuf::from(format!("{}.new-{}", path.display(), std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let build = || -> rusqlite::Result<()> {
        let conn = Connection::open(&tmp)?;
        conn.execute_batch("PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL;")?;
        conn.execute_batch(SCHEMA)?;
        conn.close().map_err(|(_, e)| e)
    };
    build().with_context(|| format!("cannot create the ledger {}", path.display()))?;
    // A link, not a rename: a ledger that appeared meanwhile is never replaced.
    let placed = match std::fs::hard_link(&tmp, path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(_) => std::fs::rename(&tmp, path),
        Ok(()) => Ok(()),
    };
    let _ = std::fs::remove_file(&tmp);
    placed.with_context(|| format!("cannot create the ledger {}", path.display()))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("convsubmit-ledger-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("ledger.sqlite")
    }

    fn delivery(sha: &str) -> Delivery {
        Delivery {
            sha256: sha.into(),
            destination: "dir:///out".into(),
            remote_name: "a.csv".into(),
            bytes: 10,
            rows: 1,
            input: "a.csv".into(),
            delivered_at: "2026-11-23T10:00:00Z".into(),
            source_lines: String::new(),
            encrypted_sha256: None,
            encrypted_bytes: None,
        }
    }

    fn note<'a>(remote_name: &'a str, encrypted: Option<(&'a str, u64)>) -> Note<'a> {
        Note {
            remote_name,
            bytes: 10,
            encrypted,
        }
    }

    #[test]
    fn records_survive_reopening() {
        let path = temp("reopen");
        {
            let l = SqliteLedger::open(&path, Duration::ZERO, &mut |_| {}).unwrap();
            assert_eq!(l.find("dir:///out", "aa").unwrap(), None);
            l.record(&delivery("aa")).unwrap();
        }
        let l = SqliteLedger::open(&path, Duration::ZERO, &mut |_| {}).unwrap();
        assert_eq!(l.find("dir:///out", "aa").unwrap(), Some(delivery("aa")));
        assert_eq!(l.find("dir:///elsewhere", "aa").unwrap(), None);
        assert_eq!(l.history("2026-11-24").unwrap(), vec![]);
        assert_eq!(l.history("").unwrap().len(), 1);
    }

    #[test]
    fn a_note_lasts_until_the_delivery_is_recorded() {
        let path = temp("note");
        let l = SqliteLedger::open(&path, Duration::ZERO, &mut |_| {}).unwrap();
        l.begin("dir:///out", "bb", &note("b.csv", None)).unwrap();
        let noted = l.unfinished("dir:///out", "bb").unwrap().unwrap();
        assert_eq!(
            (noted.remote_name.as_str(), noted.encrypted),
            ("b.csv", None)
        );
        l.record(&delivery("bb")).unwrap();
        assert_eq!(l.unfinished("dir:///out", "bb").unwrap(), None);
        // An encrypted part: the note and the record keep the encrypted digest and size.
        l.begin("dir:///out", "cc", &note("c.csv.pgp", Some(("ee", 700))))
            .unwrap();
        let noted = l.unfinished("dir:///out", "cc").unwrap().unwrap();
        assert_eq!(noted.encrypted, Some(("ee".to_string(), 700)));
        let sealed = Delivery {
            encrypted_sha256: Some("ee".into()),
            encrypted_bytes: Some(700),
            ..delivery("cc")
        };
        l.record(&sealed).unwrap();
        assert_eq!(l.find("dir:///out", "cc").unwrap(), Some(sealed));
    }

    /// A ledger of schema version 0 (before encrypted parts) is migrated when opened: its
    /// records kept, the new columns added, its version 1; a newer one is refused.
    #[test]
    fn a_version_0_ledger_is_migrated_and_keeps_its_records() {
        let path = temp("migrate");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE deliveries (id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL,
                     destination TEXT NOT NULL, remote_name TEXT NOT NULL, bytes INTEGER NOT NULL,
                     rows INTEGER NOT NULL, input TEXT NOT NULL, delivered_at TEXT NOT NULL,
                     source_lines TEXT NOT NULL DEFAULT '');
                 CREATE TABLE sending (sha256 TEXT NOT NULL, destination TEXT NOT NULL,
                     remote_name TEXT NOT NULL, bytes INTEGER NOT NULL, started_at TEXT NOT NULL,
                     PRIMARY KEY (destination, sha256));
                 INSERT INTO deliveries (sha256, destination, remote_name, bytes, rows, input, delivered_at)
                     VALUES ('aa', 'dir:///out', 'a.csv', 10, 1, 'a.csv', '2026-11-23T10:00:00Z');
                 INSERT INTO sending VALUES ('bb', 'dir:///out', 'b.csv', 10, '2026-11-23T10:00:00Z');",
            )
            .unwrap();
        }
        {
            let l = SqliteLedger::open(&path, Duration::ZERO, &mut |_| {}).unwrap();
            assert_eq!(l.find("dir:///out", "aa").unwrap(), Some(delivery("aa")));
            let noted = l.unfinished("dir:///out", "bb").unwrap().unwrap();
            assert_eq!(
                (noted.remote_name.as_str(), noted.encrypted),
                ("b.csv", None)
            );
            l.begin("dir:///out", "cc", &note("c.csv.pgp", Some(("ee", 700))))
                .unwrap();
        }
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        conn.execute_batch("PRAGMA user_version = 2").unwrap();
        drop(conn);
        let e = SqliteLedger::open(&path, Duration::ZERO, &mut |_| {})
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("has schema version 2"), "{e}");
    }

    #[test]
    fn a_second_open_waits_for_the_lock() {
        let path = temp("lock");
        let _first = SqliteLedger::open(&path, Duration::ZERO, &mut |_| {}).unwrap();
        let mut told = vec![];
        let second = SqliteLedger::open(&path, Duration::from_millis(300), &mut |m| {
            told.push(m.to_string())
        });
        assert!(matches!(second, Err(OpenError::Busy(_))));
        assert_eq!(told.len(), 1);
    }

    #[test]
    fn a_damaged_ledger_is_an_error_not_a_fresh_start() {
        let path = temp("damaged");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            b"this is not an SQLite database, but it is long enough to look at",
        )
        .unwrap();
        let e = SqliteLedger::open(&path, Duration::ZERO, &mut |_| {})
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("cannot be used") || e.contains("damaged"), "{e}");
        assert!(e.contains("nothing was sent"), "{e}");
    }
}
