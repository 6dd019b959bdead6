//! Templates as data: which columns a file may have, their types and limits, which are
//! required, and which rules about orders apply.
//!
//! The four built-in templates live in `templates/*.toml` and are compiled into the binary;
//! a user's own schema file is loaded the same way (see [`load`]).

mod builtin;
mod detect;
mod schema;

pub use builtin::{BUILTIN_NAMES, blank_csv, builtin_source};
pub use detect::detect;
pub use schema::load;

/// `given`, or the built-in template `header` suggests (`--template auto`).
pub fn given_or_detected<'a, S: AsRef<str>>(
    given: Option<&'a Template>,
    header: &[S],
) -> anyhow::Result<std::borrow::Cow<'a, Template>> {
    Ok(match given {
        Some(t) => std::borrow::Cow::Borrowed(t),
        None => std::borrow::Cow::Owned(load(detect(header))?),
    })
}

use crate::diagnostic::Code;
use serde::Deserialize;
use std::collections::HashMap;

/// Index of a field within its template.
pub type FieldId = usize;

/// Which family of order rules applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// One row per line item: an order's rows must be consecutive.
    Item,
    /// One row per order: an (event type, OrderId) may appear once.
    Order,
    /// Changes to existing actions: no order rules.
    Modification,
}

/// How a value is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValueType {
    /// Free text (length-checked).
    #[default]
    Text,
    /// A whole number of at most [`Field::digits`] digits.
    Integer,
    /// A plain decimal.
    Decimal,
    /// An ISO 4217 code.
    Currency,
    /// `true` or `false`.
    Boolean,
    /// `EventDate`: ISO 8601 or `NOW`, with the age window.
    EventDate,
    /// A date or datetime.
    Date,
    /// A SHA-1 or SHA-256 hex digest of an email.
    EmailHash,
    /// A code from the field's [`Field::known`] list (another value is a warning).
    ReasonCode,
}

/// The part a field plays in the cross-field rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Identifies the event type (part of the order key).
    EventType,
    /// The order id (part of the order key).
    OrderId,
    /// Forces attribution to a partner (allows the 398-day window).
    Media,
}

/// One documented column.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Canonical spelling.
    pub name: String,
    /// Other accepted spellings (accepted silently).
    pub aliases: Vec<String>,
    /// Value type.
    pub ty: ValueType,
    /// Most digits of an integer.
    pub digits: u8,
    /// A decimal's most digits in all (DECIMAL(precision, scale)).
    pub precision: u8,
    /// A decimal's most digits after the point.
    pub scale: u8,
    /// The item a `Name{i}` column belongs to (item-level modifications), from 1.
    pub item: Option<u32>,
    /// The documented codes of a [`ValueType::ReasonCode`] field.
    pub known: Vec<String>,
    /// Longest value in characters.
    pub max_length: Option<usize>,
    /// Cross-field role.
    pub role: Option<Role>,
    /// One of the attribution keys (at least one must have a value).
    pub attribution: bool,
    /// Must be the same on every row of one order (item-level files).
    pub order_field: bool,
    /// Must not hold an email address.
    pub no_email: bool,
    /// Present at all is an error, for this reason.
    pub forbidden: Option<String>,
}

/// "At least one of these alternatives must be present (and, per row, filled)".
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    /// Each alternative is a set of fields that must all be present.
    pub alternatives: Vec<Vec<FieldId>>,
    /// The template's name for the requirement (`label`), if any.
    pub name: Option<String>,
    /// How the requirement is named in messages: the name and its columns.
    pub label: String,
    /// The code for a row that fills no alternative (`None`: the column only).
    pub rows: Option<Code>,
    /// Applies only when this field is present.
    pub when: Option<FieldId>,
    /// One of an item's requirements (`per_item`): applies when a column of item `i`, or of
    /// a later item, is in the header, and on rows where a column of item `i` has a value.
    pub item: Option<u32>,
    /// Does not apply to rows where this field holds this value (`unless = "Reason=RESET"`);
    /// a missing column is then an error only when some row needs it.
    pub unless: Option<(FieldId, String)>,
}

/// Another header a template accepts, shown by `templates show` after the blank CSV.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Form {
    /// What the form is for.
    pub label: String,
    /// Its header line.
    pub header: String,
}

/// A resolved, ready-to-use template.
#[derive(Debug, Clone)]
pub struct Template {
    /// Name shown in reports.
    pub name: String,
    /// One-line description.
    pub description: String,
    /// Which order rules apply.
    pub kind: Kind,
    /// Every accepted column.
    pub fields: Vec<Field>,
    /// Required columns and values.
    pub requirements: Vec<Requirement>,
    /// Pairs of fields that must not both be filled on one row.
    pub conflicts: Vec<(FieldId, FieldId)>,
    /// The blank CSV a user can copy.
    pub blank: String,
    /// Other headers the template accepts (e.g. item-level modifications).
    pub forms: Vec<Form>,
    /// What `--template` takes to select this template: a built-in name or a file's path.
    pub reference: String,
    /// Lower-cased name or alias → field.
    lookup: HashMap<String, FieldId>,
}

/// How a header cell matched a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// The canonical name or an alias, exactly.
    Exact(FieldId),
    /// A known name in other letter case.
    OtherCase(FieldId),
}

impl Match {
    /// The field matched, however it was spelled.
    pub fn id(self) -> FieldId {
        match self {
            Match::Exact(id) | Match::OtherCase(id) => id,
        }
    }
}

impl Template {
    /// True for the templates compiled into the binary.
    pub fn is_builtin(&self) -> bool {
        builtin::builtin_source(&self.reference).is_some()
    }

    /// Finds the field a header cell names.
    pub fn find(&self, cell: &str) -> Option<Match> {
        let id = *self.lookup.get(&cell.to_ascii_lowercase())?;
        let f = &self.fields[id];
        if f.name == cell || f.aliases.iter().any(|a| a == cell) {
            Some(Match::Exact(id))
        } else {
            Some(Match::OtherCase(id))
        }
    }

    /// Every accepted spelling, for "did you mean" suggestions.
    pub fn spellings(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().flat_map(|f| {
            std::iter::once(f.name.as_str()).chain(f.aliases.iter().map(String::as_str))
        })
    }

    /// The spelling to suggest for `id` when the header used `used`: the documented name
    /// when `used` is it in other letter case, else the alias it resembles (an alias stays
    /// an alias).
    pub fn spelling_like(&self, id: FieldId, used: &str) -> &str {
        let f = &self.fields[id];
        if f.name.eq_ignore_ascii_case(used) {
            return &f.name;
        }
        f.aliases
            .iter()
            .find(|a| a.eq_ignore_ascii_case(used))
            .map_or(f.name.as_str(), String::as_str)
    }

    fn index(mut self) -> Result<Self, String> {
        self.lookup.clear();
        for (id, f) in self.fields.iter().enumerate() {
            for n in std::iter::once(&f.name).chain(&f.aliases) {
                if let Some(prev) = self.lookup.insert(n.to_ascii_lowercase(), id)
                    && prev != id
                {
                    return Err(format!(
                        "`{n}` names both `{}` and `{}`",
                        self.fields[prev].name, f.name
                    ));
                }
            }
        }
        Ok(self)
    }
}
