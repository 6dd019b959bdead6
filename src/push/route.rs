//! Email per event type: impact.com gives each event type a unique address and reads every
//! file mailed to it as that event type's. [`ByEventType`] is the email channel: with one
//! address (`to = "…"`) it refuses, before anything is sent, parts whose rows carry more than
//! one event type; with a table (`[email.to]`) it cuts each part into one per event type
//! (`…_27015_part001.csv`), each mailed to its own address, and refuses an event type that has
//! none. The ledger keys each part by its address, so re-runs work per event type.

use super::channel::{Attempt, Channel, FileLane, Files, Lane, Sent, Step};
use super::part::{PartFile, Unit};
use crate::deliver::DeliveryError;
use crate::digest::sha256_hex;
use crate::split::for_each_order;
use crate::template::Template;
use anyhow::{Context, Result, bail};
use std::collections::{BTreeMap, BTreeSet};

/// The email channel: a [`Files`] channel per address.
pub struct ByEventType {
    /// With `Some(event type)` per address, or one `None` for the one address.
    routes: Vec<(Option<String>, Files)>,
}

impl ByEventType {
    /// The channel over `routes` (never empty).
    pub fn new(routes: Vec<(Option<String>, Files)>) -> ByEventType {
        ByEventType { routes }
    }

    fn table(&self) -> bool {
        self.routes.iter().any(|(t, _)| t.is_some())
    }

    /// The route of `event_type` (the one address when there is no table).
    fn route(&self, event_type: Option<&str>) -> Option<usize> {
        if !self.table() {
            return Some(0);
        }
        self.routes
            .iter()
            .position(|(t, _)| t.as_deref() == event_type && event_type.is_some())
    }

    fn files(&self, unit: &Unit) -> &Files {
        let Unit::Part(part) = unit else {
            unreachable!("an email channel's units are parts")
        };
        let i = self.route(part.event_type.as_deref()).unwrap_or(0);
        &self.routes[i].1
    }
}

impl Channel for ByEventType {
    fn destination(&self) -> String {
        let all: Vec<String> = self.routes.iter().map(|(_, f)| f.destination()).collect();
        all.join(",")
    }

    fn destination_of(&self, unit: &Unit) -> String {
        self.files(unit).destination()
    }

    fn label(&self) -> String {
        match &self.routes[..] {
            [(None, files)] => files.label(),
            _ => {
                let types: Vec<&str> = self
                    .routes
                    .iter()
                    .filter_map(|(t, _)| t.as_deref())
                    .collect();
                // `to (via host:port)`, and `, encrypted to …` after it when encrypting.
                let first = self.routes[0].1.label();
                let via = first.split_once(" (via ").map_or("", |(_, v)| v);
                let (via, rest) = via.split_once(')').unwrap_or((via, ""));
                format!(
                    "the addresses of event types {} (via {via}){rest}",
                    types.join(", ")
                )
            }
        }
    }

    fn units(&self, parts: Vec<PartFile>, template: Option<&Template>) -> Result<Vec<Unit>> {
        let mut by_type = Vec::with_capacity(parts.len());
        for part in parts {
            if self.table() {
                by_type.extend(cut_by_event_type(&part, template)?);
            } else {
                one_event_type(&part, template)?;
                by_type.push(part);
            }
        }
        let missing: BTreeSet<&str> = by_type
            .iter()
            .filter(|p| self.route(p.event_type.as_deref()).is_none())
            .map(|p| p.event_type.as_deref().unwrap_or("(none)"))
            .collect();
        if !missing.is_empty() {
            let missing: Vec<&str> = missing.into_iter().collect();
            bail!(
                "no address for event type {}: add {} under [email.to] (each event type has its own unique address in impact.com); nothing was sent",
                missing.join(", "),
                missing
                    .iter()
                    .map(|t| format!("{t} = \"…@batch.impact.com\""))
                    .collect::<Vec<_>>()
                    .join(" and ")
            );
        }
        // Each address's parts, cut to its attachment limit.
        let mut units = vec![];
        for part in by_type {
            let i = self.route(part.event_type.as_deref()).unwrap_or(0);
            units.extend(self.routes[i].1.units(vec![part], template)?);
        }
        Ok(units)
    }

    fn check(&self) -> Result<(), DeliveryError> {
        self.routes.iter().try_for_each(|(_, f)| f.check())
    }

    fn lanes(&mut self) -> Result<Vec<Box<dyn Lane + '_>>, DeliveryError> {
        let table = self.table();
        let lanes = self
            .routes
            .iter_mut()
            .map(|(t, files)| (t.clone(), files.lane()))
            .collect();
        Ok(vec![Box::new(RoutedLane { table, lanes })])
    }
}

/// Sends each part through the lane of its address; each connects when first used.
struct RoutedLane<'a> {
    table: bool,
    lanes: Vec<(Option<String>, FileLane<'a>)>,
}

impl Lane for RoutedLane<'_> {
    fn attempt(&mut self, unit: &Unit, job: &mut Attempt<'_>) -> Result<Sent, Step> {
        let Unit::Part(part) = unit else {
            unreachable!("an email channel's units are parts")
        };
        let table = self.table;
        let lane = self
            .lanes
            .iter_mut()
            .find(|(t, _)| !table || t.as_deref() == part.event_type.as_deref())
            .map(|(_, lane)| lane);
        match lane {
            Some(lane) => lane.attempt(unit, job),
            None => unreachable!("units() refuses an event type without an address"),
        }
    }

    fn close(&mut self) {
        self.lanes.iter_mut().for_each(|(_, lane)| lane.close());
    }
}

/// The event types of `part`'s rows, in the order they first appear.
fn event_types(part: &PartFile, template: Option<&Template>) -> Result<Vec<Option<String>>> {
    let mut seen = vec![];
    for_each_order(&part.local, template, &mut |order| {
        if !seen.contains(&order.event_type) {
            seen.push(order.event_type);
        }
    })?;
    Ok(seen)
}

/// Refuses a part of several event types (one address: impact.com would read them all as
/// one event type's).
fn one_event_type(part: &PartFile, template: Option<&Template>) -> Result<()> {
    let types = event_types(part, template)?;
    if types.len() > 1 {
        let names: Vec<&str> = types
            .iter()
            .map(|t| t.as_deref().unwrap_or("(none)"))
            .collect();
        bail!(
            "{} holds rows of {} event types ({}), and [email] to is one address, which impact.com reads as one event type's: give each its address in a table, [email.to] with lines such as {} = \"…@batch.impact.com\"; nothing was sent",
            part.input,
            types.len(),
            names.join(", "),
            names[0]
        );
    }
    Ok(())
}

/// `part` as one part per event type, in the order the types first appear, each named with
/// its event type and beside it in the work folder.
fn cut_by_event_type(part: &PartFile, template: Option<&Template>) -> Result<Vec<PartFile>> {
    // Event type → (its rows' bytes, rows).
    let mut pieces: Vec<(Option<String>, Vec<u8>, u64)> = vec![];
    let mut header = vec![];
    for_each_order(&part.local, template, &mut |order| {
        if header.is_empty() {
            header = order.header.to_vec();
        }
        match pieces.iter_mut().find(|(t, ..)| *t == order.event_type) {
            Some((_, data, n)) => {
                data.extend_from_slice(order.bytes);
                *n += order.rows;
            }
            None => pieces.push((order.event_type, order.bytes.to_vec(), order.rows)),
        }
    })?;
    let dir = part.local.parent().unwrap_or(std::path::Path::new("."));
    let mut used = BTreeMap::new();
    let mut out = vec![];
    for (event_type, rows_data, rows) in pieces {
        let mut label = file_label(event_type.as_deref().unwrap_or("none"));
        // Two types that read the same in a file name (`a/b`, `a?b`) still get two names.
        let n = used.entry(label.clone()).or_insert(0u32);
        *n += 1;
        if *n > 1 {
            label = format!("{label}-{n}");
        }
        let name = with_event_type(&part.name, &label);
        let mut data = header.clone();
        data.extend_from_slice(&rows_data);
        let local = dir.join(format!("by-type-{}-{name}", out.len()));
        std::fs::write(&local, &data)
            .with_context(|| format!("cannot write {}", local.display()))?;
        out.push(PartFile {
            input: part.input.clone(),
            local,
            name,
            sha256: sha256_hex(&data),
            bytes: data.len() as u64,
            rows,
            // Email reports no line numbers back.
            lines: crate::split::LineMap {
                header_line: part.lines.header_line,
                runs: vec![],
            },
            event_type,
            sealed: None,
        });
    }
    Ok(out)
}

/// An event type as it may appear in a file name: letters, digits, `-` and `.` kept, any
/// other character as `_`.
fn file_label(event_type: &str) -> String {
    let label: String = event_type
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let label: String = label.trim_matches('.').chars().take(64).collect();
    if label.is_empty() { "_".into() } else { label }
}

/// `x_part001.csv` → `x_27015_part001.csv`; `x.csv` → `x_27015.csv`.
fn with_event_type(name: &str, label: &str) -> String {
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => name.split_at(i),
        _ => (name, ""),
    };
    let numbered = stem.rfind("_part").filter(|&i| {
        let digits = &stem[i + 5..];
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    });
    match numbered {
        Some(i) => format!("{}_{label}{}{ext}", &stem[..i], &stem[i..]),
        None => format!("{stem}_{label}{ext}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_type_goes_before_the_part_number() {
        assert_eq!(
            with_event_type("2026-12-04_orders_part001.csv", "27015"),
            "2026-12-04_orders_27015_part001.csv"
        );
        assert_eq!(
            with_event_type("2026-12-04_orders.csv", "27015"),
            "2026-12-04_orders_27015.csv"
        );
        assert_eq!(with_event_type("x_parts.csv", "7"), "x_parts_7.csv");
        assert_eq!(file_label("online sale/2"), "online_sale_2");
        assert_eq!(file_label("../.."), "_");
        assert_eq!(file_label("..."), "_");
    }

    #[test]
    fn a_part_is_cut_into_one_per_event_type_in_order_of_appearance() {
        let dir = std::env::temp_dir().join(format!("convsubmit-route-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let header = "CampaignId,ActionTrackerId,EventDate,OrderId,CurrencyCode,Amount,Sku\n";
        let rows = [
            "1,27016,2026-06-20T10:00:00Z,A,USD,1.00,s1\n",
            "1,27016,2026-06-20T10:00:00Z,A,USD,1.00,s2\n",
            "1,27015,2026-06-20T10:00:00Z,B,USD,1.00,s3\n",
            "1,27016,2026-06-20T10:00:00Z,C,USD,1.00,s4\n",
        ];
        let text = format!("{header}{}", rows.concat());
        let local = dir.join("p.csv");
        std::fs::write(&local, &text).unwrap();
        let part = PartFile {
            input: "in.csv".into(),
            local,
            name: "2026-06-30_in_part001.csv".into(),
            sha256: sha256_hex(text.as_bytes()),
            bytes: text.len() as u64,
            rows: 4,
            lines: crate::split::LineMap {
                header_line: 1,
                runs: vec![],
            },
            event_type: None,
            sealed: None,
        };
        let t = crate::template::load("item-level").unwrap();
        let cut = cut_by_event_type(&part, Some(&t)).unwrap();
        let got: Vec<(&str, Option<&str>, u64)> = cut
            .iter()
            .map(|p| (p.name.as_str(), p.event_type.as_deref(), p.rows))
            .collect();
        assert_eq!(
            got,
            [
                ("2026-06-30_in_27016_part001.csv", Some("27016"), 3),
                ("2026-06-30_in_27015_part001.csv", Some("27015"), 1)
            ]
        );
        let first = std::fs::read_to_string(&cut[0].local).unwrap();
        assert_eq!(first, format!("{header}{}{}{}", rows[0], rows[1], rows[3]));
        assert_eq!(cut[0].sha256, sha256_hex(first.as_bytes()));
        let e = one_event_type(&part, Some(&t)).unwrap_err().to_string();
        assert!(e.contains("2 event types (27016, 27015)"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
