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

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, RecordBatch, StringBuilder,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::base::contract::{jobs_schema, Dataset};
use crate::base::error::{Classify, ErrorKind};
use chrono::Datelike;

use crate::base::ids::{days_to_date, AsOf, EntityId, ENTITY_ALPHABET};
use crate::base::parquet_io::write_parquet;
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

// Purposes of random streams.
const S_KIND: u64 = 1;
const S_ATTR: u64 = 2;
const S_STATUS: u64 = 3;
const S_HOLD: u64 = 4;
const S_VIOL: u64 = 5;
const S_COMP: u64 = 6;
const S_BAD: u64 = 7;

fn stream(seed: u64, purpose: u64, i: u64, extra: u64) -> ChaCha8Rng {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    s[8..16].copy_from_slice(&purpose.to_le_bytes());
    s[16..24].copy_from_slice(&i.to_le_bytes());
    s[24..].copy_from_slice(&extra.to_le_bytes());
    ChaCha8Rng::from_seed(s)
}

/// A bijection of u64 (the splitmix64 finaliser): distinct inputs give
/// distinct pseudonymous person ids.
fn scramble(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d049bb133111eb);
    x ^ (x >> 31)
}

const REGIONS: &[(&str, &str, u32)] = &[
    ("440300", "Shenzhen", 14),
    ("310000", "Shanghai", 13),
    ("110000", "Beijing", 12),
    ("440100", "Guangzhou", 10),
    ("330100", "Hangzhou", 9),
    ("320100", "Nanjing", 6),
    ("510100", "Chengdu", 6),
    ("350100", "Fuzhou", 5),
    ("350200", "Xiamen", 4),
    ("420100", "Wuhan", 4),
    ("500000", "Chongqing", 4),
    ("120000", "Tianjin", 3),
    ("370200", "Qingdao", 3),
    ("610100", "Xi'an", 3),
    ("430100", "Changsha", 3),
    ("410100", "Zhengzhou", 3),
    ("650100", "Urumqi", 2),
    ("650200", "Karamay", 1),
    ("530100", "Kunming", 2),
    ("460100", "Haikou", 1),
];

const WORDS: &[&str] = &[
    "Bright",
    "Harbor",
    "Golden",
    "River",
    "Jade",
    "Summit",
    "Pine",
    "Ocean",
    "Silk",
    "Lotus",
    "Northern",
    "Cloud",
    "Phoenix",
    "Bamboo",
    "Evergreen",
    "Crystal",
    "Eastern",
    "Star",
    "Maple",
    "Orchid",
];
const TRADES: &[&str] =
    &["Trading", "Technology", "E-commerce", "Foods", "Apparel", "Electronics", "Logistics", "Cosmetics"];
const INDUSTRIES: &[u8] = b"FFFFIIIILLMMCCCCHKRA";
const CATEGORIES: &[(&str, u32)] = &[
    ("false_advertising", 18),
    ("counterfeit", 8),
    ("unlicensed_operation", 10),
    ("price_fraud", 9),
    ("food_safety", 12),
    ("product_quality", 16),
    ("consumer_rights", 12),
    ("unfair_competition", 5),
    ("personal_data", 4),
    ("other", 6),
];
const SEVERITIES: &[(&str, u32)] = &[("minor", 35), ("general", 35), ("serious", 22), ("grave", 8)];
const COMPLAINT_TOPICS: &[&str] = &["delivery", "refund", "quality", "advertising", "after-sales", "pricing"];

fn weighted<'a, T>(rng: &mut ChaCha8Rng, items: &'a [(T, u32)]) -> &'a T {
    let total: u32 = items.iter().map(|i| i.1).sum();
    let mut x = rng.random_range(0..total);
    for (item, w) in items {
        if x < *w {
            return item;
        }
        x -= w;
    }
    &items[items.len() - 1].0
}

fn region_weights() -> Vec<(usize, u32)> {
    REGIONS.iter().enumerate().map(|(i, r)| (i, r.2)).collect()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Company,
    Branch,
    SoleProprietor,
    Cooperative,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Company => "company",
            Kind::Branch => "branch",
            Kind::SoleProprietor => "sole_proprietor",
            Kind::Cooperative => "cooperative",
        }
    }
}

/// The entity world: pure functions of (seed, entity number).
struct World<'a> {
    o: &'a GenOptions,
    regions: Vec<(usize, u32)>,
    persons: u64,
    /// Entities numbered from here on are registered during the nights.
    newcomers_from: u64,
}

impl World<'_> {
    fn kind_drawn(&self, i: u64) -> Kind {
        let x = stream(self.o.seed, S_KIND, i, 0).random_range(0..100);
        match x {
            0..70 => Kind::Company,
            70..78 => Kind::Branch,
            78..96 => Kind::SoleProprietor,
            _ => Kind::Cooperative,
        }
    }

    /// The parent of a branch: a company with a smaller number.
    fn parent(&self, i: u64) -> Option<u64> {
        if i == 0 {
            return None;
        }
        let mut r = stream(self.o.seed, S_KIND, i, 1);
        for _ in 0..8 {
            let j = i - 1 - r.random_range(0..i.min(5000));
            if self.kind_drawn(j) == Kind::Company {
                return Some(j);
            }
        }
        None
    }

    fn kind(&self, i: u64) -> Kind {
        match self.kind_drawn(i) {
            Kind::Branch if self.parent(i).is_none() => Kind::Company,
            k => k,
        }
    }

    fn region(&self, i: u64) -> usize {
        *weighted(&mut stream(self.o.seed, S_ATTR, i, 0), &self.regions)
    }

    fn id(&self, i: u64) -> String {
        let kind = match self.kind(i) {
            Kind::SoleProprietor => '2',
            Kind::Cooperative => '3',
            _ => '1',
        };
        // An organisation code from a bijection of i over 31^9 values.
        let space: u64 = 31u64.pow(9);
        let mut code = ((i as u128 * 0x5851_F42D_4C95_7F2D + 0x1405_7B7E) % space as u128) as u64;
        let mut org = [b'0'; 9];
        for slot in org.iter_mut().rev() {
            *slot = ENTITY_ALPHABET[(code % 31) as usize];
            code /= 31;
        }
        let first17 = format!("9{kind}{}{}", REGIONS[self.region(i)].0, std::str::from_utf8(&org).expect("ascii"));
        EntityId::with_check_char(&first17).expect("alphabet").to_string()
    }

    fn person(&self, p: u64) -> String {
        format!("P{:016x}", scramble(self.o.seed ^ scramble(p)))
    }

    /// A person of the pool; a few serial representatives take many roles.
    fn some_person(&self, rng: &mut ChaCha8Rng) -> u64 {
        if rng.random_bool(0.15) {
            rng.random_range(0..(self.persons / 50).max(1))
        } else {
            rng.random_range(0..self.persons)
        }
    }

    fn legal_rep(&self, i: u64) -> Option<u64> {
        let mut r = stream(self.o.seed, S_ATTR, i, 1);
        match self.kind(i) {
            Kind::Branch if r.random_bool(0.7) => self.parent(i).and_then(|p| self.legal_rep(p)),
            _ if r.random_bool(0.04) => None,
            _ => Some(self.some_person(&mut r)),
        }
    }

    /// The night an entity first appears (0 for those registered before).
    fn first_night(&self, i: u64) -> u32 {
        if i < self.newcomers_from || self.o.days == 1 {
            return 0;
        }
        let span = self.o.entities - self.newcomers_from;
        1 + ((i - self.newcomers_from) * (self.o.days as u64 - 1) / span.max(1)) as u32
    }

    fn established(&self, i: u64) -> i32 {
        let n = self.first_night(i);
        let night = self.o.night(n).days_since_epoch();
        if n > 0 {
            return night;
        }
        night - stream(self.o.seed, S_ATTR, i, 2).random_range(30..9000)
    }

    fn status(&self, i: u64, night: u32) -> &'static str {
        const STATUSES: &[(&str, u32)] = &[("active", 85), ("abnormal", 8), ("revoked", 3), ("deregistered", 4)];
        let mut s = *weighted(&mut stream(self.o.seed, S_STATUS, i, 0), STATUSES);
        for m in 1..=night {
            let mut r = stream(self.o.seed, S_STATUS, i, m as u64);
            if r.random_bool(0.002) {
                s = *weighted(&mut r, STATUSES);
            }
        }
        s
    }

    /// How many times entity `i`'s holders changed up to night `night`.
    fn holdings_version(&self, i: u64, night: u32) -> u64 {
        (1..=night).filter(|m| stream(self.o.seed, S_HOLD, i, 1000 + *m as u64).random_bool(0.002)).count() as u64
    }

    /// Holders of entity `i` on a night: (holder number, is entity, share).
    fn holders(&self, i: u64, night: u32) -> Vec<(u64, bool, f64)> {
        let mut r = stream(self.o.seed, S_HOLD, i, self.holdings_version(i, night));
        let share = |r: &mut ChaCha8Rng, lo: f64, hi: f64| (r.random_range(lo..hi) * 100.0).round() / 100.0;
        match self.kind(i) {
            Kind::Branch => vec![],
            Kind::SoleProprietor => vec![(self.legal_rep(i).unwrap_or(i), false, 100.0)],
            Kind::Cooperative => {
                let n = r.random_range(2..6);
                let each = ((100.0 / n as f64) * 100.0).floor() / 100.0;
                (0..n).map(|_| (self.some_person(&mut r), false, each)).collect()
            }
            Kind::Company => {
                // Two-entity ownership cycles: pairs (2k, 2k+1) of companies holding each other.
                let pair = i ^ 1;
                if pair < self.o.entities
                    && self.kind(pair) == Kind::Company
                    && stream(self.o.seed, S_HOLD, i & !1, 7).random_bool(0.003)
                {
                    let s = share(&mut r, 20.0, 60.0);
                    return vec![
                        (pair, true, s),
                        (self.some_person(&mut r), false, (100.0 * 100.0 - s * 100.0).round() / 100.0),
                    ];
                }
                let mut out = Vec::new();
                let mut left = 100.0;
                if i > 0 && r.random_bool(0.35) {
                    // An entity holder nearby in numbering: ownership chains.
                    let j = i - 1 - r.random_range(0..i.min(200));
                    if self.kind(j) == Kind::Company && self.first_night(j) <= self.first_night(i) {
                        let s = if r.random_bool(0.5) { share(&mut r, 50.0, 100.0) } else { share(&mut r, 10.0, 50.0) };
                        out.push((j, true, s));
                        left -= s;
                    }
                }
                let extra = r.random_range(0..3);
                for k in 0..extra {
                    if left <= 1.0 {
                        break;
                    }
                    let s = if k + 1 == extra { (left * 100.0).round() / 100.0 } else { share(&mut r, 1.0, left) };
                    out.push((self.some_person(&mut r), false, s));
                    left -= s;
                }
                if out.is_empty() {
                    out.push((self.some_person(&mut r), false, 100.0));
                }
                out
            }
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

/// One dataset's columns for one night of one chunk, built row by row.
struct Table {
    dataset: Dataset,
    columns: Vec<Col>,
    rows: u64,
}

enum Col {
    Str(StringBuilder),
    Date(Date32Builder),
    Money(Decimal128Builder),
    F64(Float64Builder),
    Bool(BooleanBuilder),
}

/// A value of one row, in contract column order.
#[derive(Clone, Debug)]
enum V {
    S(Option<String>),
    D(Option<i32>),
    M(Option<i128>),
    F(Option<f64>),
    B(Option<bool>),
}

fn s(v: impl Into<String>) -> V {
    V::S(Some(v.into()))
}

impl Table {
    fn new(dataset: Dataset) -> Table {
        use arrow::datatypes::DataType::*;
        let columns = jobs_schema(dataset)
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                Utf8 => Col::Str(StringBuilder::new()),
                Date32 => Col::Date(Date32Builder::new()),
                Decimal128(18, 2) => {
                    Col::Money(Decimal128Builder::new().with_precision_and_scale(18, 2).expect("valid"))
                }
                Float64 => Col::F64(Float64Builder::new()),
                Boolean => Col::Bool(BooleanBuilder::new()),
                other => unreachable!("contract type {other}"),
            })
            .collect();
        Table { dataset, columns, rows: 0 }
    }

    fn push(&mut self, row: &[V]) {
        for (c, v) in self.columns.iter_mut().zip(row) {
            match (c, v) {
                (Col::Str(b), V::S(x)) => b.append_option(x.as_deref()),
                (Col::Date(b), V::D(x)) => b.append_option(*x),
                (Col::Money(b), V::M(x)) => b.append_option(*x),
                (Col::F64(b), V::F(x)) => b.append_option(*x),
                (Col::Bool(b), V::B(x)) => b.append_option(*x),
                _ => unreachable!("row matches the contract"),
            }
        }
        self.rows += 1;
    }

    fn write(mut self, path: &Path, wh: &Warehouse) -> Result<u64, GenError> {
        let columns: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|c| -> ArrayRef {
                match c {
                    Col::Str(b) => Arc::new(b.finish()),
                    Col::Date(b) => Arc::new(b.finish()),
                    Col::Money(b) => Arc::new(b.finish()),
                    Col::F64(b) => Arc::new(b.finish()),
                    Col::Bool(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        let schema = crate::base::landing_file::nullable(&jobs_schema(self.dataset));
        let batch = RecordBatch::try_new(schema.clone(), columns).expect("generated rows match the contract");
        write_parquet(path, schema, &[batch]).map_err(|source| GenError::Write { path: wh.relative(path), source })?;
        Ok(self.rows)
    }
}

/// Night tables of one dataset for a chunk.
struct Nights {
    tables: Vec<Table>,
}

impl Nights {
    fn new(dataset: Dataset, days: u32) -> Nights {
        Nights { tables: (0..days).map(|_| Table::new(dataset)).collect() }
    }
}

fn generate_chunk(wh: &Warehouse, w: &World, chunk: u64, range: std::ops::Range<u64>) -> Result<GenSummary, GenError> {
    let o = w.o;
    let mut registry = Nights::new(Dataset::Registry, o.days);
    let mut holdings = Nights::new(Dataset::Holdings, o.days);
    let mut violations = Nights::new(Dataset::Violations, o.days);
    let mut complaints = Nights::new(Dataset::Complaints, o.days);
    let mut repairs = Nights::new(Dataset::Repairs, o.days);
    let nights: Vec<i32> = (0..o.days).map(|n| o.night(n).days_since_epoch()).collect();
    let last = *nights.last().expect("a night");

    for i in range.clone() {
        let kind = w.kind(i);
        let id = w.id(i);
        let region = w.region(i);
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
        let store = attr
            .random_bool(0.3)
            .then(|| format!("https://mall.example.cn/store/{}", scramble(o.seed ^ i) % 100_000_000));
        let capital = match kind {
            Kind::SoleProprietor | Kind::Branch => None,
            _ => attr.random_bool(0.9).then(|| (10f64.powf(attr.random_range(4.0..8.5)) as i128) * 100),
        };
        let established = w.established(i);
        let rep = w.legal_rep(i).map(|p| w.person(p));
        let parent = if kind == Kind::Branch { w.parent(i).map(|p| w.id(p)) } else { None };
        let first = w.first_night(i);

        for n in first..o.days {
            registry.tables[n as usize].push(&[
                s(id.clone()),
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
                    s(id.clone()),
                    V::F(Some(share)),
                ]);
            }
        }
        if first > 0 {
            continue;
        }

        // Violations: most entities have none, a few have many.
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
                s(id.clone()),
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
                        s(id.clone()),
                        s(case),
                        V::D(Some(approved)),
                    ]);
                }
            }
        }

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
                s(id.clone()),
                V::D(Some(date)),
                s(*weighted(&mut r, &[("hotline", 30), ("web", 40), ("platform", 30)])),
                V::S(
                    r.random_bool(0.8).then(|| COMPLAINT_TOPICS[r.random_range(0..COMPLAINT_TOPICS.len())].to_string()),
                ),
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

/// The id with its check character replaced by a wrong one.
fn wrong_check_char(id: &str) -> String {
    let last = id.as_bytes()[17];
    let at = ENTITY_ALPHABET.iter().position(|c| *c == last).expect("valid id");
    format!("{}{}", &id[..17], ENTITY_ALPHABET[(at + 1) % 31] as char)
}

/// Zero for most entities, a geometric count for the rest, with the
/// given mean over all entities.
fn skewed_count(r: &mut ChaCha8Rng, mean: f64) -> u64 {
    let share_with_any = 0.35f64.min(mean);
    if mean <= 0.0 || !r.random_bool(share_with_any) {
        return 0;
    }
    let mean_given_any = mean / share_with_any;
    let p = 1.0 / mean_given_any;
    let mut k = 1;
    while k < 60 && !r.random_bool(p) {
        k += 1;
    }
    k
}

/// Adds rows that break each rule of datasets.md, about `bad_rate` of the
/// rows of each dataset. Registry faults are extra rows of entities that do
/// not otherwise exist, so they never make other datasets' rows unknown.
#[allow(clippy::too_many_arguments)]
fn inject_faults(
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
    for n in 0..o.days as usize {
        let ingest = night_dates[n];
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
