//! Batch rows to Conversions API form fields (impact-facts §7): one conversion per order;
//! order-level columns taken once, from the order's first row; item columns numbered
//! `ItemSku1..n`, `ItemCategory1..n`, … in row order. Empty values are left out.

use crate::input::Record;
use crate::template::{Kind, Template};

/// Where a header column goes in the form.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// Once per conversion, under this name.
    Order(String),
    /// Once per item row, as `<name><n>`.
    Item(String),
}

/// How to turn rows of one header into form fields.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// Per header column.
    targets: Vec<Target>,
    /// The batch column names, for error messages.
    columns: Vec<String>,
    items: bool,
}

/// One conversion ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    /// The form, in order.
    pub form: Vec<(String, String)>,
    /// The input line of each of its rows.
    pub lines: Vec<u64>,
    /// OrderId as written.
    pub order_id: String,
    /// Event type and OrderId: what the ledger keys it by.
    pub key: String,
}

impl Mapping {
    /// The mapping for `header` under template `t`.
    pub fn new(t: &Template, header: &[String]) -> Mapping {
        let items = t.kind == Kind::Item;
        let order_level = crate::template::load("order-level").ok();
        let targets = header
            .iter()
            .map(|cell| {
                let name = t
                    .find(cell)
                    .map_or(cell.as_str(), |m| t.fields[m.id()].name.as_str());
                let is_order_field = order_level
                    .as_ref()
                    .is_none_or(|o| o.find(name).is_some() && name != "Amount");
                match name {
                    "ActionTrackerId" => Target::Order("EventTypeId".into()),
                    "Amount" if items => Target::Item("ItemSubTotal".into()),
                    "Sku" => Target::Item("ItemSku".into()),
                    "Category" => Target::Item("ItemCategory".into()),
                    "Quantity" => Target::Item("ItemQuantity".into()),
                    "Name" => Target::Item("ItemName".into()),
                    n if items && !is_order_field && n != "Amount" => Target::Item(n.to_string()),
                    n => Target::Order(n.to_string()),
                }
            })
            .collect();
        Mapping {
            targets,
            columns: header.to_vec(),
            items,
        }
    }

    /// The form for one order's rows (`rows` with their input lines).
    pub fn conversion(&self, rows: &[(Record, u64)], order_id: &str, key: &str) -> Conversion {
        let mut form = vec![];
        if let Some((first, _)) = rows.first() {
            for (c, t) in self.targets.iter().enumerate() {
                if let Target::Order(name) = t
                    && c < first.len()
                    && first.filled(c)
                {
                    form.push((name.clone(), first.get(c).to_string()));
                }
            }
        }
        if self.items {
            for (n, (rec, _)) in rows.iter().enumerate() {
                for (c, t) in self.targets.iter().enumerate() {
                    if let Target::Item(name) = t
                        && c < rec.len()
                        && rec.filled(c)
                    {
                        form.push((format!("{name}{}", n + 1), rec.get(c).to_string()));
                    }
                }
            }
        }
        Conversion {
            form,
            lines: rows.iter().map(|(_, l)| *l).collect(),
            order_id: order_id.to_string(),
            key: key.to_string(),
        }
    }

    /// The batch column and the input line an API field name points at: `ItemSku3` is the
    /// `Sku` column of the order's third row; an order field is on its first row.
    pub fn locate(&self, field: &str, lines: &[u64]) -> (Option<String>, Option<u64>) {
        let first = lines.first().copied();
        for (c, t) in self.targets.iter().enumerate() {
            match t {
                Target::Order(name) if name.eq_ignore_ascii_case(field) => {
                    return (Some(self.columns[c].clone()), first);
                }
                Target::Item(name) => {
                    let Some(rest) = field
                        .get(..name.len())
                        .filter(|p| p.eq_ignore_ascii_case(name))
                        .map(|_| &field[name.len()..])
                    else {
                        continue;
                    };
                    if let Ok(n) = rest.parse::<usize>()
                        && n >= 1
                    {
                        return (
                            Some(self.columns[c].clone()),
                            lines.get(n - 1).copied().or(first),
                        );
                    }
                }
                Target::Order(_) => {}
            }
        }
        (None, first)
    }
}

/// The form as `application/x-www-form-urlencoded` text.
pub fn encode(form: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in form.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        escape(k, &mut out);
        out.push('=');
        escape(v, &mut out);
    }
    out
}

/// One value as `application/x-www-form-urlencoded` text.
pub fn encode_value(s: &str) -> String {
    let mut out = String::new();
    escape(s, &mut out);
    out
}

fn escape(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::RecordReader;
    use crate::template;

    fn rows(csv: &str) -> (Vec<String>, Vec<(Record, u64)>) {
        let mut r = RecordReader::new(csv.as_bytes());
        let mut rec = Record::default();
        r.read(&mut rec).unwrap();
        let header = (0..rec.len()).map(|i| rec.get(i).to_string()).collect();
        let mut out = vec![];
        while r.read(&mut rec).unwrap() {
            let line = rec.line();
            out.push((std::mem::take(&mut rec), line));
        }
        (header, out)
    }

    #[test]
    fn a_three_item_order_becomes_one_form() {
        let t = template::load("item-level").unwrap();
        let (header, rows) = rows(
            "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,CurrencyCode,Amount,Category,Sku,Quantity,MediaPartnerId\n\
             1000,12345,2026-06-20T12:00:00Z,ORD-1,abc,USD,10.00,Toys,SKU-1,2,\n\
             1000,12345,2026-06-20T12:00:00Z,ORD-1,abc,USD,5.50,Books,SKU-2,1,\n\
             1000,12345,2026-06-20T12:00:00Z,ORD-1,abc,USD,1.25,Toys,SKU-3,3,\n",
        );
        let m = Mapping::new(&t, &header);
        let c = m.conversion(&rows, "ORD-1", "k");
        let body = encode(&c.form);
        assert_eq!(
            body,
            "CampaignId=1000&EventTypeId=12345&EventDate=2026-06-20T12%3A00%3A00Z&OrderId=ORD-1&ClickId=abc&CurrencyCode=USD\
             &ItemSubTotal1=10.00&ItemCategory1=Toys&ItemSku1=SKU-1&ItemQuantity1=2\
             &ItemSubTotal2=5.50&ItemCategory2=Books&ItemSku2=SKU-2&ItemQuantity2=1\
             &ItemSubTotal3=1.25&ItemCategory3=Toys&ItemSku3=SKU-3&ItemQuantity3=3"
        );
        assert_eq!(c.lines, [2, 3, 4]);
        assert_eq!(
            m.locate("ItemSku3", &c.lines),
            (Some("Sku".into()), Some(4))
        );
        assert_eq!(
            m.locate("eventtypeid", &c.lines),
            (Some("ActionTrackerId".into()), Some(2))
        );
        assert_eq!(m.locate("Margin", &c.lines), (None, Some(2)));
    }

    #[test]
    fn order_level_rows_and_aliases() {
        let t = template::load("order-level").unwrap();
        let (header, rows) = rows(
            "CampaignId,EventTypeId,EventDate,Oid,CustomerId,Currency,Amount,PromoCode,MediaPartnerId\n\
             1000,12345,NOW,A 1&2,c1,EUR,9.99,SUMMER,4242\n",
        );
        let m = Mapping::new(&t, &header);
        let c = m.conversion(&rows, "A 1&2", "k");
        assert_eq!(
            encode(&c.form),
            "CampaignId=1000&EventTypeId=12345&EventDate=NOW&OrderId=A+1%262&CustomerId=c1&CurrencyCode=EUR&Amount=9.99&OrderPromoCode=SUMMER&MediaId=4242"
        );
    }
}
