//! Order rules across rows: item rows of one order must be consecutive (and agree on
//! order-level fields, and fit in one file); an order-level (event type, OrderId) may appear
//! once. Memory grows with the number of distinct orders, never with the file's size.
//!
//! Also the one rule by which every report counts orders ([`order_of`], [`OrderTally`]):
//! validate's `orders`, and split's parts, rejects and manifest.

use super::header::HeaderPlan;
use crate::diagnostic::{Code, Diagnostic};
use crate::escape::for_display as shown;
use crate::fast_hash::KeySet;
use crate::input::Record;
use crate::template::Kind;

/// The order a row counts towards (see [`order_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderOf<'a> {
    /// None: the row has no order key (no OrderId, or the row could not be read).
    Nothing,
    /// An order of its own: a row of a modification file.
    Own,
    /// The order with this key (event type, OrderId): every row with the key is one order.
    Key(&'a [u8]),
}

/// The counting rule. In item-level, order-level and chained files an order is a distinct
/// (event type, OrderId), however many rows it has; a row without an OrderId is no order. In a
/// modification file every row is one order: a row changes one action (`ActionId`, or `Oid`
/// with `ActionTrackerId`), and an item-level modification puts an order's items in its one
/// row (spec §3), so each row is a unit of its own, whatever its identifier repeats.
pub fn order_of(kind: Kind, key: Option<&[u8]>) -> OrderOf<'_> {
    match (kind, key) {
        (Kind::Modification, _) => OrderOf::Own,
        (_, Some(key)) => OrderOf::Key(key),
        (_, None) => OrderOf::Nothing,
    }
}

/// Counts orders by [`order_of`]'s rule, remembering each key with the line of its first row.
#[derive(Default)]
pub struct OrderTally {
    seen: KeySet,
    count: u64,
}

impl OrderTally {
    /// Counts a row of `order` at `line`. Returns the line of the order's first row when it
    /// was counted before.
    pub fn note(&mut self, order: OrderOf, line: u64) -> Option<u64> {
        let first = match order {
            OrderOf::Nothing => return None,
            OrderOf::Own => None,
            OrderOf::Key(key) => self.seen.get_or_insert(key, line),
        };
        if first.is_none() {
            self.count += 1;
        }
        first
    }

    /// Orders counted.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// The run of consecutive rows of one order (item-level files).
#[derive(Default)]
struct Block {
    key: Vec<u8>,
    first_line: u64,
    rows: u64,
    /// Set when this order already had a block earlier in the file: its first line.
    repeat_of: Option<u64>,
    /// The first row's order-level values, as one buffer with end offsets.
    values: Vec<u8>,
    ends: Vec<usize>,
    /// Order-level columns already reported as inconsistent in this block.
    reported: Vec<bool>,
    too_large_reported: bool,
}

/// Tracks orders across the rows of one file.
pub struct Orders {
    kind: Kind,
    max_rows: u64,
    /// Every order seen, keys with the line of their first row.
    tally: OrderTally,
    current: Option<Block>,
    key: Vec<u8>,
    /// `key` belongs to the row fed last.
    keyed: bool,
}

impl Orders {
    /// A tracker for a file of `kind`, where one order may have at most `max_rows` rows.
    pub fn new(kind: Kind, max_rows: u64) -> Self {
        Orders {
            kind,
            max_rows,
            tally: OrderTally::default(),
            current: None,
            key: Vec::new(),
            keyed: false,
        }
    }

    /// The order key of the row fed last, for item-level files (whose orders span rows);
    /// `None` for other kinds and for rows without an OrderId.
    pub fn last_key(&self) -> Option<&[u8]> {
        (self.keyed && self.kind == Kind::Item).then_some(self.key.as_slice())
    }

    /// True when the row fed last belongs to an item-level order that already had rows
    /// earlier in the file, apart from this run of rows.
    pub fn last_apart(&self) -> bool {
        self.last_key().is_some() && self.current.as_ref().is_some_and(|b| b.repeat_of.is_some())
    }

    /// The order of the row fed last, by the counting rule.
    pub fn last_order(&self) -> OrderOf<'_> {
        order_of(self.kind, self.keyed.then_some(self.key.as_slice()))
    }

    /// Orders seen so far, by the counting rule.
    pub fn count(&self) -> u64 {
        self.tally.count()
    }

    /// Feeds one well-formed row.
    pub fn row(
        &mut self,
        plan: &HeaderPlan,
        rec: &Record,
        line: u64,
        row: u64,
        emit: &mut dyn FnMut(Diagnostic),
    ) {
        self.keyed = false;
        if self.kind == Kind::Modification {
            // No order rules; each row is an order of its own.
            self.tally.note(OrderOf::Own, line);
            return;
        }
        let Some(oid_col) = plan.order_id else { return };
        if !plan.order_key(rec, &mut self.key) {
            return;
        }
        self.keyed = true;
        let oid = rec.get(oid_col);
        // Order findings are about the OrderId unless they name another column.
        let put = |d: Diagnostic| match d.column {
            Some(_) => d.at_row(line, row),
            None => d.at_row(line, row).column(&plan.names[oid_col]).value(oid),
        };
        match self.kind {
            Kind::Item => self.item_row(plan, rec, line, &mut |d| emit(put(d))),
            _ => self.order_row(line, &mut |d| emit(put(d))),
        }
    }

    fn order_row(&mut self, line: u64, emit: &mut dyn FnMut(Diagnostic)) {
        if let Some(first) = self.tally.note(OrderOf::Key(&self.key), line) {
            emit(Diagnostic::new(
                Code::DuplicateOrder,
                format!(
                    "order {} was already submitted on line {first}",
                    describe(&self.key)
                ),
                "remove the repeated row, or give it its own OrderId; impact.com keeps only one conversion per event type and OrderId",
            ));
        }
    }

    fn item_row(
        &mut self,
        plan: &HeaderPlan,
        rec: &Record,
        line: u64,
        emit: &mut dyn FnMut(Diagnostic),
    ) {
        let same = self.current.as_ref().is_some_and(|b| b.key == self.key);
        if !same {
            self.start_block(plan, rec, line);
        }
        let Some(block) = self.current.as_mut() else {
            return;
        };
        let key = &self.key;
        block.rows += 1;
        if let Some(first) = block.repeat_of {
            emit(Diagnostic::new(
                Code::OrderNotConsecutive,
                format!(
                    "order {} started on line {first} but its rows are interrupted by another order",
                    describe(key)
                ),
                "put every row of an order together (sort by OrderId, keeping each order's rows in their order); impact.com reports OID_DUPLICATE for the later rows",
            ));
        }
        if same {
            inconsistent(block, plan, rec, key, emit);
        }
        if block.rows > self.max_rows && !block.too_large_reported {
            block.too_large_reported = true;
            emit(Diagnostic::new(
                Code::OrderTooLarge,
                format!(
                    "order {} starts on line {} and has more than {} rows, so it cannot fit in one file",
                    describe(key),
                    block.first_line,
                    self.max_rows
                ),
                "an order cannot be split across files: raise --max-rows or submit this order through the API",
            ));
        }
    }

    /// Starts a new block for `self.key`, counting the order if it is new, reusing the
    /// previous block's buffers (no allocation per order beyond its 16 bytes in the tally).
    fn start_block(&mut self, plan: &HeaderPlan, rec: &Record, line: u64) {
        let mut block = self.current.take().unwrap_or_default();
        block.key.clear();
        block.key.extend_from_slice(&self.key);
        block.first_line = line;
        block.rows = 0;
        block.repeat_of = self.tally.note(OrderOf::Key(&self.key), line);
        block.values.clear();
        block.ends.clear();
        for &c in &plan.order_fields {
            block.values.extend_from_slice(rec.bytes(c));
            block.ends.push(block.values.len());
        }
        block.reported.clear();
        block.reported.resize(plan.order_fields.len(), false);
        block.too_large_reported = false;
        self.current = Some(block);
    }
}

/// The order as people read it: `ORD-1` (ActionTrackerId 12345).
pub fn describe(key: &[u8]) -> String {
    let (ty, oid) = match key.iter().position(|&b| b == 0x1f) {
        Some(i) => (&key[..i], &key[i + 1..]),
        None => (&[][..], key),
    };
    let oid = shown(&String::from_utf8_lossy(oid));
    if ty.is_empty() {
        format!("`{oid}`")
    } else {
        format!(
            "`{oid}` ({})",
            shown(&String::from_utf8_lossy(ty)).replace('=', " ")
        )
    }
}

fn inconsistent(
    block: &mut Block,
    plan: &HeaderPlan,
    rec: &Record,
    key: &[u8],
    emit: &mut dyn FnMut(Diagnostic),
) {
    for (i, &c) in plan.order_fields.iter().enumerate() {
        let start = if i == 0 { 0 } else { block.ends[i - 1] };
        let first = &block.values[start..block.ends[i]];
        let both_empty = !rec.filled(c) && first.iter().all(|&b| b == b' ' || b == b'\t');
        if block.reported[i] || first == rec.bytes(c) || both_empty {
            continue;
        }
        block.reported[i] = true;
        let name = &plan.names[c];
        emit(
            Diagnostic::new(
                Code::InconsistentOrder,
                format!(
                    "`{name}` differs between the rows of order {}: `{}` here, `{}` on line {}",
                    describe(key),
                    shown(&rec.lossy(c)),
                    shown(&String::from_utf8_lossy(first)),
                    block.first_line
                ),
                format!("give every row of one order the same `{name}`; impact.com reads order-level fields once per order"),
            )
            .column(name)
            .value(&rec.lossy(c)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::RecordReader;

    /// Runs the tracker over `csv` (header: Type,Oid,Date) and returns (line, code) pairs.
    fn run(kind: Kind, max_rows: u64, csv: &str) -> (Vec<(u64, &'static str)>, u64) {
        let plan = HeaderPlan {
            names: vec![
                "ActionTrackerId".into(),
                "OrderId".into(),
                "EventDate".into(),
            ],
            event_type: vec![0],
            order_id: Some(1),
            order_fields: vec![2],
            ..HeaderPlan::default()
        };
        let mut orders = Orders::new(kind, max_rows);
        let mut reader = RecordReader::new(csv.as_bytes());
        let mut rec = Record::default();
        let mut out = vec![];
        let mut row = 0;
        while reader.read(&mut rec).unwrap() {
            row += 1;
            let line = rec.line();
            orders.row(&plan, &rec, line, row, &mut |d| {
                out.push((d.line.unwrap(), d.code.as_str()))
            });
        }
        (out, orders.count())
    }

    #[test]
    fn every_row_of_a_reappearing_block_is_flagged() {
        let (got, count) = run(
            Kind::Item,
            100,
            "1,A,d\n1,A,d\n1,B,d\n1,A,d\n1,A,d\n2,A,d\n1,C,d\n1,B,d\n",
        );
        assert_eq!(
            got,
            [
                (4, "order-not-consecutive"),
                (5, "order-not-consecutive"),
                (8, "order-not-consecutive")
            ]
        );
        assert_eq!(count, 4);
    }

    #[test]
    fn order_level_duplicates_per_event_type() {
        let (got, count) = run(Kind::Order, 100, "1,A,d\n1,B,d\n2,A,d\n1,A,d\n1,A,d\n");
        assert_eq!(got, [(4, "duplicate-order"), (5, "duplicate-order")]);
        assert_eq!(count, 3);
    }

    #[test]
    fn inconsistent_fields_once_per_order_and_column() {
        let (got, _) = run(Kind::Item, 100, "1,A,d1\n1,A,d2\n1,A,d3\n1,B,x\n");
        assert_eq!(got, [(2, "inconsistent-order")]);
    }

    #[test]
    fn oversized_orders_reported_once() {
        let (got, _) = run(Kind::Item, 2, "1,A,d\n1,A,d\n1,A,d\n1,A,d\n1,B,d\n");
        assert_eq!(got, [(3, "order-too-large")]);
    }

    #[test]
    fn every_row_of_a_modification_file_is_an_order_of_its_own() {
        let (got, count) = run(Kind::Modification, 100, "1,A,d\n1,A,d\n1,,d\n");
        assert_eq!((got.len(), count), (0, 3));
    }

    #[test]
    fn a_tally_counts_keys_once_and_rows_without_a_key_never() {
        let mut t = OrderTally::default();
        assert_eq!(t.note(OrderOf::Key(b"a"), 2), None);
        assert_eq!(t.note(OrderOf::Key(b"a"), 3), Some(2));
        assert_eq!(t.note(OrderOf::Nothing, 4), None);
        assert_eq!(t.note(OrderOf::Own, 5), None);
        assert_eq!(t.note(OrderOf::Own, 6), None);
        assert_eq!(t.count(), 3);
        assert_eq!(order_of(Kind::Modification, Some(b"a")), OrderOf::Own);
        assert_eq!(order_of(Kind::Order, None), OrderOf::Nothing);
    }

    #[test]
    fn rows_without_an_order_id_are_ignored() {
        let (got, count) = run(Kind::Item, 100, "1,,d\n1,A,d\n1,,d\n1,A,d\n");
        assert_eq!((got.len(), count), (0, 1));
    }
}
