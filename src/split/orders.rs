//! Reading back a file `split` wrote (its header first, each order's rows together) one
//! order at a time: for split's own repacking, and for the channels that cut parts smaller
//! (email) or send orders rather than files (the API).

use crate::input::{Ending, Record, RecordReader};
use crate::template::{self, Kind, Template};
use crate::validate::{self, HeaderPlan};
use anyhow::{Context, Result};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// One row of a part.
#[derive(Default)]
pub struct PartRow {
    /// Its fields.
    pub record: Record,
    /// Its bytes as in the part, without the line break.
    pub raw: Vec<u8>,
    /// Its first physical line in the part.
    pub line: u64,
    /// Physical lines it spans.
    pub lines: u64,
}

/// Reads a part order by order.
pub struct PartReader<R> {
    reader: RecordReader<R>,
    plan: HeaderPlan,
    by_order: bool,
    header: Vec<String>,
    header_raw: Vec<u8>,
    newline: &'static [u8],
    /// The first row of the next order, read ahead, with its key.
    ahead: Option<(PartRow, Vec<u8>)>,
    rec: Record,
    template: Template,
}

impl PartReader<BufReader<File>> {
    /// Opens the part at `path`; `None` when it is empty. `template` is the one it was
    /// checked against (`None`: detect it from the header).
    pub fn open(path: &Path, template: Option<&Template>) -> Result<Option<Self>> {
        let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        PartReader::new(BufReader::new(file), template)
            .with_context(|| format!("cannot read {}", path.display()))
    }
}

impl<R: Read> PartReader<R> {
    /// Reads the header of `src`; `None` when there is none.
    pub fn new(src: R, template: Option<&Template>) -> Result<Option<Self>> {
        let mut reader = RecordReader::new(src);
        let mut rec = Record::default();
        if !reader.read(&mut rec)? {
            return Ok(None);
        }
        let header: Vec<String> = (0..rec.len()).map(|i| rec.get(i).to_string()).collect();
        let t = template::given_or_detected(template, &header)?.into_owned();
        Ok(Some(PartReader {
            plan: validate::plan_header(&t, header.clone()),
            by_order: t.kind == Kind::Item,
            newline: if reader.ending() == Ending::Lf {
                b"\n"
            } else {
                b"\r\n"
            },
            header_raw: reader.raw().to_vec(),
            header,
            reader,
            ahead: None,
            rec,
            template: t,
        }))
    }

    /// The template the part is read with.
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// The header cells.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The header line as in the part, without its line break.
    pub fn header_raw(&self) -> &[u8] {
        &self.header_raw
    }

    /// The part's line break.
    pub fn newline(&self) -> &'static [u8] {
        self.newline
    }

    /// The OrderId of `row`, as written (empty without an OrderId column).
    pub fn order_id(&self, row: &PartRow) -> String {
        self.plan
            .order_id
            .map(|c| String::from_utf8_lossy(row.record.bytes(c)).into_owned())
            .unwrap_or_default()
    }

    /// The event type of `row`: the value of its first filled event-type column
    /// (ActionTrackerId, EventTypeId, EventTypeCode), as the order key takes it.
    pub fn event_type(&self, row: &PartRow) -> Option<String> {
        let rec = &row.record;
        self.plan
            .event_type
            .iter()
            .find(|&&c| c < rec.len() && rec.filled(c))
            .map(|&c| String::from_utf8_lossy(rec.bytes(c)).into_owned())
    }

    /// Puts the next order's rows in `rows` and its key in `key` (empty for a row without an
    /// OrderId). Rows of item-level files are grouped by key; in other files each row is an
    /// order. Returns false at the end of the part.
    pub fn next_order(&mut self, rows: &mut Vec<PartRow>, key: &mut Vec<u8>) -> io::Result<bool> {
        rows.clear();
        key.clear();
        if let Some((row, k)) = self.ahead.take() {
            rows.push(row);
            *key = k;
        }
        let mut next_key = Vec::new();
        while self.reader.read(&mut self.rec)? {
            let line = self.rec.line();
            // Every row gets its key (the API's ledger needs it); only item-level rows group.
            let keyed = self.plan.order_key(&self.rec, &mut next_key);
            let groups = self.by_order && keyed;
            let row = PartRow {
                raw: self.reader.raw().to_vec(),
                line,
                lines: self.reader.line() - line + u64::from(self.reader.ending() == Ending::Eof),
                record: std::mem::take(&mut self.rec),
            };
            if !keyed {
                next_key.clear();
            }
            if rows.is_empty() {
                rows.push(row);
                std::mem::swap(key, &mut next_key);
                if !groups {
                    return Ok(true);
                }
            } else if groups && next_key == *key {
                rows.push(row);
            } else {
                self.ahead = Some((row, next_key));
                return Ok(true);
            }
        }
        Ok(!rows.is_empty())
    }
}

/// One order of a part, as [`for_each_order`] reads it.
pub struct OrderSeen<'a> {
    /// The part's header line, with its line break.
    pub header: &'a [u8],
    /// The order's event type (see [`PartReader::event_type`]).
    pub event_type: Option<String>,
    /// Its rows' bytes as in the part, each with its line break.
    pub bytes: &'a [u8],
    /// Its rows.
    pub rows: u64,
}

/// Reads the part at `path` order by order, telling `each` of every order. An empty part is
/// an error: split never writes one.
pub fn for_each_order(
    path: &Path,
    template: Option<&Template>,
    each: &mut dyn FnMut(OrderSeen<'_>),
) -> Result<()> {
    let Some(mut reader) = PartReader::open(path, template)? else {
        anyhow::bail!("{} is empty", path.display());
    };
    let newline = reader.newline();
    let mut header = reader.header_raw().to_vec();
    header.extend_from_slice(newline);
    let (mut rows, mut key, mut order) = (vec![], vec![], vec![]);
    while reader.next_order(&mut rows, &mut key)? {
        order.clear();
        for row in &rows {
            order.extend_from_slice(&row.raw);
            order.extend_from_slice(newline);
        }
        each(OrderSeen {
            header: &header,
            event_type: reader.event_type(&rows[0]),
            bytes: &order,
            rows: rows.len() as u64,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orders(csv: &str, kind: &str) -> Vec<(String, Vec<u64>)> {
        let t = template::load(kind).unwrap();
        let mut r = PartReader::new(csv.as_bytes(), Some(&t)).unwrap().unwrap();
        let (mut rows, mut key) = (vec![], vec![]);
        let mut out = vec![];
        while r.next_order(&mut rows, &mut key).unwrap() {
            let id = r.order_id(&rows[0]);
            out.push((id, rows.iter().map(|row| row.line).collect()));
        }
        out
    }

    #[test]
    fn item_rows_are_grouped_by_order_and_other_rows_stand_alone() {
        let csv = "CampaignId,ActionTrackerId,EventDate,OrderId,Sku\n\
                   1,2,NOW,A,s1\n1,2,NOW,A,s2\n1,2,NOW,B,s3\n1,2,NOW,,s4\n1,2,NOW,,s5\n1,2,NOW,C,s6\n";
        assert_eq!(
            orders(csv, "item-level"),
            [
                ("A".into(), vec![2, 3]),
                ("B".into(), vec![4]),
                (String::new(), vec![5]),
                (String::new(), vec![6]),
                ("C".into(), vec![7])
            ]
        );
        let csv = "CampaignId,ActionTrackerId,EventDate,OrderId\n1,2,NOW,A\n1,2,NOW,A\n";
        assert_eq!(
            orders(csv, "order-level"),
            [("A".into(), vec![2]), ("A".into(), vec![3])]
        );
    }
}
