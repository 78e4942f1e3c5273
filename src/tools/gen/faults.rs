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
    let entities = range.end - range.start;
    let junk_id = |k: u64| {
        // Valid ids outside the registry: a region code no entity uses.
        let tail: String = format!("{:09}", k % 1_000_000_000);
        EntityId::with_check_char(&format!("91999999{tail}")).expect("alphabet").to_string()
    };
    let night_dates: Vec<i32> = (0..o.days).map(|n| o.night(n).days_since_epoch()).collect();
    for (n, &ingest) in night_dates.iter().enumerate() {
        let count = |rows: u64, r: &mut ChaCha8Rng| -> u64 {
            let expected = rows as f64 * o.bad_rate;
            expected.floor() as u64 + u64::from(r.random_bool(expected.fract()))
        };
        // registry
        let k = count(entities, &mut r);
        for j in 0..k {
            let id = junk_id(chunk * 1_000_000 + n as u64 * 100_000 + j);
            let base = |r: &mut ChaCha8Rng| -> Vec<V> {
                vec![
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
                ]
            };
            let mut row = base(&mut r);
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
        // holdings
        let k = count(holdings.tables[n].rows, &mut r);
        for j in 0..k {
            let owned = w.id(range.start + r.random_range(0..entities));
            let p = w.person(r.random_range(0..w.persons));
            let row = match j % 7 {
                6 => vec![s(p), s("person"), s(owned), V::F(None)],
                0 => vec![s(p.clone()), s("entity"), s(owned), V::F(Some(10.0))],
                1 => vec![s(p), s("trust"), s(owned), V::F(Some(10.0))],
                2 => vec![s(p), s("person"), s(owned), V::F(Some(if j % 4 == 2 { f64::NAN } else { 0.0 }))],
                3 => vec![s(p), s("person"), s(owned), V::F(Some(100.0))],
                4 => vec![s(p), s("person"), s(junk_id(j)), V::F(Some(10.0))],
                _ => {
                    let row = vec![s(p), s("person"), s(junk_id(500_000 + j)), V::F(Some(1.0))];
                    holdings.tables[n].push(&row);
                    row
                }
            };
            holdings.tables[n].push(&row);
        }
        // violations
        let k = count(violations.tables[n].rows, &mut r);
        for j in 0..k {
            let e = w.id(range.start + r.random_range(0..entities));
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
                5 => row[1] = s(junk_id(900_000 + j)),
                _ => violations.tables[n].push(&row),
            }
            violations.tables[n].push(&row);
        }
        // complaints
        let k = count(complaints.tables[n].rows, &mut r);
        for j in 0..k {
            let e = w.id(range.start + r.random_range(0..entities));
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
                _ => row[1] = s(junk_id(950_000 + j)),
            }
            complaints.tables[n].push(&row);
        }
        // repairs
        let k = count(repairs.tables[n].rows, &mut r);
        for j in 0..k {
            let e = w.id(range.start + r.random_range(0..entities));
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
