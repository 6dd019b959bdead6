//! What push delivers: a part file made by `split` in the run's work folder, or one order of
//! it for the Conversions API. A [`Unit`] is either; the delivery loop and the ledger treat
//! both alike (a key, a name, rows).

use crate::api::form::{Conversion, Mapping};
use crate::split::LineMap;
use std::path::PathBuf;
use std::sync::Arc;

/// One part file ready to send.
#[derive(Debug, Clone)]
pub struct PartFile {
    /// The input it came from.
    pub input: String,
    /// Its file in the work folder.
    pub local: PathBuf,
    /// Its name at the destination.
    pub name: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Size.
    pub bytes: u64,
    /// Data rows.
    pub rows: u64,
    /// Where its lines come from in the input.
    pub lines: LineMap,
    /// The one event type of its rows, when it was cut by event type (email per event type).
    pub event_type: Option<String>,
    /// Its encrypted file, sent instead of it when the channel encrypts (`encrypt_to`).
    pub sealed: Option<Sealed>,
}

/// A part's encrypted file (see `encrypt.rs`): what goes out, under the part's name + `.pgp`.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// Its file in the work folder.
    pub local: PathBuf,
    /// SHA-256 of the encrypted bytes.
    pub sha256: String,
    /// Size of the encrypted file.
    pub bytes: u64,
}

/// The file that goes out for a part: its own, or its encrypted one.
pub struct Wire<'a> {
    /// The local file.
    pub local: &'a std::path::Path,
    /// SHA-256 of its bytes.
    pub sha256: &'a str,
    /// Size.
    pub bytes: u64,
}

impl PartFile {
    /// The file that goes out.
    pub fn wire(&self) -> Wire<'_> {
        match &self.sealed {
            Some(s) => Wire {
                local: &s.local,
                sha256: &s.sha256,
                bytes: s.bytes,
            },
            None => Wire {
                local: &self.local,
                sha256: &self.sha256,
                bytes: self.bytes,
            },
        }
    }

    /// Its name at the destination for the name `name` (the part's or a variant of it):
    /// with `.pgp` when it goes encrypted.
    pub fn remote(&self, name: &str) -> String {
        match self.sealed {
            Some(_) => format!("{name}{}", super::encrypt::EXTENSION),
            None => name.to_string(),
        }
    }
}

/// One order for the Conversions API.
pub struct Order {
    /// The conversion to POST.
    pub conversion: Conversion,
    /// The input it came from.
    pub input: String,
    /// How its fields map back to the input's columns.
    pub mapping: Arc<Mapping>,
}

impl Order {
    /// Its first row's input line (0 when unknown).
    pub fn line(&self) -> u64 {
        self.conversion.lines.first().copied().unwrap_or(0)
    }
}

/// What is delivered and recorded as one: a part for files, an order for the API.
pub enum Unit {
    /// A part file.
    Part(PartFile),
    /// An order.
    Order(Order),
}

impl Unit {
    /// What the ledger knows it by: the part's SHA-256, or the order's event type and OrderId.
    pub fn key(&self) -> &str {
        match self {
            Unit::Part(p) => &p.sha256,
            Unit::Order(o) => &o.conversion.key,
        }
    }

    /// Its name for people: the part's file name, or the OrderId.
    pub fn name(&self) -> &str {
        match self {
            Unit::Part(p) => &p.name,
            Unit::Order(o) => &o.conversion.order_id,
        }
    }

    /// The input it came from.
    pub fn input(&self) -> &str {
        match self {
            Unit::Part(p) => &p.input,
            Unit::Order(o) => &o.input,
        }
    }

    /// Data rows.
    pub fn rows(&self) -> u64 {
        match self {
            Unit::Part(p) => p.rows,
            Unit::Order(o) => o.conversion.lines.len() as u64,
        }
    }

    /// What `--dry-run` shows would be sent: an order's form (a part is shown by its name).
    pub fn preview(&self) -> Option<String> {
        match self {
            Unit::Part(_) => None,
            Unit::Order(o) => Some(crate::api::form::encode(&o.conversion.form)),
        }
    }

    /// Bytes sent (0 for an order: its size is the request's).
    pub fn bytes(&self) -> u64 {
        match self {
            Unit::Part(p) => p.bytes,
            Unit::Order(_) => 0,
        }
    }
}
