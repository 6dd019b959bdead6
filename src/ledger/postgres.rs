//! The PostgreSQL backend: one ledger that the hosts of a brand or an agency share, so that
//! cron jobs on several machines deliver each part once. The tables are the SQLite ledger's,
//! named `convsubmit_*` in the connection's current schema, with `convsubmit_meta` holding
//! the schema's version; other tables in the database are left alone.
//!
//! The lock is a session-level advisory lock whose key comes from the schema's name: one run
//! per ledger at a time across every host, held until the run ends, and released by the
//! server when the session does (a host that dies, a network that goes away). A second run
//! waits for it, up to its deadline, as for the file lock.
//!
//! Errors are classed as for any channel: the database unreachable, a connection that drops
//! mid-run or a server restarting is temporary (exit 3, re-run later: the protocol's notes
//! make the re-run, on any host, safe); a refused login, a missing database or a missing
//! permission is permanent (exit 4, naming what to change). Every message the server sends
//! is passed through [`crate::redact`].

use super::url::{PgUrl, SslMode};
use super::{Delivery, Fault, Note, Noted, OpenError, QueuedConversion, Store};
use crate::exit::ExitStatus;
use ::postgres::{Client, NoTls, Row};
use anyhow::Result;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The schema's version, in `convsubmit_meta`: 1 before encrypted parts, 2 with their
/// columns (a version 1 ledger is migrated when opened).
const SCHEMA_VERSION: i32 = 2;

/// The schema, created in one transaction by the first run (which holds the lock).
const SCHEMA: &str = "
CREATE TABLE convsubmit_meta (
    schema_version INTEGER NOT NULL
);
INSERT INTO convsubmit_meta (schema_version) VALUES (2);
CREATE TABLE convsubmit_deliveries (
    id BIGSERIAL PRIMARY KEY,
    sha256 TEXT NOT NULL,
    destination TEXT NOT NULL,
    remote_name TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    rows BIGINT NOT NULL,
    input TEXT NOT NULL,
    delivered_at TEXT NOT NULL,
    source_lines TEXT NOT NULL DEFAULT '',
    encrypted_sha256 TEXT,
    encrypted_bytes BIGINT
);
CREATE INDEX convsubmit_deliveries_by_content ON convsubmit_deliveries (destination, sha256);
CREATE TABLE convsubmit_conversions (
    id BIGSERIAL,
    destination TEXT NOT NULL,
    order_key TEXT NOT NULL,
    order_id TEXT NOT NULL,
    queued_uri TEXT NOT NULL,
    input TEXT NOT NULL,
    line BIGINT NOT NULL,
    queued_at TEXT NOT NULL,
    PRIMARY KEY (destination, order_key)
);
CREATE TABLE convsubmit_sending (
    sha256 TEXT NOT NULL,
    destination TEXT NOT NULL,
    remote_name TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    started_at TEXT NOT NULL,
    encrypted_sha256 TEXT,
    encrypted_bytes BIGINT,
    PRIMARY KEY (destination, sha256)
);
";

/// Every write a run makes, once, rolled back: a user who may read but not write is told
/// before anything is sent.
const WRITE_CHECK: &str = "
INSERT INTO convsubmit_sending (sha256, destination, remote_name, bytes, started_at)
    VALUES ('convsubmit-write-check', 'convsubmit-write-check', '', 0, '')
    ON CONFLICT (destination, sha256) DO UPDATE SET remote_name = EXCLUDED.remote_name;
DELETE FROM convsubmit_sending WHERE destination = 'convsubmit-write-check';
INSERT INTO convsubmit_deliveries (sha256, destination, remote_name, bytes, rows, input, delivered_at)
    VALUES ('convsubmit-write-check', 'convsubmit-write-check', '', 0, 0, '', '');
INSERT INTO convsubmit_conversions (destination, order_key, order_id, queued_uri, input, line, queued_at)
    VALUES ('convsubmit-write-check', '', '', '', '', 0, '')
    ON CONFLICT (destination, order_key) DO UPDATE SET queued_uri = EXCLUDED.queued_uri;
UPDATE convsubmit_meta SET schema_version = schema_version;
";

/// The longest a connection attempt or a statement may take, within the run's deadline.
const MAX_CONNECT: Duration = Duration::from_secs(30);
const MAX_STATEMENT: Duration = Duration::from_secs(300);

/// An open, locked PostgreSQL ledger.
pub struct PgLedger {
    /// Dropping it ends the session, and the lock with it. Behind a mutex so that the API's
    /// concurrent senders share one ledger.
    client: Mutex<Client>,
    /// The URL, for messages.
    name: String,
}

impl PgLedger {
    /// Connects, takes the ledger's lock (waiting until `wait` for a run that holds it, on
    /// this host or another), and checks or creates the tables.
    pub fn open(
        url: &PgUrl,
        wait: Duration,
        notice: &mut dyn FnMut(&str),
    ) -> Result<PgLedger, OpenError> {
        let deadline = Instant::now().checked_add(wait);
        let name = url.display().to_string();
        let failed = |e| OpenError::Other(fault(e, "cannot open", url));
        let mut client = connect(url, wait).map_err(OpenError::Other)?;
        let limit = wait
            .clamp(Duration::from_secs(1), MAX_STATEMENT)
            .as_millis();
        client
            .batch_execute(&format!("SET statement_timeout = {limit}"))
            .map_err(failed)?;
        let key: i64 = client
            .query_one(
                "SELECT ('x' || left(md5('convsubmit ledger ' || coalesce(current_schema(), '')), 16))::bit(64)::bigint",
                &[],
            )
            .map_err(failed)?
            .get(0);
        let mut told = false;
        loop {
            let held: bool = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .map_err(failed)?
                .get(0);
            if held {
                break;
            }
            if !told {
                notice(&format!(
                    "waiting for another convsubmit run to finish with the ledger {name}"
                ));
                told = true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(OpenError::Busy(name));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        prepare(&mut client, url)?;
        Ok(PgLedger {
            client: Mutex::new(client),
            name,
        })
    }

    /// The session. A panic while it was held leaves at most an open transaction, which the
    /// next statement's error or the session's end rolls back.
    fn db(&self) -> std::sync::MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read_err(&self) -> impl Fn(::postgres::Error) -> anyhow::Error + '_ {
        move |e| fault_named(e, "cannot read", &self.name)
    }

    fn write_err(&self) -> impl Fn(::postgres::Error) -> anyhow::Error + '_ {
        move |e| fault_named(e, "cannot write to", &self.name)
    }

    /// Runs `change` after clearing the note of `key` at `destination`, in one transaction.
    fn clearing(
        &self,
        destination: &str,
        key: &str,
        change: impl FnOnce(&mut ::postgres::Transaction) -> Result<u64, ::postgres::Error>,
    ) -> Result<()> {
        let mut db = self.db();
        let write = self.write_err();
        let mut tx = db.transaction().map_err(&write)?;
        tx.execute(
            "DELETE FROM convsubmit_sending WHERE destination = $1 AND sha256 = $2",
            &[&destination, &key],
        )
        .map_err(&write)?;
        change(&mut tx).map_err(&write)?;
        tx.commit().map_err(&write)
    }
}

impl Store for PgLedger {
    fn find(&self, destination: &str, sha256: &str) -> Result<Option<Delivery>> {
        let row = self
            .db()
            .query_opt(
                "SELECT sha256, destination, remote_name, bytes, rows, input, delivered_at, source_lines,
                     encrypted_sha256, encrypted_bytes
                 FROM convsubmit_deliveries WHERE destination = $1 AND sha256 = $2
                 ORDER BY id DESC LIMIT 1",
                &[&destination, &sha256],
            )
            .map_err(self.read_err())?;
        Ok(row.as_ref().map(delivery))
    }

    fn begin(&self, destination: &str, key: &str, note: &Note<'_>) -> Result<()> {
        self.db()
            .execute(
                "INSERT INTO convsubmit_sending (sha256, destination, remote_name, bytes, started_at, encrypted_sha256, encrypted_bytes)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (destination, sha256) DO UPDATE SET remote_name = EXCLUDED.remote_name,
                     bytes = EXCLUDED.bytes, started_at = EXCLUDED.started_at,
                     encrypted_sha256 = EXCLUDED.encrypted_sha256,
                     encrypted_bytes = EXCLUDED.encrypted_bytes",
                &[
                    &key,
                    &destination,
                    &note.remote_name,
                    &(note.bytes as i64),
                    &super::now(),
                    &note.encrypted.map(|(sha, _)| sha),
                    &note.encrypted.map(|(_, n)| n as i64),
                ],
            )
            .map_err(self.write_err())?;
        Ok(())
    }

    fn unfinished(&self, destination: &str, key: &str) -> Result<Option<Noted>> {
        let row = self
            .db()
            .query_opt(
                "SELECT remote_name, encrypted_sha256, encrypted_bytes FROM convsubmit_sending
                 WHERE destination = $1 AND sha256 = $2",
                &[&destination, &key],
            )
            .map_err(self.read_err())?;
        Ok(row.map(|r| Noted {
            remote_name: r.get(0),
            encrypted: r
                .get::<_, Option<String>>(1)
                .zip(r.get::<_, Option<i64>>(2).map(|n| n as u64)),
        }))
    }

    fn record(&self, d: &Delivery) -> Result<()> {
        self.clearing(&d.destination, &d.sha256, |tx| {
            tx.execute(
                "INSERT INTO convsubmit_deliveries (sha256, destination, remote_name, bytes, rows, input, delivered_at, source_lines, encrypted_sha256, encrypted_bytes)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &d.sha256,
                    &d.destination,
                    &d.remote_name,
                    &(d.bytes as i64),
                    &(d.rows as i64),
                    &d.input,
                    &d.delivered_at,
                    &d.source_lines,
                    &d.encrypted_sha256,
                    &d.encrypted_bytes.map(|n| n as i64),
                ],
            )
        })
    }

    fn find_conversion(
        &self,
        destination: &str,
        order_key: &str,
    ) -> Result<Option<(String, String)>> {
        let row = self
            .db()
            .query_opt(
                "SELECT queued_uri, queued_at FROM convsubmit_conversions
                 WHERE destination = $1 AND order_key = $2",
                &[&destination, &order_key],
            )
            .map_err(self.read_err())?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    fn record_conversion(&self, c: &QueuedConversion) -> Result<()> {
        self.clearing(&c.destination, &c.order_key, |tx| {
            tx.execute(
                "INSERT INTO convsubmit_conversions (destination, order_key, order_id, queued_uri, input, line, queued_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (destination, order_key) DO UPDATE SET order_id = EXCLUDED.order_id,
                     queued_uri = EXCLUDED.queued_uri, input = EXCLUDED.input,
                     line = EXCLUDED.line, queued_at = EXCLUDED.queued_at",
                &[
                    &c.destination,
                    &c.order_key,
                    &c.order_id,
                    &c.queued_uri,
                    &c.input,
                    &(c.line as i64),
                    &c.queued_at,
                ],
            )
        })
    }

    fn conversions(&self, since: &str) -> Result<Vec<QueuedConversion>> {
        let rows = self
            .db()
            .query(
                "SELECT destination, order_key, order_id, queued_uri, input, line, queued_at
                 FROM convsubmit_conversions WHERE queued_at >= $1 ORDER BY queued_at, id",
                &[&since],
            )
            .map_err(self.read_err())?;
        Ok(rows
            .iter()
            .map(|r| QueuedConversion {
                destination: r.get(0),
                order_key: r.get(1),
                order_id: r.get(2),
                queued_uri: r.get(3),
                input: r.get(4),
                line: r.get::<_, i64>(5) as u64,
                queued_at: r.get(6),
            })
            .collect())
    }

    fn history(&self, since: &str) -> Result<Vec<Delivery>> {
        let rows = self
            .db()
            .query(
                "SELECT sha256, destination, remote_name, bytes, rows, input, delivered_at, source_lines,
                     encrypted_sha256, encrypted_bytes
                 FROM convsubmit_deliveries WHERE delivered_at >= $1 ORDER BY id",
                &[&since],
            )
            .map_err(self.read_err())?;
        Ok(rows.iter().map(delivery).collect())
    }
}

fn delivery(r: &Row) -> Delivery {
    Delivery {
        sha256: r.get(0),
        destination: r.get(1),
        remote_name: r.get(2),
        bytes: r.get::<_, i64>(3) as u64,
        rows: r.get::<_, i64>(4) as u64,
        input: r.get(5),
        delivered_at: r.get(6),
        source_lines: r.get(7),
        encrypted_sha256: r.get(8),
        encrypted_bytes: r.get::<_, Option<i64>>(9).map(|n| n as u64),
    }
}

/// A session with the server: the password read now (not before: a `--dry-run` reads no
/// secret), TLS as `sslmode` says, bounded in time.
fn connect(url: &PgUrl, wait: Duration) -> Result<Client> {
    let mut config = url.config.clone();
    if let Some(source) = &url.password {
        let password = source.read()?;
        config.password(password.expose());
    }
    config
        .application_name("convsubmit")
        .connect_timeout(wait.clamp(Duration::from_secs(1), MAX_CONNECT))
        // A network that goes away mid-run is noticed, not waited on for ever.
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(30))
        .tcp_user_timeout(MAX_CONNECT);
    let connected = match url.ssl {
        SslMode::Disable => config
            .ssl_mode(::postgres::config::SslMode::Disable)
            .connect(NoTls),
        mode => {
            let mut tls = native_tls::TlsConnector::builder();
            if let Some(ca) = &url.ca_file {
                let cert = crate::deliver::ca_certificate(ca, native_tls::Certificate::from_pem)
                    .map_err(|e| {
                        anyhow::Error::new(Fault {
                            class: ExitStatus::Failure,
                            message: format!("[ledger] ca_file: {e}"),
                            help: None,
                        })
                    })?;
                tls.add_root_certificate(cert);
            }
            match mode {
                SslMode::Require if url.ca_file.is_none() => {
                    tls.danger_accept_invalid_certs(true)
                        .danger_accept_invalid_hostnames(true);
                }
                SslMode::Require | SslMode::VerifyCa => {
                    tls.danger_accept_invalid_hostnames(true);
                }
                _ => {}
            }
            let tls = tls.build().map_err(|e| {
                anyhow::anyhow!("cannot set up TLS for the ledger {}: {e}", url.display())
            })?;
            config
                .ssl_mode(::postgres::config::SslMode::Require)
                .connect(postgres_native_tls::MakeTlsConnector::new(tls))
        }
    };
    connected.map_err(|e| fault(e, "cannot connect to", url))
}

/// Checks the tables of a ledger (under the lock), creating them on the first run, and
/// that this user may write them.
fn prepare(client: &mut Client, url: &PgUrl) -> Result<(), OpenError> {
    let name = url.display();
    let failed = |e| OpenError::Other(fault(e, "cannot open", url));
    let refuse = |why: String| {
        OpenError::Other(anyhow::anyhow!(
            "the ledger {name} {why}; nothing was sent. Point [ledger] url at another database \
             (or schema: options=-csearch_path%3DNAME), or move those tables aside: a new \
             ledger knows of no delivery, so the next run would send every part again"
        ))
    };
    let schema: Option<String> = client
        .query_one("SELECT current_schema()::text", &[])
        .map_err(failed)?
        .get(0);
    if schema.is_none() {
        return Err(OpenError::Other(anyhow::anyhow!(
            "the ledger {name} has no schema to keep its tables in (the user's search_path \
             names none that exists); nothing was sent. Create one, or set the search_path"
        )));
    }
    let tables: Vec<String> = client
        .query(
            "SELECT c.relname::text FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relname LIKE 'convsubmit\\_%'
                 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
             ORDER BY 1",
            &[],
        )
        .map_err(failed)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if tables.is_empty() {
        let mut tx = client.transaction().map_err(failed)?;
        tx.batch_execute(SCHEMA).map_err(failed)?;
        tx.commit().map_err(failed)?;
    } else if !tables.iter().any(|t| t == "convsubmit_meta") {
        return Err(refuse(format!(
            "has tables named convsubmit_* ({}) but no convsubmit_meta: another program's, or a \
             damaged ledger",
            tables.join(", ")
        )));
    } else {
        let versions: Vec<i32> = client
            .query("SELECT schema_version FROM convsubmit_meta", &[])
            .map_err(failed)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        match versions[..] {
            [SCHEMA_VERSION] => {}
            // Before encrypted parts: add their columns (this run holds the lock).
            [1] => migrate(client).map_err(failed)?,
            [v] => {
                return Err(OpenError::Other(anyhow::anyhow!(
                    "the ledger {name} has schema version {v}, and this convsubmit knows only \
                     version {SCHEMA_VERSION}; nothing was sent. Another convsubmit made or \
                     changed it: run that version, or upgrade convsubmit on this machine"
                )));
            }
            _ => {
                return Err(refuse(format!(
                    "is damaged: convsubmit_meta holds {} rows, not one",
                    versions.len()
                )));
            }
        }
        let missing = super::missing_column(|table| columns(client, table)).map_err(failed)?;
        if let Some((table, column)) = missing {
            return Err(refuse(format!(
                "has a table convsubmit_{table} without the column {column}: not a convsubmit \
                 ledger, or a damaged one"
            )));
        }
    }
    // Fail now, before anything is sent, if this user may not write the ledger.
    let mut tx = client.transaction().map_err(failed)?;
    tx.batch_execute(WRITE_CHECK).map_err(failed)?;
    tx.rollback().map_err(failed)?;
    Ok(())
}

/// The columns of the ledger's table `table` (`deliveries`: `convsubmit_deliveries`).
fn columns(
    client: &mut impl ::postgres::GenericClient,
    table: &str,
) -> Result<Vec<String>, ::postgres::Error> {
    client
        .query(
            "SELECT attname::text FROM pg_catalog.pg_attribute
             WHERE attrelid = to_regclass(quote_ident(current_schema()) || '.' || $1)
                 AND attnum > 0 AND NOT attisdropped",
            &[&format!("convsubmit_{table}")],
        )
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
}

/// Brings a version 1 ledger to [`SCHEMA_VERSION`] in one transaction: the columns of
/// encrypted parts it lacks.
fn migrate(client: &mut Client) -> Result<(), ::postgres::Error> {
    let mut tx = client.transaction()?;
    let sql = super::add_encrypted_columns("convsubmit_", |table| columns(&mut tx, table))?;
    tx.batch_execute(&sql)?;
    tx.batch_execute(&format!(
        "UPDATE convsubmit_meta SET schema_version = {SCHEMA_VERSION}"
    ))?;
    tx.commit()
}

/// `e` as a ledger error of its class, the message passed through [`crate::redact`] and
/// with what to do.
fn fault(e: ::postgres::Error, doing: &str, url: &PgUrl) -> anyhow::Error {
    fault_named(e, doing, url.display())
}

fn fault_named(e: ::postgres::Error, doing: &str, name: &str) -> anyhow::Error {
    anyhow::Error::new(classify(&e, doing, name))
}

/// What went wrong, how bad it is, and what to do.
fn classify(e: &::postgres::Error, doing: &str, name: &str) -> Fault {
    const RERUN: &str = "the ledger's database could not be reached or went away: re-run \
                         later; what was delivered already is not sent again";
    let temporary = |help: &str| (ExitStatus::TemporaryDelivery, Some(help.to_string()));
    let (class, help, detail) = match e.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            let (class, help) = match code {
                "28P01" | "28000" => (
                    ExitStatus::PermanentDelivery,
                    Some(
                        "the server refused the login: check the user in [ledger] url, the \
                         password from [ledger] password_env, password_file or \
                         password_command, and the server's pg_hba.conf for this host"
                            .to_string(),
                    ),
                ),
                "3D000" => (
                    ExitStatus::PermanentDelivery,
                    Some(
                        "the database [ledger] url names does not exist: create it \
                         (createdb), or correct the URL"
                            .to_string(),
                    ),
                ),
                "42501" => (
                    ExitStatus::PermanentDelivery,
                    Some(
                        "the ledger's user lacks a permission: grant it what docs/delivery.md \
                         (\"Running on several machines\") lists"
                            .to_string(),
                    ),
                ),
                // Connection exceptions, a server shutting down or starting, too many
                // connections or out of resources, a statement that ran out of time, a
                // conflict to retry.
                c if c.starts_with("08")
                    || c.starts_with("53")
                    || c.starts_with("57P")
                    || matches!(c, "57014" | "40001" | "40P01" | "55P03") =>
                {
                    temporary(RERUN)
                }
                _ => (ExitStatus::Failure, None),
            };
            (
                class,
                help,
                format!("{}: {} ({code})", db.severity(), db.message()),
            )
        }
        None => {
            let mut detail = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                let text = c.to_string();
                if !detail.contains(&text) {
                    detail.push_str(&format!(": {text}"));
                }
                cause = c.source();
            }
            let (class, help) = if detail.contains("certificate") || detail.contains("hostname") {
                (
                    ExitStatus::PermanentDelivery,
                    Some(
                        "the server's TLS certificate was not trusted: name its CA with \
                         [ledger] ca_file, or check the host name in [ledger] url against the \
                         certificate"
                            .to_string(),
                    ),
                )
            } else if detail.contains("server does not support TLS") {
                (
                    ExitStatus::PermanentDelivery,
                    Some(
                        "the server does not offer TLS: turn ssl on in its postgresql.conf (or, \
                         for a server on this machine only, use sslmode=disable)"
                            .to_string(),
                    ),
                )
            } else if detail.contains("password missing") {
                (
                    ExitStatus::Failure,
                    Some(
                        "the server asks for a password: set [ledger] password_env, \
                         password_file or password_command"
                            .to_string(),
                    ),
                )
            } else if detail.starts_with("invalid configuration")
                || detail.starts_with("invalid connection string")
            {
                (ExitStatus::Failure, None)
            } else {
                temporary(RERUN)
            };
            (class, help, detail)
        }
    };
    Fault {
        class,
        message: crate::redact::redact(&format!("{doing} the ledger {name}: {detail}"))
            .into_owned(),
        help,
    }
}
