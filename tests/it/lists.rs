//! Lists, joint members and officer decisions across a sequence of nightly
//! runs, through the command line.

use std::path::Path;

use credence::base::contract::Dataset;
use credence::base::marts::listings::{read_listings, ListingRow, ReviewStatus};
use credence::base::marts::related::read_related;
use credence::base::warehouse::{Mart, Warehouse};
use credence::tools::fixture::{entity, land, person};

use crate::support::{add_officer, credence, ok, policy_with, stderr};

const LIST: &str = "serious-dishonesty";

/// X (entity 1) has a grave counterfeit case: grade D, a direct candidate.
/// A (2) is 60% held by X; B (3) is a branch of X; C (4) shares X's legal
/// representative; D (5) is 100% held by A but revoked (out of scope).
struct World {
    _dir: tempfile::TempDir,
    wh: Warehouse,
    /// The example policy without notice, one officer deciding.
    policy: String,
}

fn reg(n: u32, kind: &str, parent: Option<u32>, rep: u32, status: &str) -> String {
    let parent = parent.map(|p| format!(r#","parent_id":"{}""#, entity(p))).unwrap_or_default();
    format!(
        r#"{{"entity_id":"{}","name":"Entity {n}","entity_type":"{kind}","legal_rep_id":"{}","region":"650100","established_on":"2015-01-01","status":"{status}"{parent}}}"#,
        entity(n),
        person(rep)
    )
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::new(dir.path().join("wh"));
        std::fs::create_dir_all(wh.root()).unwrap();
        let policy = policy_with(dir.path(), 0, "single");
        let w = World { _dir: dir, wh, policy };
        for (id, role) in [("officer-7", "officer"), ("o-1", "officer"), ("senior-1", "senior"), ("o", "senior")] {
            add_officer(w.root(), id, role);
        }
        w
    }

    fn root(&self) -> &str {
        self.wh.root().to_str().unwrap()
    }

    /// Lands the night `date` (registry and holdings are snapshots).
    fn night(&self, date: &str, with_violation: bool) {
        let rows = [
            reg(1, "company", None, 1, "active"),
            reg(2, "company", None, 2, "active"),
            reg(3, "branch", Some(1), 3, "active"),
            reg(4, "company", None, 1, "active"),
            reg(5, "company", None, 5, "revoked"),
            reg(6, "company", None, 6, "active"),
        ];
        land(&self.wh, Dataset::Registry, date, "part-0", &rows.iter().map(|s| s.as_str()).collect::<Vec<_>>());
        let h = |holder: u32, owned: u32, pct: f64| {
            format!(
                r#"{{"holder_id":"{}","holder_kind":"entity","entity_id":"{}","share_pct":{pct}}}"#,
                entity(holder),
                entity(owned)
            )
        };
        land(&self.wh, Dataset::Holdings, date, "part-0", &[&h(1, 2, 60.0), &h(2, 5, 100.0), &h(6, 2, 40.0)]);
        if with_violation {
            let v = format!(
                r#"{{"case_id":"V-1","entity_id":"{}","decided_on":"2026-06-01","category":"counterfeit","severity":"grave","fine_cny":"50000.00","status":"effective","authority":"650100"}}"#,
                entity(1)
            );
            land(&self.wh, Dataset::Violations, date, "part-0", &[&v]);
        }
    }

    fn run(&self, date: &str) {
        ok(&["run", "--unsigned", "--warehouse", self.root(), "--policy", &self.policy, "--as-of", date]);
    }

    fn listing(&self, date: &str) -> Vec<ListingRow> {
        read_listings(&self.wh.list_mart(Mart::Listings, LIST, date.parse().unwrap())).unwrap()
    }

    fn status(&self, date: &str) -> Vec<(String, ReviewStatus)> {
        self.listing(date).into_iter().map(|r| (r.entity_id, r.review_status)).collect()
    }

    fn decide(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["decide"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--warehouse", self.root(), "--policy", &self.policy]);
        credence(&all)
    }
}

#[test]
fn joint_members_restrictions_and_flags_from_the_cli() {
    let w = World::new();
    w.night("2026-11-25", true);
    w.run("2026-11-25");
    let rows = w.listing("2026-11-25");
    let ids: Vec<(&str, &str, i32)> = rows.iter().map(|r| (r.entity_id.as_str(), r.basis.as_str(), r.depth)).collect();
    let (e1, e2, e3) = (entity(1), entity(2), entity(3));
    assert_eq!(
        ids,
        [(e1.as_str(), "direct", 0), (e2.as_str(), "joint", 1), (e3.as_str(), "joint", 1)],
        "D is revoked: out of scope, never joins"
    );
    assert_eq!(rows[1].rules, ["JS_CONTROL"]);
    assert_eq!(rows[1].via[0].share_pct, Some(60.0));
    assert_eq!(rows[2].rules, ["JS_BRANCH"]);
    assert!(
        rows.iter().all(|r| r.review_status == ReviewStatus::Pending),
        "review: additions holds every first addition"
    );

    let related = read_related(&w.wh.list_mart(Mart::Related, LIST, "2026-11-25".parse().unwrap())).unwrap();
    let subjects: Vec<(String, String, Vec<String>)> =
        related.iter().map(|r| (r.subject_id.clone(), r.subject_kind.clone(), r.roots.clone())).collect();
    assert_eq!(
        subjects,
        [
            (entity(4), "entity".to_string(), vec![entity(1)]),
            (person(1), "person".to_string(), vec![entity(1)]),
            (person(2), "person".to_string(), vec![entity(2)]),
            (person(3), "person".to_string(), vec![entity(3)]),
        ],
        "the representatives of the three members are restricted; C shares X's and is flagged"
    );
    assert_eq!(related[1].measures, ["enhanced_inspection", "no_new_legal_rep_role"]);

    let out = ok(&["explain", &entity(2), "--as-of", "2026-11-25", "--warehouse", w.root()]);
    assert!(
        out.contains(&format!(
            "list {LIST}: joint, round 1, by JS_CONTROL, via {} (control 60%), roots {}",
            entity(1),
            entity(1)
        )),
        "{out}"
    );
    let out = ok(&["explain", &entity(1), "--as-of", "2026-11-25", "--warehouse", w.root()]);
    assert!(out.contains("V-1 2026-06-01 (177 days)"), "the reason's record with its date and age:\n{out}");
    // Under V_GRAVE (40 points, linear over 1095 days) the record weighs 1 - 177/1095.
    assert!(out.contains("V-1 2026-06-01 (177 days)  -33.53 (weight 0.8384)"), "the record's weighted points:\n{out}");
    let restricted = format!(
        "legal representative {} is restricted on {LIST} by JS_LEGAL_REP (enhanced_inspection, no_new_legal_rep_role), representing members {}",
        person(1),
        entity(1)
    );
    assert!(out.contains(&restricted), "its representative's restriction:\n{out}");
    assert!(out.contains("category counterfeit, severity grave, fine_cny 50000.00, status effective"), "{out}");
    let out = ok(&["explain", &entity(4), "--as-of", "2026-11-25", "--warehouse", w.root()]);
    let flagged = format!("flagged on {LIST} by JS_LEGAL_REP (");
    let through = format!("): its legal representative represents members {}", entity(1));
    assert!(out.contains(&flagged) && out.contains(&through), "C shares X's representative:\n{out}");
    let queue = ok(&["review", "--list", LIST, "--warehouse", w.root(), "--policy", &w.policy]);
    assert!(queue.starts_with("3 个待处理 / in review on serious-dishonesty as of 2026-11-25"), "{queue}");
}

#[test]
fn decisions_change_the_next_run() {
    let w = World::new();
    let (e1, e2, e3) = (entity(1), entity(2), entity(3));
    w.night("2026-11-25", true);
    w.run("2026-11-25");

    // Confirm X, reject A.
    let o = w.decide(&[
        "confirm",
        "--list",
        LIST,
        "--entity",
        &e1,
        "--officer",
        "officer-7",
        "--reason",
        "grave counterfeit case, verified",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = w.decide(&[
        "reject",
        "--list",
        LIST,
        "--entity",
        &e2,
        "--officer",
        "officer-7",
        "--reason",
        "control is disputed in court",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    w.night("2026-11-26", false);
    w.run("2026-11-26");
    assert_eq!(
        w.status("2026-11-26"),
        [
            (e1.clone(), ReviewStatus::Published),
            (e2.clone(), ReviewStatus::Rejected),
            (e3.clone(), ReviewStatus::Pending)
        ]
    );

    // The next night X stays published because it was in the previous publication.
    w.night("2026-11-27", false);
    w.run("2026-11-27");
    assert_eq!(w.status("2026-11-27")[0], (e1.clone(), ReviewStatus::Published));

    // Exempting X takes it off the list and stops it counting as a holder or parent.
    let last_day = chrono::Utc::now().date_naive() + chrono::Days::new(1);
    let o = w.decide(&[
        "exempt",
        "--list",
        LIST,
        "--entity",
        &e1,
        "--officer",
        "senior-1",
        "--reason",
        "pending appeal, court order 17",
        "--until",
        &last_day.to_string(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    w.night("2026-11-28", false);
    w.run("2026-11-28");
    assert!(w.listing("2026-11-28").is_empty(), "X is exempt; A and B lose their basis");
    // The day after the exemption's last day, it is over.
    let after = (last_day + chrono::Days::new(1)).to_string();
    w.night(&after, false);
    w.run(&after);
    assert_eq!(w.listing(&after).len(), 3);
    assert_eq!(
        w.status(&after)[0],
        (e1.clone(), ReviewStatus::Pending),
        "removed while exempt: its return is a new addition (a confirm covers one stretch)"
    );

    // Decisions made after a run started are not used by it, and each run records what it used.
    let store = credence::base::store::Store::open(&w.wh.database()).unwrap();
    let runs = store.runs(10).unwrap();
    assert_eq!(runs.len(), 5);
    let used: i64 = store
        .connection()
        .query_row("SELECT decisions_through FROM runs WHERE run_id = ?1", [runs[0].run_id], |r| r.get(0))
        .unwrap();
    assert_eq!(used, 3);
}

#[test]
fn a_reject_lapses_when_the_rules_change() {
    let w = World::new();
    let e2 = entity(2);
    w.night("2026-11-25", true);
    w.run("2026-11-25");
    let o = w.decide(&[
        "reject",
        "--list",
        LIST,
        "--entity",
        &e2,
        "--officer",
        "o-1",
        "--reason",
        "holding is nominee only",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Now A is also a branch of X: its rules become JS_BRANCH and JS_CONTROL, so the reject no longer holds.
    let rows = [
        reg(1, "company", None, 1, "active"),
        reg(2, "branch", Some(1), 2, "active"),
        reg(3, "branch", Some(1), 3, "active"),
    ];
    land(&w.wh, Dataset::Registry, "2026-11-26", "part-0", &rows.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    let h =
        format!(r#"{{"holder_id":"{}","holder_kind":"entity","entity_id":"{}","share_pct":60}}"#, entity(1), entity(2));
    land(&w.wh, Dataset::Holdings, "2026-11-26", "part-0", &[&h]);
    w.run("2026-11-26");
    let a = w.listing("2026-11-26").into_iter().find(|r| r.entity_id == e2).unwrap();
    assert_eq!(a.rules, ["JS_BRANCH", "JS_CONTROL"]);
    assert_eq!(a.review_status, ReviewStatus::Pending);
}

#[test]
fn refused_decisions_say_why_and_write_nothing() {
    let w = World::new();
    w.night("2026-11-25", true);
    w.run("2026-11-25");
    let (e1, e6) = (entity(1), entity(6));
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec![
                "confirm",
                "--list",
                LIST,
                "--entity",
                &e1,
                "--officer",
                "nobody-registered",
                "--reason",
                "long enough reason",
            ],
            "'nobody-registered' is not a registered, active officer account".into(),
        ),
        (
            vec![
                "exempt",
                "--list",
                LIST,
                "--entity",
                &e1,
                "--officer",
                "o-1",
                "--reason",
                "long enough reason",
                "--until",
                "2099-01-01",
            ],
            "o-1 has the role officer, which may not exempt".into(),
        ),
        (
            vec!["confirm", "--list", LIST, "--entity", &e1, "--officer", "o", "--reason", "too short"],
            "the reason must have at least 10 characters, found 9".into(),
        ),
        (
            vec![
                "confirm",
                "--list",
                "no-such-list",
                "--entity",
                &e1,
                "--officer",
                "o",
                "--reason",
                "long enough reason",
            ],
            "'no-such-list' is not a list of the policy (lists: serious-dishonesty)".into(),
        ),
        (
            vec![
                "exempt",
                "--list",
                LIST,
                "--entity",
                "91350100M000100Y43",
                "--officer",
                "o",
                "--reason",
                "long enough reason",
            ],
            "entity 91350100M000100Y43 is not in the registry (snapshot ingest_date=2026-11-25)".into(),
        ),
        (
            vec!["confirm", "--list", LIST, "--entity", &e6, "--officer", "o", "--reason", "long enough reason"],
            format!("{e6} is not a member of {LIST} as of 2026-11-25"),
        ),
        (
            vec![
                "revoke-exemption",
                "--list",
                LIST,
                "--entity",
                &e1,
                "--officer",
                "o",
                "--reason",
                "long enough reason",
            ],
            format!("no exemption of {e1} from {LIST} is in force"),
        ),
        (
            vec![
                "reject",
                "--list",
                LIST,
                "--entity",
                &e1,
                "--officer",
                "o",
                "--reason",
                "long enough reason",
                "--until",
                "2026-12-01",
            ],
            "until does not apply to reject".into(),
        ),
    ];
    for (args, expected) in cases {
        let o = w.decide(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stderr(&o).starts_with("refused / 拒绝:"), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(&expected), "{args:?}: {}", stderr(&o));
    }
    let o =
        w.decide(&["confirm", "--list", LIST, "--entity", &e1, "--officer", "o", "--reason", "checked the case file"]);
    assert!(o.status.success());
    w.night("2026-11-26", false);
    w.run("2026-11-26");
    let o =
        w.decide(&["confirm", "--list", LIST, "--entity", &e1, "--officer", "o", "--reason", "checked the case file"]);
    assert!(
        stderr(&o).contains(&format!("{e1} is published on {LIST} as of 2026-11-26: there is nothing to review")),
        "{}",
        stderr(&o)
    );
    let store = credence::base::store::Store::open(&w.wh.database()).unwrap();
    assert_eq!(store.last_decision_id().unwrap(), 1, "only the valid decision was stored");
}

#[test]
fn lists_do_not_depend_on_file_order_or_threads() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    ok(&[
        "gen",
        "--warehouse",
        root,
        "--entities",
        "900",
        "--days",
        "2",
        "--seed",
        "21",
        "--as-of",
        "2026-11-27",
        "--chunk",
        "300",
    ]);
    let marts = |d: &Path| -> Vec<Vec<u8>> {
        [
            "marts/scores/as_of=2026-11-27",
            "marts/listings/list=serious-dishonesty/as_of=2026-11-27",
            "marts/related/list=serious-dishonesty/as_of=2026-11-27",
        ]
        .iter()
        .map(|m| std::fs::read(d.join(m).join("part-0.parquet")).unwrap())
        .collect()
    };
    ok(&["run", "--unsigned", "--warehouse", root, "--as-of", "2026-11-27", "--threads", "2"]);
    let first = marts(dir.path());
    let listing = read_listings(&dir.path().join("marts/listings/list=serious-dishonesty/as_of=2026-11-27")).unwrap();
    assert!(listing.iter().any(|r| r.depth > 0), "the generated data has joint members");

    // Reverse the order of every partition's files.
    for ds in ["registry", "holdings", "violations", "complaints", "repairs"] {
        for part in std::fs::read_dir(dir.path().join("landing").join(ds)).unwrap() {
            let part = part.unwrap().path();
            let mut files: Vec<_> = std::fs::read_dir(&part).unwrap().map(|e| e.unwrap().path()).collect();
            files.sort();
            for (i, f) in files.iter().enumerate() {
                std::fs::rename(f, part.join(format!("x-{:02}.parquet", files.len() - i))).unwrap();
            }
        }
    }
    ok(&["run", "--unsigned", "--warehouse", root, "--as-of", "2026-11-27", "--threads", "1"]);
    assert!(first == marts(dir.path()), "file order and thread count must not change any mart");
}
