//! The generated world: random streams seeded by (seed, purpose, entity),
//! the vocabularies, and what each entity is (kind, region, representative,
//! parent, holdings, registration), as pure functions of its number.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::base::ids::{EntityId, ENTITY_ALPHABET};

use super::GenOptions;

// Purposes of random streams.
pub(super) const S_KIND: u64 = 1;
pub(super) const S_ATTR: u64 = 2;
pub(super) const S_STATUS: u64 = 3;
pub(super) const S_HOLD: u64 = 4;
pub(super) const S_VIOL: u64 = 5;
pub(super) const S_COMP: u64 = 6;
pub(super) const S_BAD: u64 = 7;

pub(super) fn stream(seed: u64, purpose: u64, i: u64, extra: u64) -> ChaCha8Rng {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    s[8..16].copy_from_slice(&purpose.to_le_bytes());
    s[16..24].copy_from_slice(&i.to_le_bytes());
    s[24..].copy_from_slice(&extra.to_le_bytes());
    ChaCha8Rng::from_seed(s)
}

/// A bijection of u64 (the splitmix64 finaliser): distinct inputs give
/// distinct pseudonymous person ids.
pub(super) fn scramble(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d049bb133111eb);
    x ^ (x >> 31)
}

pub(super) const REGIONS: &[(&str, &str, u32)] = &[
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

pub(super) const WORDS: &[&str] = &[
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
pub(super) const TRADES: &[&str] =
    &["Trading", "Technology", "E-commerce", "Foods", "Apparel", "Electronics", "Logistics", "Cosmetics"];
pub(super) const INDUSTRIES: &[u8] = b"FFFFIIIILLMMCCCCHKRA";
pub(super) const CATEGORIES: &[(&str, u32)] = &[
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
pub(super) const SEVERITIES: &[(&str, u32)] = &[("minor", 35), ("general", 35), ("serious", 22), ("grave", 8)];
pub(super) const COMPLAINT_TOPICS: &[&str] =
    &["delivery", "refund", "quality", "advertising", "after-sales", "pricing"];

pub(super) fn weighted<'a, T>(rng: &mut ChaCha8Rng, items: &'a [(T, u32)]) -> &'a T {
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

pub(super) fn region_weights() -> Vec<(usize, u32)> {
    REGIONS.iter().enumerate().map(|(i, r)| (i, r.2)).collect()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Kind {
    Company,
    Branch,
    SoleProprietor,
    Cooperative,
}

impl Kind {
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Company => "company",
            Kind::Branch => "branch",
            Kind::SoleProprietor => "sole_proprietor",
            Kind::Cooperative => "cooperative",
        }
    }
}

/// The entity world: pure functions of (seed, entity number).
pub(super) struct World<'a> {
    pub(super) o: &'a GenOptions,
    pub(super) regions: Vec<(usize, u32)>,
    pub(super) persons: u64,
    /// Entities numbered from here on are registered during the nights.
    pub(super) newcomers_from: u64,
}

impl World<'_> {
    pub(super) fn kind_drawn(&self, i: u64) -> Kind {
        let x = stream(self.o.seed, S_KIND, i, 0).random_range(0..100);
        match x {
            0..70 => Kind::Company,
            70..78 => Kind::Branch,
            78..96 => Kind::SoleProprietor,
            _ => Kind::Cooperative,
        }
    }

    /// The parent of a branch: a company with a smaller number.
    pub(super) fn parent(&self, i: u64) -> Option<u64> {
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

    pub(super) fn kind(&self, i: u64) -> Kind {
        match self.kind_drawn(i) {
            Kind::Branch if self.parent(i).is_none() => Kind::Company,
            k => k,
        }
    }

    pub(super) fn region(&self, i: u64) -> usize {
        *weighted(&mut stream(self.o.seed, S_ATTR, i, 0), &self.regions)
    }

    pub(super) fn id(&self, i: u64) -> String {
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

    pub(super) fn person(&self, p: u64) -> String {
        format!("P{:016x}", scramble(self.o.seed ^ scramble(p)))
    }

    /// A person of the pool; a few serial representatives take many roles.
    pub(super) fn some_person(&self, rng: &mut ChaCha8Rng) -> u64 {
        if rng.random_bool(0.15) {
            rng.random_range(0..(self.persons / 50).max(1))
        } else {
            rng.random_range(0..self.persons)
        }
    }

    pub(super) fn legal_rep(&self, i: u64) -> Option<u64> {
        let mut r = stream(self.o.seed, S_ATTR, i, 1);
        match self.kind(i) {
            Kind::Branch if r.random_bool(0.7) => self.parent(i).and_then(|p| self.legal_rep(p)),
            _ if r.random_bool(0.04) => None,
            _ => Some(self.some_person(&mut r)),
        }
    }

    /// The night an entity first appears (0 for those registered before).
    pub(super) fn first_night(&self, i: u64) -> u32 {
        if i < self.newcomers_from || self.o.days == 1 {
            return 0;
        }
        let span = self.o.entities - self.newcomers_from;
        1 + ((i - self.newcomers_from) * (self.o.days as u64 - 1) / span.max(1)) as u32
    }

    pub(super) fn established(&self, i: u64) -> i32 {
        let n = self.first_night(i);
        let night = self.o.night(n).days_since_epoch();
        if n > 0 {
            return night;
        }
        night - stream(self.o.seed, S_ATTR, i, 2).random_range(30..9000)
    }

    pub(super) fn status(&self, i: u64, night: u32) -> &'static str {
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
    pub(super) fn holdings_version(&self, i: u64, night: u32) -> u64 {
        (1..=night).filter(|m| stream(self.o.seed, S_HOLD, i, 1000 + *m as u64).random_bool(0.002)).count() as u64
    }

    /// Holders of entity `i` on a night: (holder number, is entity, share).
    pub(super) fn holders(&self, i: u64, night: u32) -> Vec<(u64, bool, f64)> {
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

/// Zero for most entities, a geometric count for the rest, with the
/// given mean over all entities.
pub(super) fn skewed_count(r: &mut ChaCha8Rng, mean: f64) -> u64 {
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
