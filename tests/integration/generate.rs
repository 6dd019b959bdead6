//! Deterministic item-level files of any size, clean or with chosen kinds of damage, for the
//! split and fix tests.

use crate::util::Rng;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub seed: u64,
    /// Data rows (at least; the last order is never cut short).
    pub rows: usize,
    /// Per thousand orders: one row gets a bad Amount (`invalid-number`).
    pub bad: u32,
    /// Per thousand orders: the last row is moved after the next order (not consecutive).
    pub scattered: u32,
    /// Per thousand rows: a plain email address instead of a hash.
    pub plain_emails: u32,
    /// Most items per order.
    pub max_items: usize,
    /// Line breaks: `\n`, `\r\n` or `\r`.
    pub newline: &'static str,
    /// Some Category values hold a quoted line break.
    pub multiline: bool,
}

impl Spec {
    pub fn clean(seed: u64, rows: usize) -> Spec {
        Spec {
            seed,
            rows,
            bad: 0,
            scattered: 0,
            plain_emails: 0,
            max_items: 5,
            newline: "\n",
            multiline: false,
        }
    }
}

pub const HEADER: &str = "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,CustomerEmail,CurrencyCode,Amount,Category,Sku,Quantity";

const CATEGORIES: &[&str] = &[
    "Shoes",
    "Accessories",
    "Garden",
    "Electronics",
    "Books, used",
];

/// The file's text.
pub fn item_level(spec: &Spec) -> String {
    let mut rng = Rng::new(spec.seed);
    let mut orders: Vec<Vec<String>> = vec![];
    let mut rows = 0;
    while rows < spec.rows {
        let n = 1 + rng.below(spec.max_items);
        let id = format!("ORD-{}-{}", spec.seed, orders.len() + 1);
        let day = 1 + rng.below(28);
        let date = format!(
            "2026-06-{day:02}T{:02}:{:02}:00Z",
            rng.below(24),
            rng.below(60)
        );
        let click: String = (0..24)
            .map(|_| (b'a' + rng.below(26) as u8) as char)
            .collect();
        let bad_row = (rng.below(1000) < spec.bad as usize).then(|| rng.below(n));
        let mut order = vec![];
        // Order-level values are the same on every row of the order.
        let email = if rng.below(1000) < spec.plain_emails as usize {
            format!(" Buyer{}@Example.com", rng.below(1000))
        } else {
            format!("{:064x}", u128::from(rng.next()) * 7 + 1)
        };
        for item in 0..n {
            let amount = if bad_row == Some(item) {
                "\"1,000.00\"".to_string()
            } else {
                format!("{}.{:02}", 1 + rng.below(500), rng.below(100))
            };
            let category = if spec.multiline && rng.below(20) == 0 {
                format!("\"Gift{}wrapped\"", spec.newline)
            } else {
                let c = CATEGORIES[rng.below(CATEGORIES.len())];
                if c.contains(',') {
                    format!("\"{c}\"")
                } else {
                    c.to_string()
                }
            };
            order.push(format!(
                "18543,27015,{date},{id},{click},{email},USD,{amount},{category},SKU-{},{}",
                rng.below(10_000),
                1 + rng.below(3)
            ));
        }
        rows += n;
        orders.push(order);
    }
    let mut out_rows: Vec<String> = vec![];
    let mut held: Option<String> = None;
    for mut order in orders {
        let scatter = order.len() > 1 && rng.below(1000) < spec.scattered as usize;
        let moved = if scatter { order.pop() } else { None };
        out_rows.extend(order);
        out_rows.extend(held.take());
        held = moved;
    }
    out_rows.extend(held);
    let mut text = String::from(HEADER);
    for r in out_rows {
        text.push_str(spec.newline);
        text.push_str(&r);
    }
    text.push_str(spec.newline);
    text
}

/// A record as the `csv` crate reads it, with the line it starts on.
pub struct Row {
    pub line: u64,
    pub fields: Vec<String>,
}

/// Parses CSV text (header first) with the `csv` crate: an independent reader. Lines are
/// counted from each record's byte offset, because the crate's own line count lags by one
/// after a CRLF.
pub fn parse(text: &[u8]) -> (Vec<String>, Vec<Row>) {
    // Line breaks before each offset, counted incrementally (offsets only grow).
    let (mut counted, mut line) = (0usize, 1u64);
    let mut line_at = move |byte: usize| {
        for i in counted..byte {
            let b = text[i];
            if b == b'\r' || (b == b'\n' && (i == 0 || text[i - 1] != b'\r')) {
                line += 1;
            }
        }
        counted = counted.max(byte);
        line
    };
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text);
    let mut all = r.records().map(|rec| {
        let rec = rec.expect("valid CSV");
        Row {
            line: rec.position().map_or(0, |p| line_at(p.byte() as usize)),
            fields: rec.iter().map(String::from).collect(),
        }
    });
    let header = all.next().expect("a header").fields;
    (header, all.collect())
}
