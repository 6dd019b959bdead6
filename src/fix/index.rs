//! Where every row of a file is, grouped by order, so `fix` can write each order's rows
//! together without holding the file in memory: 16 bytes per row plus a 128-bit fingerprint
//! of each order's key.

use crate::fast_hash::{PassHash, fingerprint128};
use std::collections::HashMap;

/// No row.
const NONE: u32 = u32::MAX;

/// The top bit of [`Row::len`]: the row's own line break is in the input and is the one the
/// output uses, so it can be copied with the row.
const WHOLE: u32 = 1 << 31;

/// One row: where its bytes are and the next row of its order.
#[derive(Debug, Clone, Copy)]
struct Row {
    offset: u64,
    /// Bytes without the line break; the top bit is [`WHOLE`].
    len: u32,
    next: u32,
}

/// Where a row's bytes are in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// Its first byte.
    pub offset: u64,
    /// Its bytes, without its line break.
    pub len: u64,
    /// Its line break follows it in the input and is the output's.
    pub whole: bool,
}

/// Rows grouped by order, in order of each order's first row.
#[derive(Debug, Default)]
pub struct Index {
    rows: Vec<Row>,
    /// First and last row of each group.
    groups: Vec<(u32, u32)>,
    /// Order key → group.
    keys: HashMap<u128, u32, PassHash>,
    /// The group that took the last row.
    last: Option<u32>,
    /// The key of the last row, when it had one: the next row of the same order needs no
    /// lookup.
    last_key: Option<Vec<u8>>,
    /// Per group: some of its rows were apart from the first ones.
    apart: Vec<bool>,
    /// The current run of rows moves up to an earlier run of its order.
    moving: bool,
    /// Orders whose rows were apart in the input.
    pub regrouped: u64,
    /// Rows that move to join an earlier row of their order.
    pub moved: u64,
}

impl Index {
    /// Adds the row at `place`; rows with the same `key` are grouped, a row without a key is
    /// a group of its own. Fails past 4 billion rows or a 2 GiB row.
    pub fn push(&mut self, place: Place, key: Option<&[u8]>) -> Result<(), String> {
        let id = u32::try_from(self.rows.len())
            .ok()
            .filter(|&i| i != NONE)
            .ok_or("more than 4 billion rows")?;
        let len = u32::try_from(place.len)
            .ok()
            .filter(|&l| l & WHOLE == 0)
            .ok_or("a row larger than 2 GiB")?;
        self.rows.push(Row {
            offset: place.offset,
            len: len | if place.whole { WHOLE } else { 0 },
            next: NONE,
        });
        let fingerprint = match (key, &self.last_key) {
            (Some(k), Some(last)) if k == last.as_slice() => None,
            _ => key.map(fingerprint128),
        };
        let existing = match fingerprint {
            Some(f) => self.keys.get(&f).copied(),
            None if key.is_some() => self.last,
            None => None,
        };
        let group = match existing {
            Some(g) => {
                if self.last != Some(g) {
                    // A later run of an order seen before: it moves up to join it.
                    self.moving = true;
                    if !self.apart[g as usize] {
                        self.apart[g as usize] = true;
                        self.regrouped += 1;
                    }
                }
                self.moved += u64::from(self.moving);
                let tail = self.groups[g as usize].1;
                self.rows[tail as usize].next = id;
                self.groups[g as usize].1 = id;
                g
            }
            None => {
                let g = self.groups.len() as u32;
                self.groups.push((id, id));
                self.apart.push(false);
                if let Some(f) = fingerprint {
                    self.keys.insert(f, g);
                }
                self.moving = false;
                g
            }
        };
        self.last = Some(group);
        match (key, fingerprint) {
            // Same key as the last row's: nothing to copy.
            (Some(_), None) => {}
            (Some(k), Some(_)) => {
                let last = self.last_key.get_or_insert_with(Vec::new);
                last.clear();
                last.extend_from_slice(k);
            }
            (None, _) => self.last_key = None,
        }
        Ok(())
    }

    /// Data rows indexed.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Every row's place, each order's rows together, orders in the order of their first row.
    pub fn in_order(&self) -> impl Iterator<Item = Place> + '_ {
        self.groups.iter().flat_map(move |&(head, _)| {
            let mut at = head;
            std::iter::from_fn(move || {
                if at == NONE {
                    return None;
                }
                let r = self.rows[at as usize];
                at = r.next;
                Some(Place {
                    offset: r.offset,
                    len: u64::from(r.len & !WHOLE),
                    whole: r.len & WHOLE != 0,
                })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(keys: &[&str]) -> Index {
        let mut ix = Index::default();
        for (i, k) in keys.iter().enumerate() {
            let key = (!k.is_empty()).then_some(k.as_bytes());
            let place = Place {
                offset: i as u64 * 10,
                len: 9,
                whole: i % 2 == 0,
            };
            ix.push(place, key).unwrap();
        }
        ix
    }

    fn order(ix: &Index) -> Vec<u64> {
        ix.in_order()
            .inspect(|p| assert_eq!((p.len, p.whole), (9, p.offset % 20 == 0)))
            .map(|p| p.offset / 10)
            .collect()
    }

    #[test]
    fn groups_stably_by_first_occurrence() {
        let ix = index(&["A", "B", "A", "A", "", "C", "B", "A"]);
        assert_eq!(order(&ix), [0, 2, 3, 7, 1, 6, 4, 5]);
        assert_eq!((ix.regrouped, ix.moved), (2, 4));
        assert_eq!(ix.len(), 8);
    }

    #[test]
    fn consecutive_orders_stay_put() {
        let ix = index(&["A", "A", "B", "", "", "C"]);
        assert_eq!(order(&ix), [0, 1, 2, 3, 4, 5]);
        assert_eq!((ix.regrouped, ix.moved), (0, 0));
    }
}
