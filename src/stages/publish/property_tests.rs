//! A property test of publication (publication.md v2) over 200 random
//! sequences of nights, deterministic from their seeds: members come and
//! go, move between regions, change basis, rules and names; joint members
//! lose their roots; removal facts vary; same-day reruns happen and a
//! partner joins mid-sequence. Each night goes through [`publish`] into a
//! real warehouse and is read back from its files. For the whole list and
//! for every partner view:
//!
//! - applying the publication's `changes` to the previous `entries` gives
//!   exactly the new `entries` (on the view's columns), read generically
//!   from the Parquet files, not through the code under test;
//! - every `removed` row has the reason the v2 order gives for the
//!   night's facts, or `out_of_region` in a view when the entity is still
//!   on the list;
//! - every root an entry names is itself an entry.

use std::collections::{BTreeMap, HashMap};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::entries::{removal_reason, RemovalFacts};
use super::*;
use crate::base::contract::Contracts;
use crate::base::marts::listings::{Basis, ListingRow, ReviewStatus};
use crate::base::marts::registry::RegistryFacts;
use crate::config::partners::{Format, Partner};
use crate::tools::fixture::entity;

const SEQUENCES: u64 = 200;
const ENTITIES: u32 = 10;
const REGIONS: [&str; 4] = ["650100", "650200", "110000", "350100"];

/// One row of a file, every column as text.
type Row = BTreeMap<String, String>;

/// The rows of a Parquet file, columns by name, values as arrow prints them.
fn rows(path: &Path) -> Vec<Row> {
    let mut out = Vec::new();
    for b in crate::base::parquet_io::read_parquet(path).unwrap() {
        let names: Vec<String> = b.schema().fields().iter().map(|f| f.name().clone()).collect();
        for r in 0..b.num_rows() {
            let mut row = Row::new();
            for (i, n) in names.iter().enumerate() {
                let v = arrow::util::display::array_value_to_string(b.column(i), r).unwrap();
                row.insert(n.clone(), v);
            }
            out.push(row);
        }
    }
    out
}

/// What a partner's mirror does: applies `changes` to `entries` by entity id.
fn apply_rows(entries: &[Row], changes: &[Row]) -> Vec<Row> {
    let mut by_id: BTreeMap<String, Row> = entries.iter().map(|r| (r["entity_id"].clone(), r.clone())).collect();
    for c in changes {
        let id = c["entity_id"].clone();
        match c["action"].as_str() {
            "removed" => {
                assert!(by_id.remove(&id).is_some(), "removed {id}, which the mirror does not hold");
            }
            "added" => {
                assert!(!by_id.contains_key(&id), "added {id}, which the mirror holds already");
                by_id.insert(id, entry_part(c));
            }
            _ => {
                assert!(by_id.contains_key(&id), "changed {id}, which the mirror does not hold");
                by_id.insert(id, entry_part(c));
            }
        }
    }
    by_id.into_values().collect()
}

fn entry_part(change: &Row) -> Row {
    change
        .iter()
        .filter(|(k, _)| *k != "action" && *k != "removal_reason")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The model of one night: who is a member with which status and facts.
struct Night {
    date: AsOf,
    members: Vec<ListingRow>,
    facts: HashMap<String, RegistryFacts>,
    removed: HashMap<String, RemovalFacts>,
}

fn registry_facts(id: &str, rng: &mut ChaCha8Rng) -> RegistryFacts {
    RegistryFacts {
        entity_id: id.to_string(),
        name: format!("Entity {}", rng.random_range(0..3)),
        entity_type: "company".into(),
        legal_rep_id: None,
        parent_id: None,
        region: REGIONS[rng.random_range(0..REGIONS.len())].to_string(),
        industry: None,
        online_store: rng.random_bool(0.5).then(|| format!("https://shop.example/{id}")),
        established_on: None,
        status: "active".into(),
        registered_capital: None,
        snapshot: "2026-11-20".into(),
    }
}

/// A random night after `date` (or the same date: a same-day rerun).
fn night(rng: &mut ChaCha8Rng, date: AsOf, list: &str) -> Night {
    let ids: Vec<String> = (0..ENTITIES).map(entity).collect();
    let direct: Vec<&String> = ids.iter().filter(|_| rng.random_bool(0.5)).collect();
    let mut members: Vec<ListingRow> = Vec::new();
    let status = |rng: &mut ChaCha8Rng| match rng.random_range(0..6) {
        0 => ReviewStatus::Pending,
        1 => ReviewStatus::Noticed,
        _ => ReviewStatus::Published,
    };
    for id in &ids {
        let row = |basis, rules: Vec<String>, roots: Vec<String>, review_status| ListingRow {
            entity_id: id.clone(),
            list_id: list.to_string(),
            basis,
            depth: if basis == Basis::Direct { 0 } else { 1 },
            rules,
            via: vec![],
            roots,
            review_status,
            notice_deadline: None,
        };
        if direct.contains(&id) {
            members.push(row(Basis::Direct, vec![], vec![], status(rng)));
        } else if !direct.is_empty() && rng.random_bool(0.4) {
            let roots: Vec<String> = direct.iter().filter(|_| rng.random_bool(0.5)).map(|r| (*r).clone()).collect();
            let roots = if roots.is_empty() { vec![direct[0].clone()] } else { roots };
            let rules = if rng.random_bool(0.5) { vec!["JS_BRANCH".into()] } else { vec!["JS_CONTROL".into()] };
            members.push(row(Basis::Joint, rules, roots, status(rng)));
        }
    }
    // The held rule, as the run applies it: no published root, not published.
    let published: Vec<String> = members
        .iter()
        .filter(|m| m.review_status == ReviewStatus::Published && m.basis == Basis::Direct)
        .map(|m| m.entity_id.clone())
        .collect();
    for m in members.iter_mut().filter(|m| m.basis == Basis::Joint && m.review_status == ReviewStatus::Published) {
        if !m.roots.iter().any(|r| published.contains(r)) {
            m.review_status = ReviewStatus::Held;
        }
    }
    let facts = ids.iter().map(|id| (id.clone(), registry_facts(id, rng))).collect();
    let removed = ids
        .iter()
        .map(|id| {
            let f = RemovalFacts {
                exempt: rng.random_bool(0.15),
                in_scope: rng.random_bool(0.85),
                repaired: rng.random_bool(0.2),
                joint_basis_ended: rng.random_bool(0.2),
                policy_changed: rng.random_bool(0.2),
            };
            (id.clone(), f)
        })
        .collect();
    let date = if rng.random_bool(0.25) { date } else { date.plus_days(rng.random_range(1..3)) };
    Night { date, members, facts, removed }
}

fn partner(id: &str, columns: &[&str], regions: &[&str], formats: &[Format]) -> Partner {
    let all = files::all_columns();
    Partner {
        id: id.into(),
        name: id.into(),
        lists: vec!["serious-dishonesty".into()],
        columns: all.into_iter().filter(|c| columns.contains(&c.as_str()) || columns.is_empty()).collect(),
        formats: formats.to_vec(),
        regions: regions.iter().map(|r| r.to_string()).collect(),
    }
}

/// One sequence of nights, checked after each publication.
fn sequence(seed: u64, policy: &Policy) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // In memory where the machine has it: 800 publications' flushes cost
    // seconds on a disk, and durability is not what this test checks.
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() }.unwrap();
    let wh = Warehouse::new(dir.path());
    let list = policy.list("serious-dishonesty").unwrap();
    let mut partners = vec![
        partner("everyone", &[], &[], &[Format::Parquet]),
        partner(
            "xinjiang",
            &["entity_id", "name", "region", "roots", "listed_since"],
            &["65"],
            &[Format::Parquet, Format::Csv],
        ),
        partner("city", &["entity_id", "name", "measures"], &["650100", "110000"], &[Format::Parquet]),
    ];
    let mut date: AsOf = "2026-11-20".parse().unwrap();
    let decisions = DecisionsUsed { through: 0, sha256: "0".repeat(64) };
    for n in 0..5 {
        if n == 3 && rng.random_bool(0.5) {
            partners.push(partner("newcomer", &["entity_id", "region"], &["35"], &[Format::Parquet]));
        }
        // An entitlement widened: the city's view shows regions from now on,
        // and its kept entries change in that column.
        if n == 2 && rng.random_bool(0.5) {
            partners[2] = partner(
                "city",
                &["entity_id", "name", "region", "measures"],
                &["650100", "110000"],
                &[Format::Parquet],
            );
        }
        let night = night(&mut rng, date, &list.id);
        date = night.date;
        let previous = previous(&wh, &list.id, None).unwrap();
        let input = Input {
            policy,
            list,
            as_of: night.date,
            run_id: n,
            members: &night.members,
            facts: &night.facts,
            removed: &night.removed,
            previous: previous.as_ref(),
            inputs: vec![],
            partners: &partners,
            signer: None,
            decisions: &decisions,
        };
        let outcome = publish(&wh, &input).unwrap();
        let Outcome::Published { id, .. } = outcome else { continue };
        let here = folder(&wh, &list.id, id);
        let before = previous.as_ref().map(|p| folder(&wh, &list.id, p.id));
        let context = format!("seed {seed}, night {n}, publication {id}");

        // The whole list.
        let entries = rows(&here.join("entries.parquet"));
        let old = before.as_ref().map(|b| rows(&b.join("entries.parquet"))).unwrap_or_default();
        let changes = rows(&here.join("changes.parquet"));
        assert_eq!(apply_rows(&old, &changes), entries, "{context}: the list's changes add up");
        let listed: Vec<&String> = entries.iter().map(|e| &e["entity_id"]).collect();
        for e in &entries {
            let roots = e["roots"].trim_matches(['[', ']']);
            for r in roots.split(", ").filter(|r| !r.is_empty()) {
                assert!(listed.contains(&&r.to_string()), "{context}: root {r} of {} is not an entry", e["entity_id"]);
            }
        }
        for c in changes.iter().filter(|c| c["action"] == "removed") {
            let expected = removal_reason(&night.removed[&c["entity_id"]]);
            assert_eq!(c["removal_reason"], expected.as_str(), "{context}: removal reason of {}", c["entity_id"]);
        }

        // Every partner's view, against its own previous view.
        for p in &partners {
            let view = here.join("partners").join(&p.id);
            let entries = rows(&view.join("entries.parquet"));
            let old = match &before {
                Some(b) if b.join("partners").join(&p.id).join("entries.parquet").exists() => {
                    rows(&b.join("partners").join(&p.id).join("entries.parquet"))
                }
                _ => vec![],
            };
            let changes = rows(&view.join("changes.parquet"));
            let context = format!("{context}, partner {}", p.id);
            assert_eq!(apply_rows(&old, &changes), entries, "{context}: the view's changes add up");
            for c in changes.iter().filter(|c| c["action"] == "removed") {
                let id = &c["entity_id"];
                let expected =
                    if listed.contains(&id) { "out_of_region" } else { removal_reason(&night.removed[id]).as_str() };
                assert_eq!(c["removal_reason"], expected, "{context}: removal reason of {id}");
            }
            if p.formats.contains(&Format::Csv) {
                let csv = std::fs::read_to_string(view.join("entries.csv")).unwrap();
                assert_eq!(csv.lines().count(), entries.len() + 1, "{context}: the CSV holds the same entries");
            }
        }
    }
}

#[test]
fn views_add_up_and_removals_have_their_reasons_over_random_sequences() {
    let policy = Policy::default_policy(&Contracts::load().unwrap());
    // Two workers, as CI has two cores; each seed is a sequence of its own.
    std::thread::scope(|s| {
        for half in 0..2 {
            let policy = &policy;
            s.spawn(move || (0..SEQUENCES).filter(|seed| seed % 2 == half).for_each(|seed| sequence(seed, policy)));
        }
    });
}
