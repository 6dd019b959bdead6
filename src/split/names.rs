//! Output file names: deterministic, and dated as impact.com asks for identifiable names.

use crate::values::date::{Day, format_day};

/// How the files written for one input are named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// `2026-06-30_` when the stem holds no date, else empty.
    prefix: String,
    /// The input's file name without its extension.
    stem: String,
}

impl Names {
    /// Names for the input called `input` (a path, or `<stdin>`), split as of `as_of`.
    pub fn new(input: &str, as_of: Day) -> Names {
        let stem = if input == crate::input::STDIN_NAME {
            "stdin".to_string()
        } else {
            let file = std::path::Path::new(input)
                .file_name()
                .map_or_else(|| input.to_string(), |f| f.to_string_lossy().into_owned());
            match file.rfind('.') {
                Some(i) if i > 0 => file[..i].to_string(),
                _ => file,
            }
        };
        // A dated stem keeps its name, unless impact.com would ignore it: a name starting
        // with `receipt_` or `result_` is theirs (facts §4.2), so it gets the date first.
        let prefix = if holds_date(&stem) && reserved(&stem).is_none() {
            String::new()
        } else {
            format!("{}_", format_day(as_of))
        };
        Names { prefix, stem }
    }

    /// The stem outputs are grouped by.
    pub fn stem(&self) -> &str {
        &self.stem
    }

    /// Part `n` (1-based) of `total`.
    pub fn part(&self, n: usize, total: usize) -> String {
        if total == 1 {
            format!("{}{}.csv", self.prefix, self.stem)
        } else {
            format!("{}{}_part{n:03}.csv", self.prefix, self.stem)
        }
    }

    /// Why the parts' names do not start as the input's does, when it starts with a prefix
    /// impact.com reserves: a line for people.
    pub fn renamed(&self) -> Option<String> {
        let prefix = reserved(&self.stem)?;
        Some(format!(
            "{}: its parts are named {}{}…: impact.com ignores files whose names start with `{prefix}`",
            self.stem, self.prefix, self.stem
        ))
    }

    /// The rejects file.
    pub fn rejects(&self) -> String {
        format!("{}.rejects.csv", self.stem)
    }
}

/// The prefixes of the names impact.com keeps for its own receipt and result files and
/// ignores in what it is sent, in any case.
const RESERVED: [&str; 2] = ["receipt_", "result_"];

/// The reserved prefix `stem` starts with, if any.
fn reserved(stem: &str) -> Option<&'static str> {
    RESERVED.into_iter().find(|p| {
        stem.get(..p.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(p))
    })
}

/// True when `s` holds `YYYY-MM-DD`.
fn holds_date(s: &str) -> bool {
    s.as_bytes().windows(10).any(|w| {
        w.iter().enumerate().all(|(i, &b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::date::parse_day;

    #[test]
    fn dated_unless_the_stem_has_a_date() {
        let day = parse_day("2026-11-22").unwrap();
        let n = Names::new("exports/orders.csv", day);
        assert_eq!(n.part(1, 1), "2026-11-22_orders.csv");
        assert_eq!(n.part(2, 3), "2026-11-22_orders_part002.csv");
        assert_eq!(n.rejects(), "orders.rejects.csv");
        let n = Names::new("orders-2026-11-01.csv", day);
        assert_eq!(n.part(1, 2), "orders-2026-11-01_part001.csv");
        assert_eq!(Names::new("-", day).stem(), "-");
        assert_eq!(Names::new("orders.csv", day).renamed(), None);
        assert_eq!(Names::new("<stdin>", day).stem(), "stdin");
        assert_eq!(Names::new(".hidden", day).stem(), ".hidden");
        assert_eq!(Names::new("a.b.csv", day).stem(), "a.b");
    }

    #[test]
    fn a_reserved_name_never_starts_a_part() {
        let day = parse_day("2026-12-04").unwrap();
        for input in [
            "result_2026-12-01.csv",
            "RECEIPT_2026-12-01.csv",
            "result_2026-12.csv",
        ] {
            let n = Names::new(input, day);
            for name in [n.part(1, 1), n.part(1, 2)] {
                assert!(name.starts_with("2026-12-04_"), "{name}");
            }
            assert!(
                n.renamed().unwrap().contains("impact.com ignores"),
                "{input}"
            );
        }
        // Only a prefix is reserved.
        let n = Names::new("my_result_2026-12-01.csv", day);
        assert_eq!(n.part(1, 1), "my_result_2026-12-01.csv");
        assert_eq!(n.renamed(), None);
    }
}
