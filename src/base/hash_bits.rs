//! A bit per hashed member of a set: it may answer "maybe" for a value the
//! set does not hold, never "no" for one it holds. At 1 MiB it stays in
//! cache, so a scan of millions of values that mostly miss a large set
//! tests a bit instead of probing the set (and comparing its values) for
//! each.

/// The bits of a set's hashes (callers hash members and probes alike).
pub struct HashBits(Vec<u64>);

impl HashBits {
    /// log2 of the bits: 2^23 bits are 1 MiB.
    const SHIFT: u32 = 23;

    /// The bits of `hashes`.
    pub fn of(hashes: impl Iterator<Item = u64>) -> HashBits {
        let mut words = vec![0u64; 1 << (Self::SHIFT - 6)];
        for h in hashes {
            let bit = Self::bit(h);
            words[bit / 64] |= 1 << (bit % 64);
        }
        HashBits(words)
    }

    /// `false` only if no member has this hash.
    pub fn may_hold(&self, hash: u64) -> bool {
        let bit = Self::bit(hash);
        self.0[bit / 64] & (1 << (bit % 64)) != 0
    }

    /// The hash's top bits after a multiply by a large odd number
    /// (Fibonacci hashing), so that a hash weak in its high bits spreads.
    fn bit(hash: u64) -> usize {
        (hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - Self::SHIFT)) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_member_may_be_held_and_most_others_are_not() {
        let members: Vec<u64> = (0..10_000u64).map(|n| n * 7919).collect();
        let bits = HashBits::of(members.iter().copied());
        assert!(members.iter().all(|m| bits.may_hold(*m)));
        let strangers = (0..100_000u64).map(|n| n * 7919 + 1).filter(|s| bits.may_hold(*s)).count();
        assert!(strangers < 1_000, "{strangers} of 100000 non-members answered maybe");
    }

    #[test]
    fn an_empty_set_holds_nothing() {
        let bits = HashBits::of(std::iter::empty());
        assert!((0..1000u64).all(|h| !bits.may_hold(h)));
    }
}
