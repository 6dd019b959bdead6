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
        let prefix = if holds_date(&stem) {
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

    /// The rejects file.
    pub fn rejects(&self) -> String {
        format!("{}.rejects.csv", self.stem)
    }
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
        assert_eq!(Names::new("<stdin>", day).stem(), "stdin");
        assert_eq!(Names::new(".hidden", day).stem(), ".hidden");
        assert_eq!(Names::new("a.b.csv", day).stem(), "a.b");
    }
}
