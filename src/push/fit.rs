//! Cutting parts smaller for a channel with a size limit (email attachments): a part over the
//! limit is split again by bytes, never cutting an order. Part `x.csv` becomes `x-1.csv`,
//! `x-2.csv`, … in the same folder; each starts with the header.

use super::part::PartFile as Part;
use crate::digest::sha256_hex;
use crate::split::LineMap;
use crate::split::for_each_order;
use crate::template::Template;
use anyhow::{Context, Result, bail};
use std::path::Path;

/// Returns `parts` with every part larger than `max` bytes replaced by smaller ones.
/// `template` is the one the parts were checked against (`None`: detect it again).
pub fn fit(parts: Vec<Part>, max: u64, template: Option<&Template>) -> Result<Vec<Part>> {
    let mut out = Vec::with_capacity(parts.len());
    for part in parts {
        if part.bytes <= max {
            out.push(part);
        } else {
            out.extend(cut(&part, max, template)?);
        }
    }
    Ok(out)
}

/// One order's rows, raw, each with its line break.
struct Piece {
    data: Vec<u8>,
    rows: u64,
}

fn cut(part: &Part, max: u64, template: Option<&Template>) -> Result<Vec<Part>> {
    // Pack orders into pieces of at most `max` bytes (header included).
    let mut pieces: Vec<Piece> = vec![];
    let mut too_large = None;
    for_each_order(&part.local, template, &mut |order| {
        let alone = order.header.len() + order.bytes.len();
        if too_large.is_some() || alone as u64 > max {
            too_large.get_or_insert((order.rows, alone));
            return;
        }
        match pieces.last_mut() {
            Some(p) if (p.data.len() + order.bytes.len()) as u64 <= max => {
                p.data.extend_from_slice(order.bytes);
                p.rows += order.rows;
            }
            _ => pieces.push(Piece {
                data: [order.header, order.bytes].concat(),
                rows: order.rows,
            }),
        }
    })?;
    if let Some((rows, bytes)) = too_large {
        bail!(
            "{} holds an order of {rows} rows that alone makes a {bytes}-byte file, over max_attachment_bytes ({max}); raise max_attachment_bytes under [email], or send this file over SFTP",
            part.name
        );
    }
    let stem = part.name.strip_suffix(".csv").unwrap_or(&part.name);
    let dir = part.local.parent().unwrap_or(Path::new("."));
    let mut out = vec![];
    for (i, piece) in pieces.into_iter().enumerate() {
        let name = format!("{stem}-{}.csv", i + 1);
        let local = dir.join(&name);
        std::fs::write(&local, &piece.data)
            .with_context(|| format!("cannot write {}", local.display()))?;
        out.push(Part {
            input: part.input.clone(),
            local,
            name,
            sha256: sha256_hex(&piece.data),
            bytes: piece.data.len() as u64,
            rows: piece.rows,
            // Pieces go by email, whose channel reports no line numbers.
            lines: LineMap {
                header_line: part.lines.header_line,
                runs: vec![],
            },
            event_type: part.event_type.clone(),
            sealed: None,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "CampaignId,ActionTrackerId,EventDate,OrderId,ClickId,CurrencyCode,Amount,Category,Sku,Quantity\n";

    fn part(dir: &Path, orders: &[(&str, usize)]) -> Part {
        let mut text = String::from(HEADER);
        for (id, items) in orders {
            for i in 0..*items {
                text.push_str(&format!(
                    "1,2,2026-06-20T10:00:00Z,{id},c,USD,1.00,Shoes,SKU-{i},1\n"
                ));
            }
        }
        std::fs::create_dir_all(dir).unwrap();
        let local = dir.join("p.csv");
        std::fs::write(&local, &text).unwrap();
        Part {
            input: "in.csv".into(),
            local,
            name: "p.csv".into(),
            sha256: sha256_hex(text.as_bytes()),
            bytes: text.len() as u64,
            rows: orders.iter().map(|o| o.1 as u64).sum(),
            lines: LineMap {
                header_line: 1,
                runs: vec![],
            },
            event_type: None,
            sealed: None,
        }
    }

    #[test]
    fn parts_over_the_limit_are_cut_between_orders() {
        let dir = std::env::temp_dir().join(format!("convsubmit-fit-{}", std::process::id()));
        let p = part(&dir, &[("A", 3), ("B", 1), ("C", 4), ("D", 2)]);
        let row = "1,2,2026-06-20T10:00:00Z,A,c,USD,1.00,Shoes,SKU-0,1\n".len();
        let max = (HEADER.len() + 4 * row) as u64;
        let small = fit(vec![p.clone()], p.bytes, None).unwrap();
        assert_eq!(small.len(), 1, "a part within the limit is kept");
        let pieces = fit(vec![p], max, None).unwrap();
        let names: Vec<&str> = pieces.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["p-1.csv", "p-2.csv", "p-3.csv"]);
        let rows: Vec<u64> = pieces.iter().map(|p| p.rows).collect();
        assert_eq!(rows, [4, 4, 2]);
        for piece in &pieces {
            let text = std::fs::read_to_string(&piece.local).unwrap();
            assert!(text.starts_with(HEADER) && piece.bytes <= max);
            assert_eq!(sha256_hex(text.as_bytes()), piece.sha256);
        }
        let p = part(&dir, &[("A", 9)]);
        let e = fit(vec![p], max, None).unwrap_err().to_string();
        assert!(e.contains("max_attachment_bytes"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
