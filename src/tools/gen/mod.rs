//! Synthetic landing zones: `credence gen`. Deterministic for a given seed
//! and arguments (byte for byte), realistic enough to exercise every rule,
//! and able to write 10 million entities in bounded memory.
//!
//! Every attribute of entity `i` is drawn from a random stream seeded by
//! (seed, purpose, i), so chunks of entities are generated independently
//! and in parallel; each chunk writes its own `part-<chunk>.parquet` into
//! every nightly partition. The K nights end at the as-of date.
//!
//! What the data holds: companies, sole proprietors, cooperatives and
//! branches of companies; legal representatives shared by several
//! entities; ownership chains, aggregate control and a few two-entity
//! cycles; skewed violation and complaint counts over about four years,
//! split across nights; cases revoked on appeal and complaints resolved in
//! later nights; credit repairs; entities registered during the nights,
//! status changes and holdings changes from night to night. With a bad
//! rate, rows of every fault code of datasets.md.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;
use rayon::prelude::*;

use crate::base::contract::Dataset;
use crate::base::error::{Classify, ErrorKind};

mod faults;
mod tables;
mod world;

use chrono::Datelike;
use faults::inject_faults;
use tables::{s, Nights, V};
use world::{
    region_weights, scramble, skewed_count, stream, weighted, Kind, World, CATEGORIES, COMPLAINT_TOPICS, INDUSTRIES,
    REGIONS, SEVERITIES, S_ATTR, S_COMP, S_VIOL, TRADES, WORDS,
};

use crate::base::ids::{days_to_date, AsOf};
use crate::base::warehouse::Warehouse;

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenOptions {
    pub entities: u64,
    pub days: u32,
    pub seed: u64,
    pub as_of: AsOf,
    /// Share of rows carrying a fault (0 for clean data).
    pub bad_rate: f64,
    pub violations_per_entity: f64,
    pub complaints_per_entity: f64,
    /// Entities per chunk (per file).
    pub chunk: u64,
}

impl GenOptions {
    pub fn new(entities: u64, days: u32, seed: u64, as_of: AsOf) -> GenOptions {
        GenOptions {
            entities,
            days: days.max(1),
            seed,
            as_of,
            bad_rate: 0.0,
            violations_per_entity: 1.5,
            complaints_per_entity: 1.0,
            chunk: 250_000,
        }
    }

    /// The date of night `n` (0 is the first, `days - 1` is the as-of date).
    pub fn night(&self, n: u32) -> AsOf {
        self.as_of.plus_days(n as i64 - (self.days as i64 - 1))
    }
}

/// Rows written per dataset.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct GenSummary {
    pub registry: u64,
    pub holdings: u64,
    pub violations: u64,
    pub complaints: u64,
    pub repairs: u64,
    pub files: u64,
}

impl GenSummary {
    pub fn total(&self) -> u64 {
        self.registry + self.holdings + self.violations + self.complaints + self.repairs
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("writing {path}: {source}")]
    Write { path: String, source: parquet::errors::ParquetError },
    #[error("creating {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl Classify for GenError {
    fn kind(&self) -> ErrorKind {
        match self {
            GenError::Write { source, .. } => source.kind(),
            GenError::Io { source, .. } => Classify::kind(source),
        }
    }
}

/// Writes the landing zone into `wh` and returns the rows written.
/// `progress` is called with the number of entities done so far.
pub fn generate(wh: &Warehouse, o: &GenOptions, progress: &(dyn Fn(u64) + Sync)) -> Result<GenSummary, GenError> {
    let world = World {
        o,
        regions: region_weights(),
        persons: (o.entities * 7 / 10).max(1),
        newcomers_from: o.entities - (o.entities * 2 * (o.days as u64 - 1) / 1000).min(o.entities),
    };
    for d in Dataset::ALL {
        for n in 0..o.days {
            let dir = wh.landing_partition(d, o.night(n));
            std::fs::create_dir_all(&dir).map_err(|source| GenError::Io { path: wh.relative(&dir), source })?;
        }
    }
    let chunks: Vec<u64> = (0..o.entities.div_ceil(o.chunk.max(1))).collect();
    let done = AtomicU64::new(0);
    let parts: Vec<GenSummary> = chunks
        .par_iter()
        .map(|c| {
            let lo = c * o.chunk;
            let hi = (lo + o.chunk).min(o.entities);
            let s = generate_chunk(wh, &world, *c, lo..hi)?;
            progress(done.fetch_add(hi - lo, Ordering::Relaxed) + hi - lo);
            Ok(s)
        })
        .collect::<Result<_, GenError>>()?;
    let mut total = GenSummary::default();
    for p in parts {
        total.registry += p.registry;
        total.holdings += p.holdings;
        total.violations += p.violations;
        total.complaints += p.complaints;
        total.repairs += p.repairs;
        total.files += p.files;
    }
    Ok(total)
}

fn generate_chunk(wh: &Warehouse, w: &World, chunk: u64, range: std::ops::Range<u64>) -> Result<GenSummary, GenError> {
    let o = w.o;
    let mut registry = Nights::new(Dataset::Registry, o.days);
    let mut holdings = Nights::new(Dataset::Holdings, o.days);
    let mut violations = Nights::new(Dataset::Violations, o.days);
    let mut complaints = Nights::new(Dataset::Complaints, o.days);
    let mut repairs = Nights::new(Dataset::Repairs, o.days);
    let nights: Vec<i32> = (0..o.days).map(|n| o.night(n).days_since_epoch()).collect();

    for i in range.clone() {
        let e = Drawn { i, id: w.id(i), region: w.region(i), established: w.established(i), first: w.first_night(i) };
        registry_rows(w, &e, &mut registry, &mut holdings);
        // An entity registered after the first night has no events.
        if e.first > 0 {
            continue;
        }
        violation_rows(w, &e, &nights, &mut violations, &mut repairs);
        complaint_rows(w, &e, &nights, &mut complaints);
    }

    if o.bad_rate > 0.0 {
        inject_faults(w, chunk, &range, &mut registry, &mut holdings, &mut violations, &mut complaints, &mut repairs);
    }

    let mut summary = GenSummary::default();
    for (nights_of, count) in [
        (registry, &mut summary.registry),
        (holdings, &mut summary.holdings),
        (violations, &mut summary.violations),
        (complaints, &mut summary.complaints),
        (repairs, &mut summary.repairs),
    ] {
        for (n, t) in nights_of.tables.into_iter().enumerate() {
            let dir = wh.landing_partition(t.dataset, o.night(n as u32));
            let path: PathBuf = dir.join(format!("part-{chunk:05}.parquet"));
            *count += t.write(&path, wh)?;
            summary.files += 1;
        }
    }
    Ok(summary)
}

/// What every dataset's rows of entity `i` read of it, drawn once.
struct Drawn {
    i: u64,
    id: String,
    region: usize,
    /// Its establishment, in days since the epoch.
    established: i32,
    /// The night it was first registered (0: before the first).
    first: u32,
}

/// Entity `i`'s registry row (its attributes drawn from its own stream)
/// and its holders' rows, in every night from the one it was registered.
fn registry_rows(w: &World, e: &Drawn, registry: &mut Nights, holdings: &mut Nights) {
    let Drawn { i, ref id, region, established, first } = *e;
    let o = w.o;
    let kind = w.kind(i);
    let mut attr = stream(o.seed, S_ATTR, i, 3);
    let name = match kind {
        Kind::Branch => format!(
            "{} {} {} Branch",
            REGIONS[region].1,
            WORDS[attr.random_range(0..WORDS.len())],
            TRADES[attr.random_range(0..TRADES.len())]
        ),
        Kind::SoleProprietor => {
            format!("{} {} Shop No. {}", REGIONS[region].1, WORDS[attr.random_range(0..WORDS.len())], i)
        }
        _ => format!(
            "{} {} {} {} Co., Ltd.",
            REGIONS[region].1,
            WORDS[attr.random_range(0..WORDS.len())],
            WORDS[attr.random_range(0..WORDS.len())],
            TRADES[attr.random_range(0..TRADES.len())]
        ),
    };
    let industry =
        attr.random_bool(0.9).then(|| (INDUSTRIES[attr.random_range(0..INDUSTRIES.len())] as char).to_string());
    let store =
        attr.random_bool(0.3).then(|| format!("https://mall.example.cn/store/{}", scramble(o.seed ^ i) % 100_000_000));
    let capital = match kind {
        Kind::SoleProprietor | Kind::Branch => None,
        _ => attr.random_bool(0.9).then(|| (10f64.powf(attr.random_range(4.0..8.5)) as i128) * 100),
    };
    let rep = w.legal_rep(i).map(|p| w.person(p));
    let parent = if kind == Kind::Branch { w.parent(i).map(|p| w.id(p)) } else { None };

    for n in first..o.days {
        registry.tables[n as usize].push(&[
            s(id.to_string()),
            s(name.clone()),
            s(kind.name()),
            V::S(rep.clone()),
            V::S(parent.clone()),
            s(REGIONS[region].0),
            V::S(industry.clone()),
            V::S(store.clone()),
            V::D(Some(established)),
            s(w.status(i, n)),
            V::M(capital),
        ]);
        for (h, is_entity, share) in w.holders(i, n) {
            let holder = if is_entity { w.id(h) } else { w.person(h) };
            holdings.tables[n as usize].push(&[
                s(holder),
                s(if is_entity { "entity" } else { "person" }),
                s(id.to_string()),
                V::F(Some(share)),
            ]);
        }
    }
}

/// Entity `i`'s violations (most entities have none, a few have many),
/// each decided within four years before its night and not before the
/// entity was established; some revoked on appeal in a later night, some
/// repaired (a repair in the first night on or after its approval).
/// `nights` are the nights' days since the epoch.
fn violation_rows(w: &World, e: &Drawn, nights: &[i32], violations: &mut Nights, repairs: &mut Nights) {
    let o = w.o;
    let Drawn { i, ref id, region, established, .. } = *e;
    let last = *nights.last().expect("a night");
    let mut r = stream(o.seed, S_VIOL, i, 0);
    let count = skewed_count(&mut r, o.violations_per_entity);
    for k in 0..count {
        let night = r.random_range(0..o.days);
        let date = r.random_range(established.max(nights[night as usize] - 1460)..=nights[night as usize]);
        let case = format!(
            "PD-{}-{}-{:06}",
            REGIONS[region].0,
            days_to_date(date).expect("generated dates are calendar dates").year(),
            i * 64 + k
        );
        let status = *weighted(&mut r, &[("effective", 88), ("suspended", 7), ("revoked", 5)]);
        let severity = *weighted(&mut r, SEVERITIES);
        let fine_base: i128 = match severity {
            "minor" => 500,
            "general" => 5_000,
            "serious" => 50_000,
            _ => 300_000,
        };
        let fine = r.random_bool(0.95).then(|| fine_base * r.random_range(10..300) as i128);
        let authority =
            if r.random_bool(0.9) { REGIONS[region].0 } else { REGIONS[r.random_range(0..REGIONS.len())].0 };
        let row = vec![
            s(case.clone()),
            s(id.to_string()),
            V::D(Some(date)),
            s(*weighted(&mut r, CATEGORIES)),
            s(severity),
            V::M(fine),
            s(status),
            s(authority),
        ];
        violations.tables[night as usize].push(&row);
        // Revoked on appeal in a later night.
        if night + 1 < o.days && status == "effective" && r.random_bool(0.05) {
            let later = r.random_range(night + 1..o.days);
            let mut appealed = row.clone();
            appealed[6] = s("revoked");
            violations.tables[later as usize].push(&appealed);
        } else if status == "effective" && r.random_bool(0.04) {
            // A credit repair, in the first night on or after its approval.
            let approved = date + r.random_range(60..365);
            if approved <= last {
                let n = nights.iter().position(|d| *d >= approved).expect("a night on or after") as u32;
                let n = n.max(night);
                repairs.tables[n as usize].push(&[
                    s(format!("RP-{case}")),
                    s(id.to_string()),
                    s(case),
                    V::D(Some(approved)),
                ]);
            }
        }
    }
}

/// Entity `i`'s complaints, each received within four years before its
/// night and not before the entity was established; about half of those
/// pending are closed in a later night, if there is one.
fn complaint_rows(w: &World, e: &Drawn, nights: &[i32], complaints: &mut Nights) {
    let o = w.o;
    let Drawn { i, ref id, established, .. } = *e;
    let mut r = stream(o.seed, S_COMP, i, 0);
    let count = skewed_count(&mut r, o.complaints_per_entity);
    for k in 0..count {
        let night = r.random_range(0..o.days);
        let date = r.random_range(established.max(nights[night as usize] - 1460)..=nights[night as usize]);
        let outcome = *weighted(
            &mut r,
            &[("pending", 10), ("resolved", 45), ("mediated", 20), ("unresolved", 20), ("withdrawn", 5)],
        );
        let row = vec![
            s(format!("CP-{:09}", i * 64 + k)),
            s(id.to_string()),
            V::D(Some(date)),
            s(*weighted(&mut r, &[("hotline", 30), ("web", 40), ("platform", 30)])),
            V::S(r.random_bool(0.8).then(|| COMPLAINT_TOPICS[r.random_range(0..COMPLAINT_TOPICS.len())].to_string())),
            V::B(Some(r.random_bool(0.6))),
            s(outcome),
            V::M(r.random_bool(0.7).then(|| r.random_range(0..500_000) as i128)),
        ];
        complaints.tables[night as usize].push(&row);
        if outcome == "pending" && night + 1 < o.days && r.random_bool(0.5) {
            let mut closed = row.clone();
            closed[6] = s(if r.random_bool(0.6) { "resolved" } else { "unresolved" });
            complaints.tables[r.random_range(night + 1..o.days) as usize].push(&closed);
        }
    }
}
