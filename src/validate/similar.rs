//! "Did you mean `X`?" for header typos: edit distance over letters and digits only, so
//! `Order ID`, `order_id` and `OrderID` all find `OrderId`.

/// Longest name compared; longer cells are not typos of a documented column.
const MAX_LEN: usize = 64;

/// The candidate closest to `cell`, if any is close enough to be a likely typo.
pub fn closest<'a>(cell: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let want = normalise(cell);
    if want.is_empty() || want.len() > MAX_LEN {
        return None;
    }
    let limit = match want.len() {
        0..=4 => 1,
        5..=8 => 2,
        _ => 3,
    };
    let mut best: Option<(usize, &str)> = None;
    for cand in candidates {
        let have = normalise(cand);
        if have.len().abs_diff(want.len()) > limit {
            continue;
        }
        let d = distance(&want, &have);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, cand));
            if d == 0 {
                break;
            }
        }
    }
    best.map(|(_, c)| c)
}

fn normalise(s: &str) -> Vec<u8> {
    s.bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_lowercase())
        .collect()
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
fn distance(a: &[u8], b: &[u8]) -> usize {
    let w = b.len() + 1;
    let mut prev2 = vec![0; w];
    let mut prev: Vec<usize> = (0..w).collect();
    let mut cur = vec![0; w];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: &[&str] = &[
        "CampaignId",
        "ActionTrackerId",
        "OrderId",
        "Oid",
        "Sku",
        "Amount",
    ];

    #[test]
    fn finds_typos_and_respellings() {
        let near = |s| closest(s, NAMES.iter().copied());
        assert_eq!(near("ActionTrakerId"), Some("ActionTrackerId"));
        assert_eq!(near("Order ID"), Some("OrderId"));
        assert_eq!(near("order_id"), Some("OrderId"));
        assert_eq!(near("CampiagnId"), Some("CampaignId"));
        assert_eq!(near("Skus"), Some("Sku"));
        assert_eq!(near("Colour"), None);
        assert_eq!(near(""), None);
        assert_eq!(near(&"x".repeat(500)), None);
    }

    #[test]
    fn distance_counts_transpositions_once() {
        assert_eq!(distance(b"abcd", b"abdc"), 1);
        assert_eq!(distance(b"kitten", b"sitting"), 3);
        assert_eq!(distance(b"", b"abc"), 3);
    }
}
