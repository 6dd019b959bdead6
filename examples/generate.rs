//! Writes a deterministic, realistic impact.com batch file to standard output, for
//! benchmarks and for trying convsubmit on big inputs.
//!
//! ```sh
//! cargo run --release --example generate -- --rows 1000000 > item-1m.csv
//! cargo run --release --example generate -- --kind order --rows 100000 --seed 7 > order.csv
//! cargo run --release --example generate -- --rows 100000 --scatter 20 > scattered.csv
//! ```
//!
//! Item-level orders have 1–5 items; values vary (categories with commas, quantities, amounts,
//! hashed emails, some partner ids). Events fall in the 30 days before `--as-of` (default
//! 2026-06-30), so the file validates clean for that date. `--scatter N` moves the last item
//! of N orders in a thousand after the next order (what `fix` repairs).

use std::io::{self, BufWriter, Write};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Args {
    rows: u64,
    item: bool,
    seed: u64,
    scatter: u64,
    day: u32,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        rows: 1000,
        item: true,
        seed: 1,
        scatter: 0,
        day: 30,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--rows" => a.rows = value()?.parse().map_err(|e| format!("--rows: {e}"))?,
            "--seed" => a.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--scatter" => a.scatter = value()?.parse().map_err(|e| format!("--scatter: {e}"))?,
            "--kind" => {
                a.item = match value()?.as_str() {
                    "item" => true,
                    "order" => false,
                    k => return Err(format!("--kind: `{k}` is not item or order")),
                }
            }
            _ => {
                return Err(format!(
                    "unknown argument `{flag}`; use --rows N --kind item|order --seed S --scatter N"
                ));
            }
        }
    }
    Ok(a)
}

const CATEGORIES: &[&str] = &[
    "Shoes",
    "Accessories",
    "Garden",
    "Electronics",
    "\"Books, used\"",
    "Home & Kitchen",
];

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("generate: {e}");
            std::process::exit(2);
        }
    };
    let result = write(
        &args,
        &mut BufWriter::with_capacity(1 << 20, io::stdout().lock()),
    );
    if let Err(e) = result
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        eprintln!("generate: {e}");
        std::process::exit(1);
    }
}

fn write(a: &Args, out: &mut impl Write) -> io::Result<()> {
    let mut rng = Rng(a.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    if a.item {
        writeln!(
            out,
            "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,CustomerEmail,CurrencyCode,Amount,Category,Sku,Quantity,MediaPartnerId"
        )?;
    } else {
        writeln!(
            out,
            "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,CustomerEmail,CurrencyCode,Amount,PromoCode,MediaPartnerId"
        )?;
    }
    let mut written = 0;
    let mut order = 0u64;
    let mut held: Option<String> = None;
    let mut rows: Vec<String> = Vec::with_capacity(5);
    while written < a.rows {
        order += 1;
        let items = if a.item {
            (1 + rng.below(5)).min(a.rows - written)
        } else {
            1
        };
        let date = format!(
            "2026-06-{:02}T{:02}:{:02}:{:02}Z",
            a.day - 1 - rng.below(28) as u32,
            rng.below(24),
            rng.below(60),
            rng.below(60)
        );
        let click = format!("{:016x}{:08x}", rng.next(), rng.next() as u32);
        let email = format!(
            "{:016x}{:016x}{:016x}{:016x}",
            rng.next(),
            rng.next(),
            rng.next(),
            rng.next()
        );
        let media = if rng.below(4) == 0 {
            format!("{}", 100_000 + rng.below(900_000))
        } else {
            String::new()
        };
        rows.clear();
        for _ in 0..items {
            let amount = format!("{}.{:02}", 1 + rng.below(400), rng.below(100));
            let line = if a.item {
                format!(
                    "18543,27015,{date},ORD-{order},{click},{email},USD,{amount},{},SKU-{},{},{media}",
                    CATEGORIES[rng.below(CATEGORIES.len() as u64) as usize],
                    rng.below(100_000),
                    1 + rng.below(3)
                )
            } else {
                let promo = if rng.below(3) == 0 { "SUMMER10" } else { "" };
                format!(
                    "18543,27015,{date},ORD-{order},{click},{email},USD,{amount},{promo},{media}"
                )
            };
            rows.push(line);
        }
        let moved = if rows.len() > 1 && rng.below(1000) < a.scatter {
            rows.pop()
        } else {
            None
        };
        for r in &rows {
            writeln!(out, "{r}")?;
        }
        if let Some(r) = held.take() {
            writeln!(out, "{r}")?;
        }
        held = moved;
        written += items;
    }
    if let Some(r) = held {
        writeln!(out, "{r}")?;
    }
    out.flush()
}
