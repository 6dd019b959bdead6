//! Header rules: matches each header cell to a template field, reports unknown, miscased,
//! duplicate, forbidden and missing columns (each once, at the header line), and compiles the
//! [`HeaderPlan`] the row checks run from.

use super::similar;
use crate::diagnostic::{Code, Diagnostic};
use crate::input::Record;
use crate::template::{self, FieldId, Match, Role, Template};

/// Unknown columns beyond this many get no "did you mean" search (a 100,000-column header
/// must not cost minutes).
const SUGGEST_LIMIT: usize = 1000;

/// A per-row requirement, resolved to column indexes.
#[derive(Debug)]
pub struct RowRequirement {
    /// The alternatives whose columns are all present.
    pub alternatives: Vec<Vec<usize>>,
    /// `missing-value` or `no-attribution-key`.
    pub code: Code,
    /// The requirement's name from the template (`label`), if it has one.
    pub name: Option<String>,
    /// Applies only to rows where one of these columns has a value (an item's columns);
    /// empty: to every row.
    pub when_filled: Vec<usize>,
    /// Does not apply to rows where this column holds this value.
    pub unless: Option<(usize, String)>,
}

impl RowRequirement {
    /// One alternative of one column.
    pub fn is_single(&self) -> bool {
        matches!(self.alternatives.as_slice(), [alt] if alt.len() == 1)
    }

    /// Applies to every row, whatever its values.
    pub fn is_unconditional(&self) -> bool {
        self.when_filled.is_empty() && self.unless.is_none()
    }
}

/// A required column that is absent but needed only by some rows (`unless`): missing only
/// when a row needs it.
#[derive(Debug)]
pub struct Deferred {
    /// How the requirement is named in messages.
    pub label: String,
    /// The column and the value that waive it on a row.
    pub unless: (usize, String),
}

/// What the row checks need to know about the header, by column index.
#[derive(Debug, Default)]
pub struct HeaderPlan {
    /// Header cells as spelled.
    pub names: Vec<String>,
    /// Columns to check, each with its field (first occurrence of each field only).
    pub checks: Vec<(usize, FieldId)>,
    /// Requirements that apply to every row.
    pub requirements: Vec<RowRequirement>,
    /// The column of each requirement that is one column and nothing else (a quick check
    /// before the general one).
    pub required_columns: Vec<usize>,
    /// Columns naming the event type, in order of preference.
    pub event_type: Vec<usize>,
    /// The OrderId column.
    pub order_id: Option<usize>,
    /// MediaId/MediaPartnerId columns.
    pub media: Vec<usize>,
    /// Columns that must agree across an order's rows.
    pub order_fields: Vec<usize>,
    /// Column pairs that must not both be filled.
    pub conflicts: Vec<(usize, usize)>,
    /// Missing columns that are an error only if a row needs them.
    pub deferred: Vec<Deferred>,
}

impl HeaderPlan {
    /// Number of header cells.
    pub fn width(&self) -> usize {
        self.names.len()
    }

    /// Writes the order key of `rec` into `out`: the first filled event-type column's name and
    /// value, then the OrderId (unit separator between). False when the row has no OrderId.
    pub fn order_key(&self, rec: &Record, out: &mut Vec<u8>) -> bool {
        self.order_key_as(rec, out, |v| v)
    }

    /// [`HeaderPlan::order_key`] of the values as `fix` writes them (spaces and tabs around
    /// them removed).
    pub fn trimmed_order_key(&self, rec: &Record, out: &mut Vec<u8>) -> bool {
        fn trim(v: &[u8]) -> &[u8] {
            let blank = |b: &u8| *b == b' ' || *b == b'\t';
            let start = v.iter().position(|b| !blank(b)).unwrap_or(v.len());
            let end = v.iter().rposition(|b| !blank(b)).map_or(start, |i| i + 1);
            &v[start..end]
        }
        self.order_key_as(rec, out, trim)
    }

    fn order_key_as(
        &self,
        rec: &Record,
        out: &mut Vec<u8>,
        value: impl Fn(&[u8]) -> &[u8],
    ) -> bool {
        out.clear();
        let Some(oid) = self.order_id.filter(|&c| c < rec.len() && rec.filled(c)) else {
            return false;
        };
        if let Some(c) = self
            .event_type
            .iter()
            .copied()
            .find(|&c| c < rec.len() && rec.filled(c))
        {
            out.extend_from_slice(self.names[c].as_bytes());
            out.push(b'=');
            out.extend_from_slice(value(rec.bytes(c)));
        }
        out.push(0x1f);
        out.extend_from_slice(value(rec.bytes(oid)));
        true
    }
}

/// Checks the header against `t` and compiles the plan.
pub fn plan(
    t: &Template,
    cells: Vec<String>,
    line: u64,
    emit: &mut dyn FnMut(Diagnostic),
) -> HeaderPlan {
    let mut col_of: Vec<Option<usize>> = vec![None; t.fields.len()];
    let mut unknown = 0;
    let mut others: Option<Vec<Template>> = None;
    for (i, cell) in cells.iter().enumerate() {
        let at = |d: Diagnostic| {
            let d = d.at_line(line);
            if cell.is_empty() { d } else { d.column(cell) }
        };
        let id = match t.find(cell) {
            Some(Match::Exact(id)) => id,
            Some(Match::OtherCase(id)) => {
                let want = t.spelling_like(id, cell);
                emit(at(Diagnostic::new(
                    Code::HeaderCase,
                    format!(
                        "`{}` is the column `{want}` in other letter case",
                        shown(cell)
                    ),
                    format!("spell it `{want}`, as impact.com documents it"),
                )));
                id
            }
            None => {
                unknown += 1;
                let others = others.get_or_insert_with(|| other_templates(t));
                emit(at(unknown_column(
                    t,
                    others,
                    cell,
                    unknown <= SUGGEST_LIMIT,
                )));
                continue;
            }
        };
        if let Some(first) = col_of[id] {
            emit(at(duplicate(&cells, first, i)));
            continue;
        }
        col_of[id] = Some(i);
        if let Some(why) = &t.fields[id].forbidden {
            emit(at(Diagnostic::new(
                Code::ConflictingColumns,
                why.clone(),
                format!(
                    "remove the `{}` column from {} files",
                    t.fields[id].name, t.name
                ),
            )));
        }
    }
    let deferred = missing_columns(t, &col_of, line, emit);
    let mut plan = compile(t, cells, &col_of);
    plan.deferred = deferred;
    plan
}

fn shown(cell: &str) -> String {
    crate::escape::for_display(cell)
}

fn unknown_column(t: &Template, others: &[Template], cell: &str, suggest: bool) -> Diagnostic {
    let cell_shown = shown(cell);
    if cell.trim().is_empty() {
        return Diagnostic::new(
            Code::UnknownColumn,
            "a column without a name; its values will be ignored",
            "remove the empty column (often a comma at the end of every line) or name it",
        );
    }
    if cell.trim() != cell
        && let Some(Match::Exact(id) | Match::OtherCase(id)) = t.find(cell.trim())
    {
        let want = t.spelling_like(id, cell.trim());
        return Diagnostic::new(
            Code::UnknownColumn,
            format!(
                "`{cell_shown}` has spaces around the column name `{want}`, so it is not recognised"
            ),
            format!("remove the spaces: `{want}`"),
        );
    }
    if suggest && let Some(near) = similar::closest(cell, t.spellings()) {
        return Diagnostic::new(
            Code::UnknownColumn,
            format!("unknown column `{cell_shown}`: did you mean `{near}`?"),
            format!("rename the column to `{near}`"),
        );
    }
    if let Some(other) = others.iter().find(|o| o.find(cell).is_some()) {
        return Diagnostic::new(
            Code::UnknownColumn,
            format!(
                "`{cell_shown}` is a column of {} files, but this file is checked as {}; it will be ignored",
                other.name, t.name
            ),
            format!(
                "use `--template {}` if that is what this file is, or remove the column",
                other.name
            ),
        );
    }
    if !t.is_builtin() {
        return Diagnostic::new(
            Code::UnknownColumn,
            format!(
                "`{cell_shown}` is not a column of the template {}; it will be ignored",
                t.reference
            ),
            format!("remove it, or add it to the columns of {}", t.reference),
        );
    }
    Diagnostic::new(
        Code::UnknownColumn,
        format!(
            "`{cell_shown}` is not a column impact.com documents for {} files; it will be ignored",
            t.name
        ),
        format!(
            "remove it, or if your account defines it, describe it in your own template \
             (`--template my.toml` with `extends = \"{}\"`)",
            t.name
        ),
    )
}

fn other_templates(t: &Template) -> Vec<Template> {
    template::BUILTIN_NAMES
        .iter()
        .filter(|&&n| n != t.name)
        .filter_map(|n| template::load(n).ok())
        .collect()
}

fn duplicate(cells: &[String], first: usize, i: usize) -> Diagnostic {
    let (a, b) = (shown(&cells[first]), shown(&cells[i]));
    let message = if cells[first] == cells[i] {
        format!(
            "column `{b}` appears twice (columns {} and {})",
            first + 1,
            i + 1
        )
    } else {
        format!(
            "column {} `{b}` names the same field as column {} `{a}`",
            i + 1,
            first + 1
        )
    };
    Diagnostic::new(
        Code::DuplicateColumn,
        message,
        "keep one of the two columns: impact.com cannot tell which value to use",
    )
}

/// Reports the missing required columns, and returns those that only some rows may need.
fn missing_columns(
    t: &Template,
    col_of: &[Option<usize>],
    line: u64,
    emit: &mut dyn FnMut(Diagnostic),
) -> Vec<Deferred> {
    let present = |alt: &Vec<FieldId>| alt.iter().all(|&id| col_of[id].is_some());
    let last_item = last_item(t, col_of);
    let mut missing = vec![];
    let mut deferred = vec![];
    for r in &t.requirements {
        let applies =
            r.when.is_none_or(|w| col_of[w].is_some()) && r.item.is_none_or(|i| i <= last_item);
        if !applies || r.alternatives.iter().any(present) {
            continue;
        }
        match r
            .unless
            .as_ref()
            .and_then(|(id, v)| Some((col_of[*id]?, v)))
        {
            Some((col, value)) => deferred.push(Deferred {
                label: r.label.clone(),
                unless: (col, value.clone()),
            }),
            None => missing.push(r.label.as_str()),
        }
    }
    if !missing.is_empty() {
        emit(missing_column(t, &missing, line));
    }
    deferred
}

/// The highest item with a column in the header (0: none).
fn last_item(t: &Template, col_of: &[Option<usize>]) -> u32 {
    let items = col_of.iter().enumerate().filter(|(_, c)| c.is_some());
    items
        .filter_map(|(id, _)| t.fields[id].item)
        .max()
        .unwrap_or(0)
}

/// The one error for the required columns a header lacks, at its line.
pub fn missing_column(t: &Template, missing: &[&str], line: u64) -> Diagnostic {
    let noun = if missing.len() == 1 {
        "column"
    } else {
        "columns"
    };
    Diagnostic::new(
        Code::MissingColumn,
        format!(
            "missing required {noun} for {} files: {}",
            t.name,
            missing.join("; ")
        ),
        format!(
            "add the {noun} to the header; `convsubmit templates show {}` prints a blank template",
            t.reference
        ),
    )
    .at_line(line)
}

fn compile(t: &Template, names: Vec<String>, col_of: &[Option<usize>]) -> HeaderPlan {
    let mut plan = HeaderPlan {
        names,
        ..HeaderPlan::default()
    };
    let mut checks: Vec<(usize, FieldId)> = col_of
        .iter()
        .enumerate()
        .filter_map(|(id, c)| c.map(|c| (c, id)))
        .collect();
    checks.sort_unstable();
    for &(col, id) in &checks {
        let f = &t.fields[id];
        match f.role {
            Some(Role::EventType) => plan.event_type.push(col),
            Some(Role::OrderId) => plan.order_id = Some(col),
            Some(Role::Media) => plan.media.push(col),
            None => {}
        }
        if f.order_field {
            plan.order_fields.push(col);
        }
    }
    plan.checks = checks;
    for r in &t.requirements {
        if let Some(req) = row_requirement(t, r, col_of) {
            if let ([single], true) = (req.alternatives.as_slice(), req.is_unconditional())
                && let [col] = single.as_slice()
            {
                plan.required_columns.push(*col);
            }
            plan.requirements.push(req);
        }
    }
    plan.conflicts = t
        .conflicts
        .iter()
        .filter_map(|&(a, b)| Some((col_of[a]?, col_of[b]?)))
        .collect();
    plan
}

/// A requirement resolved to this header's columns, if it applies to rows at all.
fn row_requirement(
    t: &Template,
    r: &template::Requirement,
    col_of: &[Option<usize>],
) -> Option<RowRequirement> {
    let code = r.rows?;
    if r.when.is_some_and(|w| col_of[w].is_none()) {
        return None;
    }
    let alternatives: Vec<Vec<usize>> = r
        .alternatives
        .iter()
        .filter_map(|alt| alt.iter().map(|&id| col_of[id]).collect::<Option<Vec<_>>>())
        .collect();
    // An item's requirement applies to the rows that fill one of the item's columns.
    let when_filled: Vec<usize> = match r.item {
        None => vec![],
        Some(i) => (t.fields.iter().enumerate())
            .filter(|(_, f)| f.item == Some(i))
            .filter_map(|(id, _)| col_of[id])
            .collect(),
    };
    if alternatives.is_empty() || (r.item.is_some() && when_filled.is_empty()) {
        return None;
    }
    let unless = (r.unless.as_ref()).and_then(|(id, v)| Some((col_of[*id]?, v.clone())));
    Some(RowRequirement {
        alternatives,
        code,
        name: r.name.clone(),
        when_filled,
        unless,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(template: &str, header: &str) -> (HeaderPlan, Vec<Diagnostic>) {
        let t = template::load(template).unwrap();
        let mut out = vec![];
        let cells = header.split(',').map(String::from).collect();
        let p = plan(&t, cells, 1, &mut |d| out.push(d));
        (p, out)
    }

    fn codes(d: &[Diagnostic]) -> Vec<&str> {
        d.iter().map(|d| d.code.as_str()).collect()
    }

    #[test]
    fn a_clean_header_compiles_roles() {
        let (p, d) = run(
            "item-level",
            "CampaignId,ActionTrackerId,EventDate,Oid,ClickId,Amount,Category,ItemSku,Quantity,MediaPartnerId",
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(p.order_id, Some(3));
        assert_eq!(
            (p.event_type.as_slice(), p.media.as_slice()),
            (&[1][..], &[9][..])
        );
        assert_eq!(p.requirements.len(), 9);
    }

    #[test]
    fn every_missing_column_in_one_error() {
        let (_, d) = run(
            "item-level",
            "CampaignId,EventDate,OrderId,ClickId,Amount,Category",
        );
        assert_eq!(codes(&d), ["missing-column"]);
        let m = &d[0].message;
        assert!(
            m.contains("`ActionTrackerId` or `EventTypeCode`")
                && m.contains("`Sku`")
                && m.contains("`Quantity`"),
            "{m}"
        );
    }

    #[test]
    fn typos_case_and_duplicates() {
        let (_, d) = run(
            "order-level",
            "CampaignId,ActionTrakerId,eventdate,OrderId,Oid,ClickId,Sku,Colour",
        );
        assert_eq!(
            codes(&d),
            [
                "unknown-column",
                "header-case",
                "duplicate-column",
                "unknown-column",
                "unknown-column",
                "missing-column"
            ]
        );
        assert!(d[0].message.contains("did you mean `ActionTrackerId`?"));
        assert!(d[1].message.contains("`EventDate`"));
        assert!(
            d[2].message
                .contains("column 5 `Oid` names the same field as column 4 `OrderId`")
        );
        assert!(d[3].message.contains("item-level"), "{}", d[3].message);
        assert!(d[4].help.contains("extends"));
    }

    #[test]
    fn unnamed_and_padded_columns() {
        let (_, d) = run(
            "order-level",
            "CampaignId,ActionTrackerId,EventDate, OrderId,ClickId,",
        );
        assert_eq!(
            codes(&d),
            ["unknown-column", "unknown-column", "missing-column"]
        );
        assert!(
            d[0].message
                .contains("spaces around the column name `OrderId`"),
            "{}",
            d[0].message
        );
        assert!(d[1].message.contains("without a name"), "{}", d[1].message);
    }

    #[test]
    fn forbidden_columns_conflict() {
        let (_, d) = run(
            "item-level",
            "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,Amount,Category,Sku,Quantity,OrderSubTotalPostDiscount",
        );
        assert_eq!(codes(&d), ["conflicting-columns"]);
        assert_eq!(d[0].column.as_deref(), Some("OrderSubTotalPostDiscount"));
    }

    #[test]
    fn modification_alternatives() {
        let (p, d) = run("modification", "ActionTrackerID,Oid,Amount,Reason");
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(p.requirements[0].alternatives, [vec![1, 0]]);
        let (_, d) = run("modification", "Oid,Amount,Reason,Sku");
        assert_eq!(codes(&d), ["missing-column"]);
        assert!(
            d[0].message
                .contains("`ActionId` or `OrderId` with `ActionTrackerId`")
                && d[0].message.contains("`Quantity`"),
            "{}",
            d[0].message
        );
    }

    #[test]
    fn a_reset_file_defers_amount_to_its_rows() {
        let (p, d) = run("modification", "Oid,ActionTrackerId,Reason");
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(p.deferred.len(), 1);
        assert_eq!(p.deferred[0].unless, (2, "RESET".to_string()));
        // Without a Reason column, nothing waives Amount.
        let (p, d) = run("modification", "Oid,ActionTrackerId");
        assert_eq!(codes(&d), ["missing-column"]);
        assert!(p.deferred.is_empty());
    }

    #[test]
    fn item_columns_need_each_used_item_and_no_gaps() {
        let (p, d) = run(
            "modification",
            "Oid,ActionTrackerId,Reason,Sku1,Quantity1,Amount1,Category1",
        );
        assert!(d.is_empty(), "{d:?}");
        let items: Vec<&Vec<usize>> = (p.requirements.iter())
            .filter(|r| !r.when_filled.is_empty())
            .map(|r| &r.when_filled)
            .collect();
        assert_eq!(items, [&vec![3, 4, 5, 6], &vec![3, 4, 5, 6]]);
        let (_, d) = run(
            "modification",
            "Oid,ActionTrackerId,Reason,Sku1,Quantity1,Sku3,Amount3",
        );
        assert_eq!(codes(&d), ["missing-column"]);
        let m = &d[0].message;
        assert!(m.ends_with("`Sku2`; `Quantity2`; `Quantity3`"), "{m}");
    }
}
