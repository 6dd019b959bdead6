//! Findings as data: the [`Diagnostic`] every rule produces and every report renders.
//!
//! A diagnostic is never an `Err`: `Err` means the tool itself could not do its job (a file
//! could not be opened, a template is broken). Codes are stable public names, documented one
//! section each in `docs/rules.md`.

use serde::Serialize;
use std::fmt;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; never fails a run.
    Info,
    /// Likely a problem; fails a run only with `--strict`.
    Warning,
    /// impact.com will reject or misread the row or file.
    Error,
}

impl Severity {
    /// The lower-case name used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! codes {
    ($($variant:ident = $name:literal, $severity:ident, $title:literal;)*) => {
        /// A stable diagnostic code. The string form is public API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $(#[doc = $title] $variant,)* }

        impl Code {
            /// Every code, in documentation order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The public name, e.g. `event-too-old`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// The severity this code always has.
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }

            /// A one-line description of what the code checks.
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title,)* }
            }

            /// Looks a code up by its public name.
            pub fn from_name(name: &str) -> Option<Code> {
                match name { $($name => Some(Code::$variant),)* _ => None }
            }
        }
    };
}

codes! {
    InvalidEncoding = "invalid-encoding", Error, "Bytes that are not UTF-8, or a UTF-16/UTF-32 file.";
    Bom = "bom", Info, "A UTF-8 byte-order mark (accepted and ignored).";
    MalformedCsv = "malformed-csv", Error, "CSV that cannot be parsed unambiguously (unterminated or stray quote).";
    WrongFieldCount = "wrong-field-count", Error, "A row with more or fewer fields than the header.";
    NoRows = "no-rows", Error, "The file has no data rows.";
    BlankRow = "blank-row", Warning, "A row whose fields are all empty (skipped).";
    MissingColumn = "missing-column", Error, "A required column is absent.";
    DuplicateColumn = "duplicate-column", Error, "The same column, or two names of one field, appear twice.";
    UnknownColumn = "unknown-column", Warning, "A column impact.com does not document for this template.";
    HeaderCase = "header-case", Warning, "A known column spelled in other letter case.";
    MissingValue = "missing-value", Error, "A required field is empty on a row.";
    NoAttributionKey = "no-attribution-key", Error, "A row where every attribution key is empty.";
    InvalidDate = "invalid-date", Error, "A date that is not ISO 8601 (or NOW for EventDate).";
    AmbiguousTimezone = "ambiguous-timezone", Warning, "A datetime without offset, or a date without time.";
    EventTooOld = "event-too-old", Error, "An event more than 88 days old without a MediaId.";
    EventExpired = "event-expired", Error, "An event more than 398 days old.";
    EventInFuture = "event-in-future", Warning, "An event more than one day in the future.";
    InvalidNumber = "invalid-number", Error, "A money or decimal field that is not a plain decimal.";
    DecimalPrecision = "decimal-precision", Warning, "A decimal with more decimal places than its type keeps.";
    NumberOutOfRange = "number-out-of-range", Error, "A number with more digits than its type holds.";
    UnknownReason = "unknown-reason", Warning, "A modification Reason that is not a documented code.";
    InvalidInteger = "invalid-integer", Error, "An id or count that is not a whole number.";
    InvalidCurrency = "invalid-currency", Error, "A currency that is not an ISO 4217 code.";
    InvalidBoolean = "invalid-boolean", Error, "A boolean field that is not true or false.";
    ValueTooLong = "value-too-long", Error, "A value over its documented length.";
    PlaintextEmail = "plaintext-email", Error, "A customer email that is not hashed, or a CustomerId that is an email.";
    ConflictingColumns = "conflicting-columns", Error, "Fields that must not be sent together.";
    OrderNotConsecutive = "order-not-consecutive", Error, "An order's item rows reappear after another order.";
    DuplicateOrder = "duplicate-order", Error, "The same event type and OrderId appear again.";
    InconsistentOrder = "inconsistent-order", Warning, "Rows of one order disagree on an order-level field.";
    OrderTooLarge = "order-too-large", Error, "An order has more rows than one file may hold.";
    FileExtension = "file-extension", Warning, "The input is not named .csv.";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One finding about one file, row or value.
///
/// Field order is the documented JSON order (`docs/output-formats.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// `error`, `warning` or `info`; always the code's severity.
    pub severity: Severity,
    /// The stable code.
    pub code: Code,
    /// Physical 1-based line (header = 1); where a multi-line record starts.
    pub line: Option<u64>,
    /// 1-based data row (the first record after the header is row 1).
    pub row: Option<u64>,
    /// The column as spelled in the file's header.
    pub column: Option<String>,
    /// The offending value, escaped and shortened for display.
    pub value: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl Diagnostic {
    /// A diagnostic with the code's own severity and no location yet.
    pub fn new(code: Code, message: impl Into<String>, help: impl Into<String>) -> Self {
        Diagnostic {
            severity: code.severity(),
            code,
            line: None,
            row: None,
            column: None,
            value: None,
            message: message.into(),
            help: help.into(),
        }
    }

    /// Sets the physical line.
    pub fn at_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    /// Sets the physical line and data row.
    pub fn at_row(mut self, line: u64, row: u64) -> Self {
        self.line = Some(line);
        self.row = Some(row);
        self
    }

    /// Names the column.
    pub fn column(mut self, name: &str) -> Self {
        self.column = Some(crate::escape::for_display(name));
        self
    }

    /// Records the offending value (escaped and shortened).
    pub fn value(mut self, value: &str) -> Self {
        self.value = Some(crate::escape::for_display(value));
        self
    }
}

/// What validating one file found, besides its diagnostics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileReport {
    /// The path as given, or `<stdin>`.
    pub path: String,
    /// The template used (`None` when the file could not be read as CSV text at all).
    pub template: Option<String>,
    /// Data records, not counting the header or blank rows (rows with errors count).
    pub rows: u64,
    /// Orders, by the one counting rule ([`crate::validate::order_of`]): distinct (event type, OrderId);
    /// in a modification file, every row.
    pub orders: u64,
    /// Diagnostics of severity error.
    pub errors: u64,
    /// Diagnostics of severity warning.
    pub warnings: u64,
    /// Diagnostics of severity info.
    pub infos: u64,
    /// Why the input could not be opened or read to its end, if so: the report lists it
    /// with this error rather than leaving it out.
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for &code in Code::ALL {
            assert_eq!(Code::from_name(code.as_str()), Some(code));
            assert!(seen.insert(code.as_str()), "duplicate name {code}");
        }
        assert_eq!(Code::ALL.len(), 32);
    }

    #[test]
    fn builder_uses_the_code_severity() {
        let d = Diagnostic::new(Code::BlankRow, "m", "h").at_row(3, 2);
        assert_eq!(d.severity, Severity::Warning);
        assert_eq!((d.line, d.row), (Some(3), Some(2)));
    }
}
