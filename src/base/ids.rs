//! Identifiers of the domain: entity ids (unified social credit codes), person
//! ids, and the as-of date of a run. Code past the loaders never holds a bare
//! string where one of these is meant.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

use crate::base::error::{Classify, ErrorKind};

/// The 31 characters of a unified social credit code, in ASCII order (so the
/// index order of two ids is their byte order).
pub const ENTITY_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weights of positions 1..17 in the check character (3^i mod 31).
const ENTITY_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

const NOT_IN_ALPHABET: u8 = 255;

// A character outside the alphabet sets a bit above its indexes (0 to 30),
// which the packing and the check character test once per id.
const _: () = assert!(NOT_IN_ALPHABET & !31 != 0);

const fn alphabet_index_table() -> [u8; 256] {
    let mut table = [NOT_IN_ALPHABET; 256];
    let mut i = 0;
    while i < ENTITY_ALPHABET.len() {
        table[ENTITY_ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
}

static ALPHABET_INDEX: [u8; 256] = alphabet_index_table();

/// The check character for the first 17 characters of an entity id, or
/// `None` when one of them is outside the alphabet.
pub fn entity_check_char(first17: &[u8]) -> Option<u8> {
    let first17: &[u8; 17] = first17.try_into().ok()?;
    // One pass without a branch per character: a character outside the
    // alphabet sets a bit no character in it has.
    let (mut sum, mut bad) = (0u32, 0u8);
    for (c, w) in first17.iter().zip(ENTITY_WEIGHTS) {
        let v = ALPHABET_INDEX[*c as usize];
        bad |= v;
        sum += (v & 31) as u32 * w;
    }
    (bad & !31 == 0).then(|| ENTITY_ALPHABET[((31 - sum % 31) % 31) as usize])
}

/// Whether `s` is a valid 18-character unified social credit code.
pub fn is_entity_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 18 && entity_check_char(&b[..17]) == Some(b[17])
}

/// Whether `s` is `P` followed by 16 lowercase hex digits.
pub fn is_person_id(s: &str) -> bool {
    person_bits(s).is_some()
}

/// The value of each lowercase hex digit; anything else is not one.
static HEX_VALUE: [u8; 256] = {
    let mut table = [NOT_IN_ALPHABET; 256];
    let mut i = 0;
    while i < 16 {
        table[b"0123456789abcdef"[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// The number a person id's 16 hex digits spell, in one pass over them.
fn person_bits(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 17 || b[0] != b'P' {
        return None;
    }
    let mut bits = 0u64;
    let mut bad = 0u8;
    for c in &b[1..] {
        let v = HEX_VALUE[*c as usize];
        bad |= v;
        bits = (bits << 4) | (v & 0xf) as u64;
    }
    (bad & 0xf0 == 0).then_some(bits)
}

/// Whether `s` is exactly six ASCII digits (region and authority codes).
pub fn is_six_digits(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|c| c.is_ascii_digit())
}

/// A valid unified social credit code, packed into 90 bits (5 per character,
/// first character most significant) so that the integer order is the
/// byte order of the text.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityId(u128);

impl EntityId {
    /// Parses and checks an entity id, check character included.
    pub fn parse(s: &str) -> Option<EntityId> {
        if !is_entity_id(s) {
            return None;
        }
        Some(Self::pack(s.as_bytes()))
    }

    /// Packs 18 characters of the alphabet without checking the check
    /// character; `None` for any other text.
    pub fn pack_unchecked(s: &str) -> Option<EntityId> {
        let b: &[u8; 18] = s.as_bytes().try_into().ok()?;
        // Each half of the 90 bits in a machine word, in one pass without
        // a branch per character ([`entity_check_char`]'s test).
        let (mut high, mut low, mut bad) = (0u64, 0u64, 0u8);
        for (c, d) in b[..9].iter().zip(&b[9..]) {
            let (u, v) = (ALPHABET_INDEX[*c as usize], ALPHABET_INDEX[*d as usize]);
            bad |= u | v;
            high = (high << 5) | (u & 31) as u64;
            low = (low << 5) | (v & 31) as u64;
        }
        (bad & !31 == 0).then_some(EntityId(((high as u128) << 45) | low as u128))
    }

    fn pack(b: &[u8]) -> EntityId {
        let mut v = 0u128;
        for c in b {
            v = (v << 5) | ALPHABET_INDEX[*c as usize] as u128;
        }
        EntityId(v)
    }

    /// Builds a valid id from its first 17 characters by appending the check
    /// character; `None` when a character is outside the alphabet.
    pub fn with_check_char(first17: &str) -> Option<EntityId> {
        let check = entity_check_char(first17.as_bytes())?;
        let mut b = first17.as_bytes().to_vec();
        b.push(check);
        Some(Self::pack(&b))
    }

    /// The id of a packed value made by [`EntityId::bits`].
    pub fn from_bits(bits: u128) -> EntityId {
        EntityId(bits)
    }

    /// The packed 90-bit value; its integer order is the text order.
    pub fn bits(self) -> u128 {
        self.0
    }

    /// The 18 characters of the id.
    pub fn to_bytes(self) -> [u8; 18] {
        let mut out = [0u8; 18];
        for (i, slot) in out.iter_mut().enumerate() {
            let shift = 5 * (17 - i);
            *slot = ENTITY_ALPHABET[((self.0 >> shift) & 31) as usize];
        }
        out
    }
}

/// A person id (`P` and 16 lowercase hex digits) as the 64-bit number its
/// digits spell: 8 bytes instead of 17 of text, in the same order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PersonId(u64);

impl PersonId {
    pub fn parse(s: &str) -> Option<PersonId> {
        person_bits(s).map(PersonId)
    }

    pub fn bits(self) -> u64 {
        self.0
    }

    pub fn from_bits(bits: u64) -> PersonId {
        PersonId(bits)
    }

    /// The id's text as bytes.
    pub fn to_bytes(self) -> [u8; 17] {
        let mut out = [b'P'; 17];
        for (i, b) in out[1..].iter_mut().enumerate() {
            *b = b"0123456789abcdef"[((self.0 >> (60 - 4 * i)) & 0xf) as usize];
        }
        out
    }
}

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.to_bytes()).expect("hex is ASCII"))
    }
}

impl fmt::Debug for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonId({self})")
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.to_bytes();
        f.write_str(std::str::from_utf8(&b).expect("alphabet is ASCII"))
    }
}

impl fmt::Debug for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntityId({self})")
    }
}

impl FromStr for EntityId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        EntityId::parse(s).ok_or_else(|| IdError::Entity(s.to_string()))
    }
}

/// A malformed identifier given on the command line or in a configuration.
#[derive(Debug, thiserror::Error)]
pub enum IdError {
    #[error(
        "'{0}' is not a valid entity id (18 characters of 0-9 A-H J-N P-R T U W-Y with a correct check character)"
    )]
    Entity(String),
    #[error("'{0}' is not a date of the form YYYY-MM-DD")]
    Date(String),
}

impl Classify for IdError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Input
    }
}

/// Days from 0001-01-01 (chrono's day 1) to 1970-01-01, the Arrow Date32 epoch.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// The date a run is "as of": it reads partitions with `ingest_date <= D`
/// and ages records against it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AsOf(NaiveDate);

impl AsOf {
    pub fn new(date: NaiveDate) -> AsOf {
        AsOf(date)
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }

    /// Days since 1970-01-01, the Arrow Date32 value of this date.
    pub fn days_since_epoch(self) -> i32 {
        date_to_days(self.0)
    }

    /// The date of an Arrow Date32 value; `None` outside the dates chrono
    /// can represent.
    pub fn from_days_since_epoch(days: i32) -> Option<AsOf> {
        days_to_date(days).map(AsOf)
    }

    /// The date `n` days later (earlier when negative).
    pub fn plus_days(self, n: i64) -> AsOf {
        AsOf(self.0 + chrono::Duration::days(n))
    }
}

/// Arrow Date32 value (days since 1970-01-01) of a calendar date.
pub fn date_to_days(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

/// Calendar date of an Arrow Date32 value; `None` for a value outside the
/// dates chrono can represent (a hostile file can hold any i32).
pub fn days_to_date(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(UNIX_EPOCH_DAYS_FROM_CE)?)
}

/// Parses exactly `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

impl fmt::Display for AsOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl fmt::Debug for AsOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AsOf({self})")
    }
}

impl serde::Serialize for AsOf {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for AsOf {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        parse_date(s).map(AsOf).ok_or_else(|| IdError::Date(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_entity_id_is_valid() {
        assert!(is_entity_id("91350100M000100Y43"));
        assert!(!is_entity_id("91350100M000100Y44"), "wrong check character");
        assert!(!is_entity_id("91350100M000100Y4"), "17 characters");
        assert!(!is_entity_id("91350100I000100Y43"), "I is not in the alphabet");
        assert!(!is_entity_id("91350100m000100Y43"), "lowercase is not in the alphabet");
    }

    #[test]
    fn packing_without_the_check_is_packing_every_character_in_order() {
        for text in ["91350100M000100Y43", "000000000000000000", "YYYYYYYYYYYYYYYYYY", "0123456789ABCDEFGH"] {
            assert_eq!(EntityId::pack_unchecked(text), Some(EntityId::pack(text.as_bytes())), "{text}");
        }
        for at in 0..18 {
            for stranger in ["I", "O", "Z", "a", " ", "\u{0}", "é"] {
                let mut text = "91350100M000100Y43".to_string();
                text.replace_range(at..at + 1, stranger);
                assert_eq!(EntityId::pack_unchecked(&text), None, "{text:?}");
                if at < 17 {
                    assert_eq!(entity_check_char(&text.as_bytes()[..17]), None, "{text:?}");
                }
            }
        }
        assert_eq!(EntityId::pack_unchecked("91350100M000100Y4"), None, "17 characters");
        assert_eq!(EntityId::pack_unchecked("91350100M000100Y433"), None, "19 characters");
        assert_eq!(entity_check_char(b"91350100M000100Y"), None, "16 characters");
    }

    #[test]
    fn check_char_completes_an_id() {
        let id = EntityId::with_check_char("91350100M000100Y4").unwrap();
        assert_eq!(id.to_string(), "91350100M000100Y43");
        assert_eq!(EntityId::parse("91350100M000100Y43"), Some(id));
    }

    #[test]
    fn packed_order_is_text_order() {
        let mut texts: Vec<String> =
            ["91350100M000100Y4", "91350100MA00100Y4", "11000000000000000", "9Y350100M000100Y4"]
                .iter()
                .map(|p| EntityId::with_check_char(p).unwrap().to_string())
                .collect();
        let mut packed: Vec<EntityId> = texts.iter().map(|t| EntityId::parse(t).unwrap()).collect();
        texts.sort();
        packed.sort();
        let back: Vec<String> = packed.iter().map(|p| p.to_string()).collect();
        assert_eq!(back, texts);
    }

    /// datasets.md: `region` and `authority` are six digits: no more, no
    /// fewer, ASCII only.
    #[test]
    fn six_digits_are_exactly_six_ascii_digits() {
        assert!(is_six_digits("650100") && is_six_digits("000000"));
        for bad in ["", "65010", "6501001", "65010a", "65 100", "６５０１００", "-65010"] {
            assert!(!is_six_digits(bad), "{bad:?}");
        }
    }

    #[test]
    fn person_ids() {
        assert!(is_person_id("P0a1b2c3d4e5f6a7b"));
        assert!(!is_person_id("P0A1B2C3D4E5F6A7B"), "uppercase hex");
        assert!(!is_person_id("Q0a1b2c3d4e5f6a7b"));
        assert!(!is_person_id("P0a1b2c3d4e5f6a7"));
        assert!(!is_person_id("P0a1b2c3d4e5f6a7g"), "g is not hex");
        assert!(!is_person_id("P0a1b2c3d4e5f6a\u{e9}"), "17 bytes, not 16 hex digits");
        assert!(!is_person_id("P+a1b2c3d4e5f6a7b"), "a sign is not a digit");
    }

    #[test]
    fn packed_person_ids_give_back_their_text_in_text_order() {
        let texts = ["P0000000000000000", "P0a1b2c3d4e5f6a7b", "P0a1b2c3d4e5f6a80", "Pffffffffffffffff"];
        let packed: Vec<PersonId> = texts.iter().map(|t| PersonId::parse(t).unwrap()).collect();
        assert_eq!(packed.iter().map(|p| p.to_string()).collect::<Vec<_>>(), texts);
        assert!(packed.windows(2).all(|w| w[0] < w[1]), "the order of the texts");
        assert_eq!(PersonId::parse("P0A1B2C3D4E5F6A7B"), None);
        assert_eq!(PersonId::parse("0a1b2c3d4e5f6a7b"), None);
    }

    #[test]
    fn dates_round_trip_through_date32() {
        let d: AsOf = "2026-11-27".parse().unwrap();
        assert_eq!(AsOf::from_days_since_epoch(d.days_since_epoch()), Some(d));
        assert_eq!(days_to_date(i32::MAX), None, "far outside chrono's range");
        assert_eq!(days_to_date(i32::MIN), None);
        assert_eq!(date_to_days(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()), 0);
        assert!("2026-02-30".parse::<AsOf>().is_err());
        assert!("2026-1-01".parse::<AsOf>().is_err());
    }
}
