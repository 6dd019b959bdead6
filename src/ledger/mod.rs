//! The ledger: every part delivered and every conversion queued, so that a re-run sends only
//! what is missing. One interface ([`Ledger`]) over two backends: an SQLite file on this
//! machine (the default, [`sqlite`]) and a PostgreSQL database that several machines share
//! (`[ledger] url`, [`postgres`]). Both keep the same tables, check the same way that the
//! ledger is theirs and of their version, hold one lock per ledger for the whole run (a
//! second run waits for it), and follow the same note → send → record protocol.
//!
//! A part sent encrypted (`encrypt_to`) is keyed, like any part, by its plain sha256: each run
//! encrypts to other bytes, and a re-run must still find it. Its note and its record also
//! keep the encrypted file's sha256 and size ([`ENCRYPTED_COLUMNS`], added by schema version
//! 1 of the SQLite file and 2 of PostgreSQL; older ledgers are migrated when opened), so that
//! the next run recognises at the destination the file a killed run sent.

mod postgres;
mod sqlite;
pub mod url;

use crate::exit::ExitStatus;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use url::PgUrl;

/// One delivered part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// SHA-256 of the part's bytes.
    pub sha256: String,
    /// Where it went, e.g. `sftp://acme@batch.impact.com:22/` (never a secret).
    pub destination: String,
    /// Its name there.
    pub remote_name: String,
    /// Its size.
    pub bytes: u64,
    /// Its data rows.
    pub rows: u64,
    /// The input it was split from.
    pub input: String,
    /// When the delivery was confirmed, UTC.
    pub delivered_at: String,
    /// Where the part's lines come from in the input (JSON: `header_line` and `runs` as
    /// in the split manifest), so that `status` can map impact.com's line numbers back.
    #[serde(skip)]
    pub source_lines: String,
    /// SHA-256 of the encrypted file that was sent, when the part went encrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypted_sha256: Option<String>,
    /// Size of the encrypted file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypted_bytes: Option<u64>,
}

/// What the ledger notes of a unit about to be sent.
#[derive(Debug, Clone, Copy)]
pub struct Note<'a> {
    /// The name it goes under.
    pub remote_name: &'a str,
    /// The part's size.
    pub bytes: u64,
    /// The sha256 and size of the encrypted file that goes out instead of the part, if it
    /// goes encrypted.
    pub encrypted: Option<(&'a str, u64)>,
}

/// What the ledger noted of a unit before it was sent, and no record has cleared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Noted {
    /// The name it was sent under.
    pub remote_name: String,
    /// The SHA-256 and size of the encrypted file that was sent, when it went encrypted (each
    /// run encrypts to other bytes: the noted ones are those to look for).
    pub encrypted: Option<(String, u64)>,
}

/// A conversion the API queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueuedConversion {
    /// `api:{base}/Advertisers/{AccountSID}`.
    pub destination: String,
    /// Event type and OrderId.
    pub order_key: String,
    /// OrderId as written.
    pub order_id: String,
    /// The `QueuedUri` impact.com answered.
    pub queued_uri: String,
    /// The input it came from.
    pub input: String,
    /// Its first row's line in the input.
    pub line: u64,
    /// When it was queued, UTC.
    pub queued_at: String,
}

/// What every backend does; [`Ledger`] holds one. Errors that call for an exit code other
/// than 2 carry a [`Fault`].
trait Store: Send + Sync {
    /// The delivery of content `sha256` to `destination`, if it was delivered.
    fn find(&self, destination: &str, sha256: &str) -> anyhow::Result<Option<Delivery>>;
    /// Notes, before a unit is sent, that it is being sent (replacing an older note), with
    /// the encrypted file's sha256 and size when it goes encrypted.
    fn begin(&self, destination: &str, key: &str, note: &Note<'_>) -> anyhow::Result<()>;
    /// What was noted of a unit a run began to send and did not record, if anything.
    fn unfinished(&self, destination: &str, key: &str) -> anyhow::Result<Option<Noted>>;
    /// Records a delivery and clears its note, in one committed transaction.
    fn record(&self, d: &Delivery) -> anyhow::Result<()>;
    /// When the conversion `order_key` was queued at `destination`, with its `QueuedUri`.
    fn find_conversion(
        &self,
        destination: &str,
        order_key: &str,
    ) -> anyhow::Result<Option<(String, String)>>;
    /// Records a queued conversion and clears its note, in one committed transaction.
    fn record_conversion(&self, c: &QueuedConversion) -> anyhow::Result<()>;
    /// Queued conversions, oldest first, at or after `since` ("": all).
    fn conversions(&self, since: &str) -> anyhow::Result<Vec<QueuedConversion>>;
    /// Deliveries, oldest first, at or after `since` ("": all).
    fn history(&self, since: &str) -> anyhow::Result<Vec<Delivery>>;
}

/// Where the ledger is.
#[derive(Debug, Clone)]
pub enum Location {
    /// An SQLite file.
    File(PathBuf),
    /// A PostgreSQL database.
    Postgres(Box<PgUrl>),
}

impl Location {
    /// How messages name it (a URL never with a password).
    pub fn describe(&self) -> String {
        match self {
            Location::File(p) => p.display().to_string(),
            Location::Postgres(u) => u.display().to_string(),
        }
    }

    /// Whether there may be something in it: a file that exists; a database always (only
    /// connecting tells).
    pub fn may_exist(&self) -> bool {
        match self {
            Location::File(p) => p.exists(),
            Location::Postgres(_) => true,
        }
    }
}

/// An open, locked ledger.
pub struct Ledger {
    store: Box<dyn Store>,
    name: String,
}

/// Why the ledger could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// Another run held the lock for longer than allowed (the ledger, as messages name it).
    Busy(String),
    /// Anything else: its class is the [`Fault`] inside, else 2 (a damaged, foreign or
    /// unwritable ledger, which needs a person).
    Other(anyhow::Error),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Busy(p) => write!(f, "another convsubmit run still holds the ledger {p}"),
            OpenError::Other(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for OpenError {}

impl OpenError {
    /// The run's error: `nothing` says what was not done ("nothing was sent").
    pub fn into_cli(self, nothing: &str) -> crate::error::CliError {
        match self {
            OpenError::Busy(name) => crate::error::CliError::temporary(format!(
                "another run still holds the ledger {name}; {nothing}"
            ))
            .help("re-run later, when the other run has ended"),
            OpenError::Other(e) => to_cli(e),
        }
    }
}

/// A ledger error as the run's error: its [`Fault`]'s class and help, else exit 2.
pub fn to_cli(e: anyhow::Error) -> crate::error::CliError {
    let help = fault(&e).and_then(|f| f.help.clone());
    let mut cli = crate::error::CliError::new(class(&e), e);
    if let Some(h) = help {
        cli = cli.help(h);
    }
    cli
}

/// A ledger error whose exit code is not 2: the database could not be reached or went away
/// (3), or refused this user (4); with what to do.
#[derive(Debug)]
pub struct Fault {
    /// The exit code it calls for.
    pub class: ExitStatus,
    /// What happened (passed through [`crate::redact`]).
    pub message: String,
    /// What to do.
    pub help: Option<String>,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fault {}

/// The [`Fault`] in `e`'s chain, if any.
pub fn fault(e: &anyhow::Error) -> Option<&Fault> {
    e.chain().find_map(|c| c.downcast_ref::<Fault>())
}

/// The exit code a ledger error calls for: its [`Fault`]'s, else 2.
pub fn class(e: &anyhow::Error) -> ExitStatus {
    fault(e).map_or(ExitStatus::Failure, |f| f.class)
}

impl Ledger {
    /// Opens (creating if needed) the SQLite ledger at `path`, waiting until `wait` for a run
    /// that holds it. `notice` is told once when waiting starts.
    pub fn open(
        path: &Path,
        wait: Duration,
        notice: &mut dyn FnMut(&str),
    ) -> Result<Ledger, OpenError> {
        Ledger::open_at(&Location::File(path.to_path_buf()), wait, notice)
    }

    /// Opens (creating its tables if needed) the ledger at `at`, waiting until `wait` for a
    /// run that holds it, on this machine or another. `notice` is told once when waiting
    /// starts.
    pub fn open_at(
        at: &Location,
        wait: Duration,
        notice: &mut dyn FnMut(&str),
    ) -> Result<Ledger, OpenError> {
        let store: Box<dyn Store> = match at {
            Location::File(path) => Box::new(sqlite::SqliteLedger::open(path, wait, notice)?),
            Location::Postgres(url) => Box::new(postgres::PgLedger::open(url, wait, notice)?),
        };
        Ok(Ledger {
            store,
            name: at.describe(),
        })
    }

    /// How messages name the ledger.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The delivery of content `sha256` to `destination`, if it was delivered.
    pub fn find(&self, destination: &str, sha256: &str) -> anyhow::Result<Option<Delivery>> {
        self.store.find(destination, sha256)
    }

    /// Notes, before a part is sent, that it is being sent: if the run dies between the
    /// server's rename and [`Ledger::record`], the next run (on any machine sharing the
    /// ledger) finds this note and checks the server instead of sending the part again.
    pub fn begin(&self, destination: &str, sha256: &str, note: &Note<'_>) -> anyhow::Result<()> {
        self.store.begin(destination, sha256, note)
    }

    /// What was noted of a part a run began to send and did not record, if anything.
    pub fn unfinished(&self, destination: &str, sha256: &str) -> anyhow::Result<Option<Noted>> {
        self.store.unfinished(destination, sha256)
    }

    /// Records a confirmed delivery and clears its note, in one transaction (durably:
    /// committed before this returns).
    pub fn record(&self, d: &Delivery) -> anyhow::Result<()> {
        self.store.record(d)
    }

    /// When the conversion `order_key` was queued at `destination`, with its `QueuedUri`.
    pub fn find_conversion(
        &self,
        destination: &str,
        order_key: &str,
    ) -> anyhow::Result<Option<(String, String)>> {
        self.store.find_conversion(destination, order_key)
    }

    /// Records a queued conversion (committed before this returns).
    pub fn record_conversion(&self, c: &QueuedConversion) -> anyhow::Result<()> {
        self.store.record_conversion(c)
    }

    /// Queued conversions, oldest first, optionally only those at or after `since`.
    pub fn conversions(&self, since: Option<&str>) -> anyhow::Result<Vec<QueuedConversion>> {
        self.store.conversions(since.unwrap_or(""))
    }

    /// Every delivery, oldest first, optionally only those at or after `since` (a date or
    /// timestamp prefix compared as text, which ISO 8601 UTC allows).
    pub fn history(&self, since: Option<&str>) -> anyhow::Result<Vec<Delivery>> {
        self.store.history(since.unwrap_or(""))
    }
}

/// The time to record a delivery at: now, UTC.
pub use crate::values::date::now_utc as now;

/// The columns each table must have, for both backends: a table of ours that lacks one is
/// another program's, or damaged.
const COLUMNS: [(&str, &[&str]); 3] = [
    (
        "deliveries",
        &[
            "sha256",
            "destination",
            "remote_name",
            "bytes",
            "rows",
            "input",
            "delivered_at",
            "source_lines",
        ],
    ),
    (
        "conversions",
        &[
            "destination",
            "order_key",
            "order_id",
            "queued_uri",
            "input",
            "line",
            "queued_at",
        ],
    ),
    (
        "sending",
        &[
            "sha256",
            "destination",
            "remote_name",
            "bytes",
            "started_at",
        ],
    ),
];

/// The columns added for encrypted parts, as `(table, column, type)`: the same SQL for both
/// backends. New ledgers have them; opening an older one adds those it lacks.
pub const ENCRYPTED_COLUMNS: [(&str, &str, &str); 4] = [
    ("deliveries", "encrypted_sha256", "TEXT"),
    ("deliveries", "encrypted_bytes", "BIGINT"),
    ("sending", "encrypted_sha256", "TEXT"),
    ("sending", "encrypted_bytes", "BIGINT"),
];

/// The statements that add to an older ledger the [`ENCRYPTED_COLUMNS`] it lacks (`have`
/// lists a table's columns; `prefix` is the backend's table prefix).
fn add_encrypted_columns<E>(
    prefix: &str,
    mut have: impl FnMut(&str) -> Result<Vec<String>, E>,
) -> Result<String, E> {
    let mut sql = String::new();
    for (table, column, kind) in ENCRYPTED_COLUMNS {
        if !have(table)?.iter().any(|h| h == column) {
            sql.push_str(&format!(
                "ALTER TABLE {prefix}{table} ADD COLUMN {column} {kind};\n"
            ));
        }
    }
    Ok(sql)
}

/// The first column of [`COLUMNS`] that `have(table)` lacks, as `(table, column)`.
fn missing_column<E>(
    mut have: impl FnMut(&str) -> Result<Vec<String>, E>,
) -> Result<Option<(&'static str, &'static str)>, E> {
    for (table, want) in COLUMNS {
        let have = have(table)?;
        if let Some(c) = want.iter().find(|c| !have.iter().any(|h| h == *c)) {
            return Ok(Some((table, c)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_gives_its_class_and_help_through_context() {
        let e = anyhow::Error::new(Fault {
            class: ExitStatus::TemporaryDelivery,
            message: "connection closed".into(),
            help: Some("re-run later".into()),
        })
        .context("cannot read the ledger");
        assert_eq!(class(&e), ExitStatus::TemporaryDelivery);
        let cli = OpenError::Other(e).into_cli("nothing was sent");
        assert_eq!(cli.class, ExitStatus::TemporaryDelivery);
        assert_eq!(cli.help, vec!["re-run later".to_string()]);
        assert_eq!(
            class(&anyhow::anyhow!("damaged")),
            ExitStatus::Failure,
            "anything else needs a person: exit 2"
        );
    }

    #[test]
    fn a_missing_column_is_named() {
        let found = missing_column(|t| {
            Ok::<_, ()>(match t {
                "sending" => vec!["sha256".into(), "destination".into()],
                _ => COLUMNS
                    .iter()
                    .find(|(n, _)| *n == t)
                    .unwrap()
                    .1
                    .iter()
                    .map(|c| c.to_string())
                    .collect(),
            })
        });
        assert_eq!(found, Ok(Some(("sending", "remote_name"))));
    }
}
