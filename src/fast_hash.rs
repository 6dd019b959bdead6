//! A fast hash for order keys. Keys are the user's own data, so speed matters more than
//! resistance to crafted collisions.

use std::hash::{BuildHasherDefault, Hasher};

/// Builds [`FxHasher`]s, for `HashMap`s and `HashSet`s keyed by order keys.
pub type FastHash = BuildHasherDefault<FxHasher>;

/// The FxHash function: keys are the user's own data, so speed matters more than resistance
/// to crafted collisions.
#[derive(Default)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let word = u64::from_le_bytes(c.try_into().unwrap_or_default());
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        // The multiply leaves the low bits (which pick the bucket) weak for keys that differ
        // only in their last digits, like ORD-100001, ORD-100002, …: mix them in (murmur3's
        // finaliser). Without this, 300k such keys take seconds instead of milliseconds.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// A second, independent 64-bit hash (another multiplier and rotation), for fingerprints.
fn other_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let word = u64::from_le_bytes(c.try_into().unwrap_or_default());
        h = (h.rotate_left(23) ^ word).wrapping_mul(K);
    }
    for &b in chunks.remainder() {
        h = (h.rotate_left(23) ^ u64::from(b)).wrapping_mul(K);
    }
    h ^= h >> 29;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^ (h >> 32)
}

/// A 128-bit fingerprint of `key` (two independent 64-bit hashes): two different keys share
/// one with a chance of about 10^-25 among ten million keys.
pub fn fingerprint128(key: &[u8]) -> u128 {
    let mut a = FxHasher::default();
    a.write(key);
    (u128::from(a.finish()) << 64) | u128::from(other_hash(key))
}

/// Builds [`Pass`] hashers, for maps keyed by fingerprints.
pub type PassHash = BuildHasherDefault<Pass>;

/// Remembers keys by a 96-bit fingerprint and a line number in 16 bytes each, instead of a
/// copy of every key: memory per order stays small however long the keys are. Two different
/// keys with the same fingerprint (about one chance in 10^15 among 10 million keys) would be
/// taken for one.
pub struct KeySet {
    /// First 64 bits → (the next 32 bits, line), in [`SHARDS`] tables picked by bits of the
    /// fingerprint that the tables themselves do not use. A table that grows holds its old and
    /// new copies at once for a moment: with many small tables, that moment costs 1/64 of the
    /// memory, not all of it again.
    main: Box<[Shard]>,
    /// The rare keys whose first 64 bits equal another key's.
    overflow: std::collections::HashMap<(u64, u32), u32, FastHash>,
}

type Shard = std::collections::HashMap<u64, [u32; 2], BuildHasherDefault<Pass>>;

const SHARDS: usize = 64;

impl Default for KeySet {
    fn default() -> Self {
        KeySet {
            main: (0..SHARDS).map(|_| Shard::default()).collect(),
            overflow: Default::default(),
        }
    }
}

impl KeySet {
    /// The table for fingerprint `hi`. hashbrown picks buckets with the low bits and tags
    /// with the top seven, so the shard comes from bits 48–53.
    fn shard(&self, hi: u64) -> &Shard {
        &self.main[(hi >> 48) as usize % SHARDS]
    }

    fn shard_mut(&mut self, hi: u64) -> &mut Shard {
        &mut self.main[(hi >> 48) as usize % SHARDS]
    }

    fn fingerprint(key: &[u8]) -> (u64, u32) {
        let mut a = FxHasher::default();
        a.write(key);
        (a.finish(), other_hash(key) as u32)
    }

    /// The line recorded for `key`.
    pub fn get(&self, key: &[u8]) -> Option<u64> {
        let (hi, lo) = Self::fingerprint(key);
        match self.shard(hi).get(&hi) {
            Some(&[l, line]) if l == lo => Some(u64::from(line)),
            Some(_) => self.overflow.get(&(hi, lo)).map(|&line| u64::from(line)),
            None => None,
        }
    }

    /// Records `key` at `line` (lines past 2^32 are stored as the largest u32), unless it is
    /// there already.
    pub fn insert(&mut self, key: &[u8], line: u64) {
        let (hi, lo) = Self::fingerprint(key);
        let line = u32::try_from(line).unwrap_or(u32::MAX);
        match self.shard(hi).get(&hi) {
            None => {
                self.shard_mut(hi).insert(hi, [lo, line]);
            }
            Some(&[l, _]) if l == lo => {}
            Some(_) => {
                self.overflow.entry((hi, lo)).or_insert(line);
            }
        }
    }

    /// The line recorded for `key`; or, when there is none, records `key` at `line` (past
    /// 2^32 lines: the largest u32). One lookup instead of [`KeySet::get`] then
    /// [`KeySet::insert`]: the table is far larger than the CPU's caches, so each lookup is
    /// a likely cache miss.
    pub fn get_or_insert(&mut self, key: &[u8], line: u64) -> Option<u64> {
        use std::collections::hash_map::Entry;
        let (hi, lo) = Self::fingerprint(key);
        let line = u32::try_from(line).unwrap_or(u32::MAX);
        let first = match self.shard_mut(hi).entry(hi) {
            Entry::Vacant(v) => {
                v.insert([lo, line]);
                return None;
            }
            Entry::Occupied(o) => *o.get(),
        };
        if first[0] == lo {
            return Some(u64::from(first[1]));
        }
        match self.overflow.entry((hi, lo)) {
            Entry::Occupied(o) => Some(u64::from(*o.get())),
            Entry::Vacant(v) => {
                v.insert(line);
                None
            }
        }
    }

    /// Keys recorded.
    pub fn len(&self) -> usize {
        self.main.iter().map(Shard::len).sum::<usize>() + self.overflow.len()
    }

    /// True when no key was recorded.
    pub fn is_empty(&self) -> bool {
        self.main.iter().all(Shard::is_empty)
    }
}

/// Hashes a `u64` that is already a good hash by passing it through.
#[derive(Default)]
pub struct Pass(u64);

impl Hasher for Pass {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64 ^ (n >> 64) as u64;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn a_key_set_remembers_lines_and_tells_keys_apart() {
        let mut set = KeySet::default();
        for i in 0..100_000u64 {
            set.insert(
                format!("ActionTrackerId=27015\x1fORD-{i}").as_bytes(),
                i + 2,
            );
        }
        assert_eq!(set.len(), 100_000);
        assert_eq!(set.get(b"ActionTrackerId=27015\x1fORD-7"), Some(9));
        assert_eq!(set.get(b"ActionTrackerId=27015\x1fORD-100000"), None);
        set.insert(b"ActionTrackerId=27015\x1fORD-7", 500);
        assert_eq!(
            set.get(b"ActionTrackerId=27015\x1fORD-7"),
            Some(9),
            "the first line stays"
        );
        // Keys that share their first 64 bits still count as two.
        let (hi, lo) = KeySet::fingerprint(b"a");
        set.shard_mut(hi).insert(hi, [lo ^ 1, 77]);
        set.insert(b"a", 3);
        assert_eq!(set.get(b"a"), Some(3));
        // One lookup that inserts when the key is new, and reports the first line otherwise.
        assert_eq!(set.get_or_insert(b"new", 40), None);
        assert_eq!(set.get_or_insert(b"new", 41), Some(40));
        assert_eq!(set.get_or_insert(b"a", 42), Some(3));
        let (hi, lo) = KeySet::fingerprint(b"b");
        set.shard_mut(hi).insert(hi, [lo ^ 1, 78]);
        assert_eq!(
            set.get_or_insert(b"b", 43),
            None,
            "a twin's 64 bits are not a match"
        );
        assert_eq!(set.get_or_insert(b"b", 44), Some(43));
    }

    #[test]
    fn keys_differing_in_their_last_digits_spread_over_buckets() {
        let build = FastHash::default();
        const N: u64 = 1 << 18;
        let buckets: std::collections::HashSet<u64> = (0..N)
            .map(|i| build.hash_one(format!("ActionTrackerId=27015\x1fORD-{i}").as_bytes()) % N)
            .collect();
        // A uniform hash fills about 63% of N buckets with N keys (165,000); plain FxHash
        // fills 84,000, and lookups slow down twentyfold.
        assert!(buckets.len() > 150_000, "{} buckets used", buckets.len());
    }
}
