//! The two charts, as inline SVG written here (no chart library): findings by column, and
//! rows by EventDate day with the age cutoffs drawn.

use super::page::{CUTOFFS, esc};
use super::{DAYS_BEFORE, DayCount, Days};
use crate::report::plural;
use crate::values::date::{Day, civil_from_days, format_day};
use std::collections::HashMap;
use std::fmt::Write;

/// Columns drawn; the others are added up in one bar.
const MAX_COLUMNS: usize = 25;
const ERR: &str = "#c62828";
const WARN: &str = "#e0a000";
const INFO: &str = "#1565c0";
const NO_MEDIA: &str = "#3f51b5";
const MEDIA: &str = "#26a69a";

fn short(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// Findings per column as horizontal bars, one colour per severity.
pub fn columns(p: &mut String, columns: &HashMap<String, [u64; 3]>) {
    if columns.is_empty() {
        p.push_str("<p>No finding names a column.</p>\n");
        return;
    }
    let mut bars: Vec<(String, [u64; 3])> = columns.iter().map(|(k, v)| (k.clone(), *v)).collect();
    bars.sort_by(|a, b| {
        let total = |v: &[u64; 3]| v.iter().sum::<u64>();
        total(&b.1).cmp(&total(&a.1)).then(a.0.cmp(&b.0))
    });
    if bars.len() > MAX_COLUMNS {
        let rest = bars.split_off(MAX_COLUMNS - 1);
        let mut sum = [0; 3];
        for (_, v) in &rest {
            for i in 0..3 {
                sum[i] += v[i];
            }
        }
        bars.push((format!("{} other columns", rest.len()), sum));
    }
    let max = bars
        .iter()
        .map(|b| b.1.iter().sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let (label, area, row) = (200.0, 420.0, 22.0);
    let height = row * bars.len() as f64 + 28.0;
    let _ = writeln!(
        p,
        "<svg class=\"chart columns\" role=\"img\" aria-label=\"findings by column\" viewBox=\"0 0 720 {height}\" width=\"720\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    for (i, (name, v)) in bars.iter().enumerate() {
        let y = 4.0 + row * i as f64;
        let total: u64 = v.iter().sum();
        let _ = write!(
            p,
            "<g class=\"bar\" data-column=\"{}\" data-count=\"{total}\"><title>{}: {}, {}, {}</title>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            esc(name),
            esc(name),
            plural(v[0], "error"),
            plural(v[1], "warning"),
            plural(v[2], "info"),
            label - 8.0,
            y + 14.0,
            esc(&short(name, 30))
        );
        let mut x = label;
        for (n, colour) in v.iter().zip([ERR, WARN, INFO]) {
            if *n == 0 {
                continue;
            }
            let w = (*n as f64 / max * area).max(1.0);
            let _ = write!(
                p,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{}\" fill=\"{colour}\"/>",
                row - 6.0
            );
            x += w;
        }
        let _ = writeln!(
            p,
            "<text x=\"{:.1}\" y=\"{:.1}\">{total}</text></g>",
            x + 6.0,
            y + 14.0
        );
    }
    let y = height - 8.0;
    let _ = writeln!(
        p,
        "<g class=\"legend\"><rect x=\"{label}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{ERR}\"/><text x=\"{}\" y=\"{y:.1}\">errors</text>\
         <rect x=\"{}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{WARN}\"/><text x=\"{}\" y=\"{y:.1}\">warnings</text>\
         <rect x=\"{}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{INFO}\"/><text x=\"{}\" y=\"{y:.1}\">infos</text></g>\n</svg>",
        y - 9.0,
        label + 14.0,
        label + 70.0,
        y - 9.0,
        label + 84.0,
        label + 150.0,
        y - 9.0,
        label + 164.0,
    );
}

/// Rows per EventDate day, stacked without and with a MediaId, with the 88- and 398-day
/// cutoffs and the as-of date drawn as lines.
pub fn days(p: &mut String, d: &Days, as_of: Day) {
    let idx = |day: Day| (day - as_of + DAYS_BEFORE) as usize;
    let used = |c: &DayCount| c[0] + c[1] > 0;
    let (Some(first), Some(last)) = (
        d.window.iter().position(used),
        d.window.iter().rposition(used),
    ) else {
        let _ = writeln!(
            p,
            "<p>No row has an EventDate inside the chart's range ({} rows before, {} after, {} without a date that can be read).</p>",
            d.older[0] + d.older[1],
            d.later[0] + d.later[1],
            d.undated
        );
        return;
    };
    let lo = first.min(idx(as_of - CUTOFFS[1].0 - 14));
    let hi = last.max(idx(as_of + 1));
    let n = (hi - lo + 1) as f64;
    let (left, top, w, h) = (48.0, 28.0, 650.0, 180.0);
    let bw = w / n;
    let max = d.window[lo..=hi]
        .iter()
        .map(|c| c[0] + c[1])
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let x_of = |i: usize| left + (i - lo) as f64 * bw;
    let y_of = |v: f64| top + h - v / max * h;
    let _ = writeln!(
        p,
        "<svg class=\"chart days\" role=\"img\" aria-label=\"rows by EventDate day\" viewBox=\"0 0 720 270\" width=\"720\" height=\"270\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    // The ages that fail, shaded.
    let (x88, x398) = (
        x_of(idx(as_of - CUTOFFS[0].0)),
        x_of(idx(as_of - CUTOFFS[1].0)),
    );
    let _ = writeln!(
        p,
        "<rect x=\"{left}\" y=\"{top}\" width=\"{:.1}\" height=\"{h}\" fill=\"#fdecea\"/><rect x=\"{x398:.1}\" y=\"{top}\" width=\"{:.1}\" height=\"{h}\" fill=\"#fff6e5\"/>",
        (x398 - left).max(0.0),
        x88 - x398
    );
    let _ = writeln!(
        p,
        "<line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text>",
        top + h,
        left + w,
        top + h,
        left - 4.0,
        top + 8.0,
        max as u64,
        left - 4.0,
        top + h
    );
    p.push_str("<g class=\"bars\">");
    for i in lo..=hi {
        let c = d.window[i];
        if !used(&c) {
            continue;
        }
        let x = x_of(i);
        let day = as_of + i as i64 - DAYS_BEFORE;
        let _ = write!(
            p,
            "<g data-day=\"{}\"><title>{}: {} without a MediaId, {} with one</title>",
            format_day(day),
            format_day(day),
            c[0],
            c[1]
        );
        let (y0, y1) = (y_of(c[0] as f64), y_of((c[0] + c[1]) as f64));
        let bar = bw.max(1.0);
        if c[0] > 0 {
            let _ = write!(
                p,
                "<rect class=\"nomedia\" x=\"{x:.2}\" y=\"{y0:.1}\" width=\"{bar:.2}\" height=\"{:.1}\" fill=\"{NO_MEDIA}\"/>",
                top + h - y0
            );
        }
        if c[1] > 0 {
            let _ = write!(
                p,
                "<rect class=\"media\" x=\"{x:.2}\" y=\"{y1:.1}\" width=\"{bar:.2}\" height=\"{:.1}\" fill=\"{MEDIA}\"/>",
                y0 - y1
            );
        }
        p.push_str("</g>");
    }
    p.push_str("</g>\n");
    // Month ticks (every other month over a long range).
    let step = if n > 400.0 { 2 } else { 1 };
    let mut month = 0;
    for i in lo..=hi {
        let day = as_of + i as i64 - DAYS_BEFORE;
        let (y, m, dd) = civil_from_days(day);
        if dd != 1 {
            continue;
        }
        month += 1;
        if month % step != 0 {
            continue;
        }
        let x = x_of(i);
        let _ = write!(
            p,
            "<line x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#999\"/><text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{y}-{m:02}</text>",
            top + h,
            top + h + 4.0,
            top + h + 16.0
        );
    }
    for (age, what) in CUTOFFS {
        let x = x_of(idx(as_of - age));
        // The 88-day label left of its line (the as-of day is close on its right).
        let first_cut = age == CUTOFFS[0].0;
        let anchor = if first_cut { "end" } else { "start" };
        let _ = writeln!(
            p,
            "<g class=\"cutoff\" data-days=\"{age}\"><line x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"{ERR}\" stroke-width=\"2\" stroke-dasharray=\"5 3\"/>\
             <text x=\"{:.1}\" y=\"{}\" fill=\"{ERR}\" text-anchor=\"{anchor}\">{age} days: {what}</text></g>",
            top - 14.0,
            top + h,
            if first_cut { x - 4.0 } else { x + 4.0 },
            top - 16.0,
        );
    }
    let x = x_of(idx(as_of)) + bw;
    let _ = writeln!(
        p,
        "<line class=\"asof\" x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#333\" stroke-dasharray=\"2 2\"/>",
        top + h
    );
    let ly = top + h + 40.0;
    let _ = writeln!(
        p,
        "<g class=\"legend\"><rect x=\"{left}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{NO_MEDIA}\"/><text x=\"{}\" y=\"{ly}\">rows without a MediaId</text>\
         <rect x=\"{}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{MEDIA}\"/><text x=\"{}\" y=\"{ly}\">with a MediaId or MediaPartnerId</text>\
         <line x1=\"{}\" y1=\"{:.1}\" x2=\"{}\" y2=\"{ly}\" stroke=\"#333\" stroke-dasharray=\"2 2\"/><text x=\"{}\" y=\"{ly}\">as of {}</text></g>\n</svg>",
        ly - 9.0,
        left + 14.0,
        left + 160.0,
        ly - 9.0,
        left + 174.0,
        left + 380.0,
        ly - 10.0,
        left + 380.0,
        left + 386.0,
        format_day(as_of)
    );
    // The same, in words (exact counts).
    let mut too_old = 0;
    let mut expired = d.older[0] + d.older[1];
    for (i, c) in d.window.iter().enumerate() {
        let age = DAYS_BEFORE - i as i64;
        if age > CUTOFFS[1].0 {
            expired += c[0] + c[1];
        } else if age > CUTOFFS[0].0 {
            too_old += c[0];
        }
    }
    let _ = write!(
        p,
        "<p class=\"ages\"><span id=\"too-old\">{}</span> without a MediaId more than {} days old; \
         <span id=\"expired\">{}</span> more than {} days old",
        plural(too_old, "row"),
        CUTOFFS[0].0,
        plural(expired, "row"),
        CUTOFFS[1].0,
    );
    let (before, after) = (d.older[0] + d.older[1], d.later[0] + d.later[1]);
    if before > 0 {
        let _ = write!(
            p,
            "; {before} before {} (not drawn)",
            format_day(as_of - DAYS_BEFORE)
        );
    }
    if after > 0 {
        let _ = write!(
            p,
            "; {after} after {} (not drawn)",
            format_day(as_of + super::DAYS_AFTER)
        );
    }
    if d.undated > 0 {
        let _ = write!(p, "; {} without an EventDate that can be read", d.undated);
    }
    p.push_str(".</p>\n");
}
