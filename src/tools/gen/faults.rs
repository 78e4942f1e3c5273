//! Rows that break each rule of datasets.md, for generating a landing zone
//! with bad input (`--bad-rate`).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::base::ids::{EntityId, ENTITY_ALPHABET};

use super::tables::{s, Nights, V};
use super::world::{stream, World, S_BAD};

/// The id with its check character replaced by a wrong one.
pub(super) fn wrong_check_char(id: &str) -> String {
    let last = id.as_bytes()[17];
    let at = ENTITY_ALPHABET.iter().position(|c| *c == last).expect("valid id");
    format!("{}{}", &id[..17], ENTITY_ALPHABET[(at + 1) % 31] as char)
}

/// Adds rows that break each rule of datasets.md, about `bad_rate` of the
/// rows of each dataset. Registry faults are extra rows of entities that do
/// not otherwise exist, so they never make other datasets' rows unknown.
#[allow(clippy::too_many_arguments)]
pub(super) fn inject_faults(
    w: &World,
    chunk: u64,
    range: &std::ops::Range<u64>,
    registry: &mut Nights,
    holdings: &mut Nights,
    violations: &mut Nights,
    complaints: &mut Nights,
    repairs: &mut Nights,
) {
    let o = w.o;
    let mut r = stream(o.seed, S_BAD, chunk, 0);
    let night_dates: Vec<i32> = (0..o.days).map(|n| o.night(n).days_since_epoch()).collect();
    for (n, &ingest) in night_dates.iter().enumerate() {
        let night = Night { w, chunk, range, n, ingest };
        // One stream for the chunk, drawn from in this order each night.
        let k = night.count(range.end - range.start, &mut r);
        night.registry(k, &mut r, registry);
        let k = night.count(holdings.tables[n].rows, &mut r);
        night.holdings(k, &mut r, holdings);
        let k = night.count(violations.tables[n].rows, &mut r);
        night.violations(k, &mut r, violations);
        let k = night.count(complaints.tables[n].rows, &mut r);
        night.complaints(k, &mut r, complaints);
        let k = night.count(repairs.tables[n].rows, &mut r);
        night.repairs(k, &mut r, repairs);
    }
}

/// A chunk's night that faults are added to: night `n`, ingested on day
/// `ingest` (days since the epoch).
struct Night<'a> {
    w: &'a World<'a>,
    chunk: u64,
    range: &'a std::ops::Range<u64>,
    n: usize,
    ingest: i32,
}

impl Night<'_> {
    /// How many faulty rows to add to a dataset of `rows` rows:
    /// `bad_rate` of them, the fraction drawn.
    fn count(&self, rows: u64, r: &mut ChaCha8Rng) -> u64 {
        let expected = rows as f64 * self.w.o.bad_rate;
        expected.floor() as u64 + u64::from(r.random_bool(expected.fract()))
    }

    /// Valid entity ids outside the registry: a region code no entity uses.
    fn junk_id(k: u64) -> String {
        let tail: String = format!("{:09}", k % 1_000_000_000);
        EntityId::with_check_char(&format!("91999999{tail}")).expect("alphabet").to_string()
    }

    /// One of the chunk's entities, drawn.
    fn entity(&self, r: &mut ChaCha8Rng) -> String {
        self.w.id(self.range.start + r.random_range(0..self.range.end - self.range.start))
    }

    /// `k` registry rows of unknown entities: an empty name, a wrong check
    /// character, a malformed representative, an unknown status, a short
    /// region, an establishment after the night, or a duplicate.
    fn registry(&self, k: u64, r: &mut ChaCha8Rng, registry: &mut Nights) {
        let (w, n, ingest) = (self.w, self.n, self.ingest);
        for j in 0..k {
            let id = Self::junk_id(self.chunk * 1_000_000 + n as u64 * 100_000 + j);
            let mut row = vec![
                s(id.clone()),
                s("Faulty Row Co., Ltd."),
                s("company"),
                s(w.person(r.random_range(0..w.persons))),
                V::S(None),
                s("350100"),
                s("F"),
                V::S(None),
                V::D(Some(ingest - 100)),
                s("active"),
                V::M(Some(100_000)),
            ];
            match j % 7 {
                0 => row[1] = s(""),
                1 => row[0] = s(wrong_check_char(&id)),
                2 => row[3] = s("P0123456789ABCDEF"),
                3 => row[9] = s("closed"),
                4 => row[5] = s("3501"),
                5 => row[8] = V::D(Some(ingest + 1)),
                _ => registry.tables[n].push(&row),
            }
            registry.tables[n].push(&row);
        }
    }

    /// `k` holdings rows: no share, a person held as an entity, an unknown
    /// holder kind, a share of zero or NaN, shares over 100, an unknown
    /// owned entity, or a duplicate.
    fn holdings(&self, k: u64, r: &mut ChaCha8Rng, holdings: &mut Nights) {
        let n = self.n;
        for j in 0..k {
            let owned = self.entity(r);
            let p = self.w.person(r.random_range(0..self.w.persons));
            let row = match j % 7 {
                6 => vec![s(p), s("person"), s(owned), V::F(None)],
                0 => vec![s(p.clone()), s("entity"), s(owned), V::F(Some(10.0))],
                1 => vec![s(p), s("trust"), s(owned), V::F(Some(10.0))],
                2 => vec![s(p), s("person"), s(owned), V::F(Some(if j % 4 == 2 { f64::NAN } else { 0.0 }))],
                3 => vec![s(p), s("person"), s(owned), V::F(Some(100.0))],
                4 => vec![s(p), s("person"), s(Self::junk_id(j)), V::F(Some(10.0))],
                _ => {
                    let row = vec![s(p), s("person"), s(Self::junk_id(500_000 + j)), V::F(Some(1.0))];
                    holdings.tables[n].push(&row);
                    row
                }
            };
            holdings.tables[n].push(&row);
        }
    }

    /// `k` violations: no severity, a wrong check character, an unknown
    /// severity, a malformed authority, a decision after the night, an
    /// unknown entity, or a duplicate.
    fn violations(&self, k: u64, r: &mut ChaCha8Rng, violations: &mut Nights) {
        let (chunk, n, ingest) = (self.chunk, self.n, self.ingest);
        for j in 0..k {
            let e = self.entity(r);
            let case = format!("PD-BAD-{chunk}-{n}-{j}");
            let mut row = vec![
                s(case),
                s(e),
                V::D(Some(ingest - 10)),
                s("other"),
                s("general"),
                V::M(Some(1000)),
                s("effective"),
                s("350100"),
            ];
            match j % 7 {
                0 => row[4] = V::S(None),
                1 => row[1] = s("91350100M000100Y44"),
                2 => row[4] = s("catastrophic"),
                3 => row[7] = s("35A100"),
                4 => row[2] = V::D(Some(ingest + 3)),
                5 => row[1] = s(Self::junk_id(900_000 + j)),
                _ => violations.tables[n].push(&row),
            }
            violations.tables[n].push(&row);
        }
    }

    /// `k` complaints: no verified flag, an unknown channel, a negative
    /// amount, a receipt after the night, or an unknown entity.
    fn complaints(&self, k: u64, r: &mut ChaCha8Rng, complaints: &mut Nights) {
        let (chunk, n, ingest) = (self.chunk, self.n, self.ingest);
        for j in 0..k {
            let e = self.entity(r);
            let mut row = vec![
                s(format!("CP-BAD-{chunk}-{n}-{j}")),
                s(e),
                V::D(Some(ingest - 5)),
                s("web"),
                V::S(None),
                V::B(Some(true)),
                s("unresolved"),
                V::M(Some(100)),
            ];
            match j % 5 {
                0 => row[5] = V::B(None),
                1 => row[3] = s("fax"),
                2 => row[7] = V::M(Some(-100)),
                3 => row[2] = V::D(Some(ingest + 1)),
                _ => row[1] = s(Self::junk_id(950_000 + j)),
            }
            complaints.tables[n].push(&row);
        }
    }

    /// `k` repairs of unknown cases: as they are, without a case, or
    /// duplicated.
    fn repairs(&self, k: u64, r: &mut ChaCha8Rng, repairs: &mut Nights) {
        let (chunk, n, ingest) = (self.chunk, self.n, self.ingest);
        for j in 0..k {
            let e = self.entity(r);
            let mut row =
                vec![s(format!("RP-BAD-{chunk}-{n}-{j}")), s(e), s(format!("PD-NONE-{j}")), V::D(Some(ingest - 1))];
            match (j + n as u64) % 3 {
                0 => {}
                1 => row[2] = V::S(None),
                _ => {
                    repairs.tables[n].push(&row);
                }
            }
            repairs.tables[n].push(&row);
        }
    }
}
