//! Part names at the destination: a part's name, or a variant of it (`x.2.csv` … `x.99.csv`)
//! when the name is used already — within the run, or at the destination by other bytes.

use super::part::PartFile;

/// How many names a part may try at the destination (its own, then `.2` … `.99`).
pub const MAX_VARIANTS: u32 = 99;

/// Variant `n` of a part's name: the name itself for 1, else `n` before its extension
/// (`2026-06-30_orders_part001.2.csv`).
pub fn variant(name: &str, n: u32) -> String {
    if n <= 1 {
        return name.to_string();
    }
    match name.rfind('.') {
        Some(i) if i > 0 => format!("{}.{n}{}", &name[..i], &name[i..]),
        _ => format!("{name}.{n}"),
    }
}

/// Makes every part's name unique within the run (two inputs with one stem, or standard
/// input beside a file called `stdin.csv`): a repeated name gets the first free
/// [`variant`], in input order, so the same inputs get the same names on every run.
pub fn unique_names(parts: &mut [PartFile]) {
    let mut used = std::collections::HashSet::new();
    for part in parts {
        let base = part.name.clone();
        let mut n = 1;
        while used.contains(&variant(&base, n)) {
            n += 1;
        }
        part.name = variant(&base, n);
        used.insert(part.name.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_go_before_the_extension() {
        assert_eq!(variant("a.csv", 1), "a.csv");
        assert_eq!(variant("a.csv", 2), "a.2.csv");
        assert_eq!(variant("noext", 3), "noext.3");
        assert_eq!(variant(".hidden", 2), ".hidden.2");
    }
}
