//! What a delivery did, as data: one [`UnitOutcome`] per part or order, the totals, and why
//! it stopped if it did. Printed as text by the command, and as it is (serde) by
//! `--format json|jsonl`. The exit code is decided here, once.

use super::channel::{Refusal, Sent};
use super::part::Unit;
use crate::deliver::{DeliveryError, FailureKind};
use crate::exit::ExitStatus;
use serde::Serialize;

/// The delivery of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Where units went, for people.
    pub destination: String,
    /// `--dry-run`: nothing was sent.
    pub dry_run: bool,
    /// Every unit, in input order.
    pub units: Vec<UnitOutcome>,
    /// Counts over `units`.
    pub totals: Totals,
    /// Why the delivery stopped before the end, if it did.
    pub stopped: Option<Stopped>,
}

/// What became of one part or order.
#[derive(Debug, Clone, Serialize)]
pub struct UnitOutcome {
    /// `part` or `order`.
    pub unit: &'static str,
    /// The input it came from.
    pub input: String,
    /// The part's file name, or the OrderId.
    pub name: String,
    /// The order's first input line (orders only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// SHA-256 of the part (parts only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Size of the part (parts only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// SHA-256 of the encrypted file sent for the part, when the channel encrypts (this
    /// run's: each run encrypts to other bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypted_sha256: Option<String>,
    /// Size of the encrypted file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypted_bytes: Option<u64>,
    /// Data rows.
    pub rows: u64,
    /// The event type of its rows, when the channel cut parts by event type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// What happened.
    #[serde(flatten)]
    pub fate: Fate,
}

/// What happened to one unit.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Fate {
    /// Delivered now.
    Sent {
        /// Its name at the destination.
        remote_name: String,
        /// What the server answered (the API's QueuedUri).
        #[serde(skip_serializing_if = "Option::is_none")]
        queued_uri: Option<String>,
    },
    /// Delivered by an earlier run, as the ledger records.
    AlreadyDelivered {
        /// Its name at the destination.
        remote_name: String,
        /// When, UTC.
        delivered_at: String,
    },
    /// Found at the destination with its very bytes (an earlier run sent it and stopped
    /// before recording it); recorded now, not sent again.
    FoundDelivered {
        /// Its name at the destination.
        remote_name: String,
    },
    /// Would be sent (`--dry-run`).
    WouldSend {
        /// What would be sent, when it is short enough to show (the API's form).
        #[serde(skip_serializing_if = "Option::is_none")]
        request: Option<String>,
    },
    /// Refused by the server, this unit alone.
    Refused(Refusal),
    /// The unit whose failure stopped the delivery.
    Failed {
        /// 3 (temporary) or 4 (permanent), or 2 for the ledger.
        exit_code: u8,
        /// The step that failed.
        stage: String,
        /// What happened.
        message: String,
    },
    /// Not sent: the delivery stopped before it.
    NotSent,
}

impl From<Sent> for Fate {
    fn from(sent: Sent) -> Fate {
        match sent {
            Sent::Sent { remote, receipt } => Fate::Sent {
                remote_name: remote,
                queued_uri: receipt,
            },
            Sent::Arrived(remote) => Fate::FoundDelivered {
                remote_name: remote,
            },
            Sent::Refused(r) => Fate::Refused(r),
        }
    }
}

impl UnitOutcome {
    /// `unit`'s outcome.
    pub fn new(unit: &Unit, fate: Fate) -> UnitOutcome {
        let (kind, line, sha256, bytes) = match unit {
            Unit::Part(p) => ("part", None, Some(p.sha256.clone()), Some(p.bytes)),
            Unit::Order(o) => ("order", Some(o.line()), None, None),
        };
        let sealed = match unit {
            Unit::Part(p) => p.sealed.as_ref(),
            Unit::Order(_) => None,
        };
        UnitOutcome {
            unit: kind,
            input: unit.input().to_string(),
            name: unit.name().to_string(),
            line,
            sha256,
            bytes,
            encrypted_sha256: sealed.map(|s| s.sha256.clone()),
            encrypted_bytes: sealed.map(|s| s.bytes),
            rows: unit.rows(),
            event_type: match unit {
                Unit::Part(p) => p.event_type.clone(),
                Unit::Order(_) => None,
            },
            fate,
        }
    }
}

/// Counts over a delivery.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    /// Parts or orders in the run.
    pub units: u64,
    /// Sent now.
    pub sent: u64,
    /// Rows in what was sent now.
    pub rows_sent: u64,
    /// Delivered before (ledger, or found at the destination).
    pub already_delivered: u64,
    /// Would be sent (`--dry-run`).
    pub would_send: u64,
    /// Refused by the server.
    pub refused: u64,
    /// Failed or not sent.
    pub not_sent: u64,
}

impl Totals {
    /// Counts `units`.
    pub fn of(units: &[UnitOutcome]) -> Totals {
        let mut t = Totals {
            units: units.len() as u64,
            ..Totals::default()
        };
        for u in units {
            match &u.fate {
                Fate::Sent { .. } => {
                    t.sent += 1;
                    t.rows_sent += u.rows;
                }
                Fate::AlreadyDelivered { .. } | Fate::FoundDelivered { .. } => {
                    t.already_delivered += 1
                }
                Fate::WouldSend { .. } => t.would_send += 1,
                Fate::Refused(_) => t.refused += 1,
                Fate::Failed { .. } | Fate::NotSent => t.not_sent += 1,
            }
        }
        t
    }
}

/// Why a delivery stopped.
#[derive(Debug, Clone, Serialize)]
pub struct Stopped {
    /// The exit code it calls for.
    #[serde(serialize_with = "exit_code")]
    pub class: ExitStatus,
    /// The step that failed.
    pub stage: String,
    /// What happened.
    pub message: String,
    /// What to do, most specific first.
    pub help: Vec<String>,
}

fn exit_code<S: serde::Serializer>(class: &ExitStatus, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u8(*class as u8)
}

impl Stopped {
    /// The error that ends the run: its message, its help, its exit code.
    pub fn error(&self) -> crate::error::CliError {
        let mut e = crate::error::CliError::new(self.class, anyhow::anyhow!("{}", self.message));
        for h in &self.help {
            e = e.help(h.clone());
        }
        e
    }

    /// `--max-time` ran out before the next unit could start.
    pub fn out_of_time() -> Stopped {
        Stopped {
            class: ExitStatus::TemporaryDelivery,
            stage: "deadline".into(),
            message: "--max-time ran out; what is left is sent by the next run".into(),
            help: vec![RERUN_LATER.into()],
        }
    }

    /// A channel's failure: exit 3 when a re-run later can help, else 4.
    pub fn channel(e: &DeliveryError, destination: &str) -> Stopped {
        let mut help: Vec<String> = e.help.iter().cloned().collect();
        let class = match e.kind {
            FailureKind::Temporary => {
                help.push(RERUN_LATER.into());
                ExitStatus::TemporaryDelivery
            }
            FailureKind::Permanent => {
                if help.is_empty() {
                    help.push(PERMANENT.into());
                }
                ExitStatus::PermanentDelivery
            }
        };
        Stopped {
            class,
            stage: e.stage.to_string(),
            message: format!("{destination}: {e}"),
            help,
        }
    }

    /// The ledger failed before the unit was sent: it was not sent. A database that could
    /// not be reached is temporary (exit 3), one that refused this user permanent (4),
    /// anything else a ledger to fix (2).
    pub fn ledger_before(e: &anyhow::Error) -> Stopped {
        let class = crate::ledger::class(e);
        let help = match (
            class,
            crate::ledger::fault(e).and_then(|f| f.help.as_deref()),
        ) {
            (ExitStatus::TemporaryDelivery, _) => {
                format!("the next part was not sent: {RERUN_LATER}")
            }
            (_, Some(h)) => format!("the next part was not sent: {h}"),
            _ => format!(
                "the next part was not sent: fix the ledger (see above), then re-run; {AFTER}"
            ),
        };
        Stopped {
            class,
            stage: "ledger".into(),
            message: format!("{e:#}"),
            help: vec![help],
        }
    }

    /// The ledger could not record a unit just delivered. When its database went away, its
    /// note of the unit stays, and the next run resolves it as after a crash (temporary).
    pub fn ledger_after(e: &anyhow::Error, unit: &str, destination: &str) -> Stopped {
        let (class, help) = match crate::ledger::class(e) {
            ExitStatus::TemporaryDelivery => (
                ExitStatus::TemporaryDelivery,
                format!(
                    "{unit} was delivered to {destination} but not recorded, and the ledger's \
                     database went away: re-run later; the ledger still notes {unit} as in \
                     flight, and the next run resolves that note as after a crash \
                     (docs/delivery.md)"
                ),
            ),
            _ => (
                ExitStatus::PermanentDelivery,
                format!(
                    "{unit} was delivered to {destination} but not recorded: fix the ledger, and check {destination} before sending it again"
                ),
            ),
        };
        Stopped {
            class,
            stage: "ledger".into(),
            message: format!("{e:#}"),
            help: vec![help],
        }
    }
}

/// What to do after a temporary failure.
pub const RERUN_LATER: &str =
    "a temporary failure: re-run later; what was delivered already is not sent again";

/// What to do after a permanent failure without a more specific help.
const PERMANENT: &str = "a permanent failure: nothing more is sent until a person changes what the error names (the destination, the credentials or the settings in convsubmit.toml)";

const AFTER: &str = "what was delivered already is not sent again";

impl Outcome {
    /// The exit code of the delivery; `data_errors`: rows were set aside.
    pub fn exit(&self, data_errors: bool) -> ExitStatus {
        match &self.stopped {
            Some(s) => s.class,
            None if self.totals.refused > 0 => ExitStatus::PermanentDelivery,
            None if data_errors => ExitStatus::DataErrors,
            None => ExitStatus::Success,
        }
    }
}
