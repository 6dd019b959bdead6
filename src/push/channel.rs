//! The one channel abstraction: every way out — a folder, SFTP, FTP/FTPS, email and the
//! Conversions API — is a [`Channel`] that turns the plan's parts into [`Unit`]s and opens
//! [`Lane`]s that send them. The delivery loop (`deliver.rs`) owns the ledger protocol, the
//! retries and the deadline; a lane makes one attempt at one unit.
//!
//! [`Files`] is the channel of every [`Transport`]: its unit is a part, sent under a name that
//! never replaces other bytes at the destination.

use super::encrypt::Recipient;
use super::names::{MAX_VARIANTS, variant};
use super::part::{PartFile, Unit};
use crate::deliver::{DeliveryError, FailureKind, Holding, Transport};
pub use crate::ledger::Noted;
use crate::template::Template;
use anyhow::Result;
use std::time::Duration;

/// A way out.
pub trait Channel {
    /// Where units go, as the ledger keys them (never a secret).
    fn destination(&self) -> String;

    /// Where `unit` goes, as the ledger keys it (the same for every unit, but for email per
    /// event type, whose units go to one address each).
    fn destination_of(&self, _unit: &Unit) -> String {
        self.destination()
    }

    /// Where units go, for people.
    fn label(&self) -> String;

    /// The units that deliver `parts`, checked against `template`.
    fn units(&self, parts: Vec<PartFile>, template: Option<&Template>) -> Result<Vec<Unit>>;

    /// What can be checked without sending anything (`--dry-run` too): a destination that
    /// cannot exist fails here, as the real run would.
    fn check(&self) -> Result<(), DeliveryError> {
        Ok(())
    }

    /// Senders that work side by side, each with its own connection.
    fn lanes(&mut self) -> Result<Vec<Box<dyn Lane + '_>>, DeliveryError>;

    /// Writes what the channel keeps of a delivery beside the inputs (the API's results
    /// files); returns what it wrote.
    fn finish(&self, _outcome: &super::outcome::Outcome) -> Result<Vec<std::path::PathBuf>> {
        Ok(vec![])
    }
}

/// One sender of a channel.
pub trait Lane: Send {
    /// One attempt at delivering `unit`. Before anything leaves, the name it goes under is
    /// noted through `job.note` (the ledger's "in flight").
    fn attempt(&mut self, unit: &Unit, job: &mut Attempt<'_>) -> Result<Sent, Step>;

    /// Ends the lane's connection, if any.
    fn close(&mut self);
}

/// What one attempt is given.
pub struct Attempt<'a> {
    /// What an earlier run noted for this unit and did not record (it may have arrived).
    pub noted: Option<&'a Noted>,
    /// Deliver again what the destination holds already (as a new file).
    pub force: bool,
    /// The timeout of one network operation.
    pub timeout: Duration,
    /// Notes in the ledger the name the unit is about to be sent under.
    pub note: &'a mut dyn FnMut(&str) -> Result<()>,
    /// Told the bytes sent so far.
    pub progress: &'a mut dyn FnMut(u64),
}

/// What an attempt achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// Delivered now, under this name; `receipt` is what the server answered (a QueuedUri).
    Sent {
        /// The name at the destination.
        remote: String,
        /// The server's receipt.
        receipt: Option<String>,
    },
    /// Found at the destination under this name with the unit's very bytes (sent by an
    /// earlier run that stopped before recording it).
    Arrived(String),
    /// Refused for good, this unit alone (an order impact.com will not take); the others go on.
    Refused(Refusal),
}

/// An order the server refused, with where its problems are in the input.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    /// HTTP status.
    pub status: u16,
    /// What the server said.
    pub message: String,
    /// Field errors: the input line and column they point at.
    pub problems: Vec<FieldError>,
}

/// One field error of a refused order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The input line (0 when unknown).
    pub line: u64,
    /// The API field.
    pub field: String,
    /// The input column it came from.
    pub column: Option<String>,
    /// What the server said of it.
    pub message: String,
}

/// Why an attempt failed: the channel (retried when temporary) or the ledger's note (never
/// retried; nothing was sent).
#[derive(Debug)]
pub enum Step {
    /// The channel failed.
    Channel(DeliveryError),
    /// The ledger could not note the unit.
    Ledger(anyhow::Error),
}

impl From<DeliveryError> for Step {
    fn from(e: DeliveryError) -> Step {
        Step::Channel(e)
    }
}

impl super::retry::Retryable for Step {
    fn is_temporary(&self) -> bool {
        matches!(self, Step::Channel(e) if e.kind == FailureKind::Temporary)
    }

    fn wait(&self) -> Option<Duration> {
        match self {
            Step::Channel(e) => e.wait,
            Step::Ledger(_) => None,
        }
    }
}

/// The channel of a [`Transport`]: parts, one at a time over one connection, each
/// encrypted first when the channel has a recipient.
pub struct Files {
    transport: Box<dyn Transport>,
    encrypt: Option<std::sync::Arc<Recipient>>,
}

impl Files {
    /// The channel over `transport`.
    pub fn new(transport: Box<dyn Transport>) -> Files {
        Files {
            transport,
            encrypt: None,
        }
    }

    /// The channel, encrypting each part to `recipient` (when `Some`) before it is sent.
    pub fn encrypting(mut self, recipient: Option<std::sync::Arc<Recipient>>) -> Files {
        self.encrypt = recipient;
        self
    }

    /// A lane over the transport (which connects when first used).
    pub fn lane(&mut self) -> FileLane<'_> {
        FileLane {
            destination: self.transport.destination(),
            transport: self.transport.as_mut(),
            connected: false,
        }
    }

    /// The transport, for `doctor`.
    pub fn transport(&mut self) -> &mut dyn Transport {
        self.transport.as_mut()
    }
}

impl Channel for Files {
    fn destination(&self) -> String {
        self.transport.destination()
    }

    fn label(&self) -> String {
        match &self.encrypt {
            Some(r) => format!(
                "{}, encrypted to {}",
                self.transport.label(),
                r.fingerprint()
            ),
            None => self.transport.label(),
        }
    }

    fn units(&self, parts: Vec<PartFile>, template: Option<&Template>) -> Result<Vec<Unit>> {
        let parts = match self.transport.max_part_bytes() {
            // Email: a part over the attachment limit goes as several smaller ones (room
            // left for what encryption adds).
            Some(max) => {
                let room = match self.encrypt {
                    Some(_) => super::encrypt::OVERHEAD,
                    None => 0,
                };
                super::fit::fit(parts, max.saturating_sub(room).max(1), template)?
            }
            None => parts,
        };
        parts
            .into_iter()
            .map(|p| match &self.encrypt {
                Some(r) => r.seal(p).map(Unit::Part),
                None => Ok(Unit::Part(p)),
            })
            .collect()
    }

    fn check(&self) -> Result<(), DeliveryError> {
        self.transport.check()
    }

    fn lanes(&mut self) -> Result<Vec<Box<dyn Lane + '_>>, DeliveryError> {
        Ok(vec![Box::new(self.lane())])
    }
}

/// Sends parts over one transport's connection.
pub struct FileLane<'a> {
    transport: &'a mut dyn Transport,
    destination: String,
    connected: bool,
}

impl Lane for FileLane<'_> {
    fn attempt(&mut self, unit: &Unit, job: &mut Attempt<'_>) -> Result<Sent, Step> {
        let Unit::Part(part) = unit else {
            unreachable!("a file channel's units are parts")
        };
        if !self.connected {
            self.transport.connect(job.timeout)?;
            self.connected = true;
        }
        let result = self.put(part, job);
        if result
            .as_ref()
            .is_err_and(super::retry::Retryable::is_temporary)
        {
            // Reconnect for the next attempt.
            self.connected = false;
        }
        result
    }

    fn close(&mut self) {
        if self.connected {
            self.transport.disconnect();
            self.connected = false;
        }
    }
}

impl FileLane<'_> {
    /// The noted name if it holds the part already, else the first name that is free (noted,
    /// then sent) or holds the part. `force`: a name that holds the part counts as taken, so
    /// that the part is delivered again as a new file.
    fn put(&mut self, part: &PartFile, job: &mut Attempt<'_>) -> Result<Sent, Step> {
        if let Some(noted) = job.noted {
            // What was sent then: an encrypted file has the noted bytes, not this run's.
            let wire = part.wire();
            let (sha256, bytes) = match &noted.encrypted {
                Some((sha256, bytes)) => (sha256.as_str(), *bytes),
                None => (wire.sha256, wire.bytes),
            };
            if self.transport.holds(&noted.remote_name, bytes, sha256)? == Holding::Same {
                return Ok(Sent::Arrived(noted.remote_name.clone()));
            }
        }
        let name = match self.free_name(part, job.force)? {
            (name, Holding::Same) => return Ok(Sent::Arrived(name)),
            (name, _) => name,
        };
        (job.note)(&name).map_err(Step::Ledger)?;
        self.transport.put(part.wire().local, &name, job.progress)?;
        Ok(Sent::Sent {
            remote: name,
            receipt: None,
        })
    }

    /// The part's name, or its first variant that holds nothing or the part itself: a name
    /// that holds other bytes is never reused.
    fn free_name(
        &mut self,
        part: &PartFile,
        force: bool,
    ) -> Result<(String, Holding), DeliveryError> {
        let wire = part.wire();
        for n in 1..=MAX_VARIANTS {
            let name = part.remote(&variant(&part.name, n));
            match self.transport.holds(&name, wire.bytes, wire.sha256)? {
                Holding::Other => continue,
                Holding::Same if force => continue,
                holding => return Ok((name, holding)),
            }
        }
        Err(DeliveryError::permanent(
            "choose a name",
            format!(
                "{} and its variants up to {} all hold other files at {}",
                part.remote(&part.name),
                part.remote(&variant(&part.name, MAX_VARIANTS)),
                self.destination
            ),
        )
        .help(
            "move the old files out of the way at the destination; none of them is ever replaced",
        ))
    }
}
