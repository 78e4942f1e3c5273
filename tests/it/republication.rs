//! The v2 rules of publication.md that are not due process, one regression
//! each on a hand-made warehouse, through the command line: removal
//! reasons `repaired` (a repair landing late, or between D and D.2),
//! `policy_changed` and `joint_basis_ended` by the data, `changed` on every
//! column, partner views against their own previous view (`out_of_region`),
//! a confirm covering one stretch, `held` joint members, a same-day rerun
//! for a new partner, the publication in force for an older as-of, and the
//! decisions a manifest names.

use credence::base::marts::listings::ReviewStatus;
use credence::tools::fixture::entity;

use crate::case::{removed, Case, LIST};
use crate::support::{keys, ok, stderr, stdout, Server};

/// Regression: a repair whose partition landed after its `approved_on`
/// date was reported as `grade_improved` (the run wanted `approved_on`
/// after the previous as-of).
#[test]
fn a_repair_that_lands_late_is_repaired() {
    repair_lands_late(&[]);
}

/// The same with the repairs validated by their plans, whose table is
/// their files (`--plans-make-tables`): the lists read the repair there.
#[test]
fn a_repair_that_lands_late_is_repaired_when_the_plans_make_the_tables() {
    repair_lands_late(&["--plans-make-tables"]);
}

fn repair_lands_late(extra: &[&str]) {
    let c = Case::new();
    c.registry("2026-11-10", &[(1, "company", None, "650100")]);
    c.violations("2026-11-10", &[("V-1", 1, "2026-10-01")]);
    c.run("2026-11-10");
    c.confirm(1);
    assert!(c.run("2026-11-10").contains("published 2026-11-10.2: 1 entries"));
    // Approved on the 10th, landed with the 11th's partition.
    c.registry("2026-11-11", &[(1, "company", None, "650100")]);
    c.repair("2026-11-11", "part-0", 1, "V-1", "2026-11-10");
    let out = c.run_with("2026-11-11", extra);
    assert!(out.contains("published 2026-11-11: 0 entries, 0 added, 1 removed"), "{out}");
    assert_eq!(c.changes("2026-11-11", ""), [removed(1, "repaired")]);
}

/// publication.md v2: `repaired` needs a repair of a record behind the
/// member's last reasons. A repair of another case of the same entity
/// (one decided years before any rule's window) leaves the reason to what
/// else holds: here the grade improved, its grave case decided again as minor.
#[test]
fn a_repair_of_a_case_not_behind_the_reasons_is_not_repaired() {
    let c = Case::new();
    c.registry("2026-11-10", &[(1, "company", None, "650100")]);
    c.violations("2026-11-10", &[("V-1", 1, "2026-10-01"), ("V-9", 1, "2020-01-01")]);
    c.run("2026-11-10");
    c.confirm(1);
    assert!(c.run("2026-11-10").contains("published 2026-11-10.2: 1 entries"));
    c.registry("2026-11-11", &[(1, "company", None, "650100")]);
    c.violations_of("2026-11-11", &[("V-1", 1, "2026-10-01", "counterfeit", "minor")]);
    c.repair("2026-11-11", "part-0", 1, "V-9", "2026-11-10");
    let out = c.run("2026-11-11");
    assert!(out.contains("published 2026-11-11: 0 entries, 0 added, 1 removed"), "{out}");
    assert_eq!(c.changes("2026-11-11", ""), [removed(1, "grade_improved")]);
}

/// Regression: a repair arriving between a publication D and its same-day
/// republication D.2 was reported as `grade_improved`.
#[test]
fn a_repair_between_d_and_its_same_day_republication_is_repaired() {
    let c = Case::new();
    c.registry("2026-11-10", &[(1, "company", None, "650100")]);
    c.violations("2026-11-10", &[("V-1", 1, "2026-10-01")]);
    c.run("2026-11-10");
    c.confirm(1);
    c.run("2026-11-10");
    assert_eq!(c.latest(), "2026-11-10.2");
    c.repair("2026-11-10", "part-1", 1, "V-1", "2026-11-10");
    let out = c.run("2026-11-10");
    assert!(out.contains("published 2026-11-10.3: 0 entries, 0 added, 1 removed"), "{out}");
    assert_eq!(c.changes("2026-11-10.3", ""), [removed(1, "repaired")]);
}

/// X (1) grave; A (2) 60% held by X; B (3) a branch of X; all confirmed and published.
fn joint_world(c: &Case, date: &str) {
    c.registry(
        date,
        &[(1, "company", None, "650100"), (2, "company", None, "650100"), (3, "branch", Some(1), "650100")],
    );
    c.holdings(date, &[(1, 2, 60.0)]);
    c.violations(date, &[("V-1", 1, "2026-10-01")]);
}

fn publish_joint_world(c: &Case) {
    joint_world(c, "2026-11-10");
    c.run("2026-11-10");
    for e in [1, 2, 3] {
        c.confirm(e);
    }
    assert!(c.run("2026-11-10").contains("published 2026-11-10.2: 3 entries"));
}

/// publication.md: an exempt entity is not a candidate, and joint
/// sanctions do not bring it onto the list either: X's branch B, exempt,
/// stays off while X and the company X controls are listed.
#[test]
fn an_exempt_entity_does_not_join_by_joint_sanctions() {
    let c = Case::new();
    joint_world(&c, "2026-11-10");
    c.run("2026-11-10");
    assert!(c.status("2026-11-10", 3).is_some(), "the branch joins before its exemption");
    ok(&[
        "decide",
        "exempt",
        "--list",
        LIST,
        "--entity",
        &entity(3),
        "--officer",
        "sam",
        "--until",
        "2027-06-01",
        "--reason",
        "the branch was sold to an unrelated owner",
        "--warehouse",
        c.root(),
        "--policy",
        &c.policy,
    ]);
    c.run("2026-11-10");
    assert_eq!(c.status("2026-11-10", 3), None, "exempt: no member, direct or joint");
    for e in [1, 2] {
        c.confirm(e);
    }
    let out = c.run("2026-11-10");
    assert!(out.contains("2 entries"), "{out}");
    assert!(!c.entries(&c.latest(), "").contains(&entity(3)));
}

/// Regression: a policy change was reported as `joint_basis_ended` for
/// joint members whose via and roots still held (a policy without
/// JS_BRANCH; a control threshold raised from 50 to 70 over a 60% holding).
#[test]
fn a_policy_change_is_policy_changed() {
    let c = Case::new();
    publish_joint_world(&c);
    joint_world(&c, "2026-11-11");
    let stricter = c.policy_edited(
        "stricter.yaml",
        &[
            ("threshold_pct: 50", "threshold_pct: 70"),
            ("    - id: JS_BRANCH\n      list: serious-dishonesty\n      relation: branch\n", ""),
        ],
    );
    let out = c.run_with("2026-11-11", &["--policy", &stricter]);
    assert!(out.contains("published 2026-11-11: 1 entries, 0 added, 2 removed"), "{out}");
    assert_eq!(c.changes("2026-11-11", ""), [removed(2, "policy_changed"), removed(3, "policy_changed")]);
}

/// `joint_basis_ended` is decided by the data: the holding is gone. It
/// comes before `policy_changed`; a measures-only change shows as `changed`.
#[test]
fn a_holding_gone_is_joint_basis_ended_and_changed_covers_measures() {
    let c = Case::new();
    publish_joint_world(&c);
    c.registry(
        "2026-11-11",
        &[(1, "company", None, "650100"), (2, "company", None, "650100"), (3, "branch", Some(1), "650100")],
    );
    c.holdings("2026-11-11", &[]);
    c.violations("2026-11-11", &[("V-1", 1, "2026-10-01")]);
    let measures = c.policy_edited(
        "measures.yaml",
        &[(
            "measures: [public_procurement_ban, enhanced_inspection, no_honours]",
            "measures: [public_procurement_ban, no_honours]",
        )],
    );
    let out = c.run_with("2026-11-11", &["--policy", &measures]);
    assert!(out.contains("published 2026-11-11: 2 entries, 0 added, 1 removed, 2 changed"), "{out}");
    assert_eq!(
        c.changes("2026-11-11", ""),
        [
            ("changed".into(), entity(1), String::new()),
            removed(2, "joint_basis_ended"),
            ("changed".into(), entity(3), String::new())
        ]
    );
}

/// `joint_basis_ended` when the branch link is gone: B (3) becomes the
/// branch of an unlisted company (4) while its old parent X stays on the
/// list. A mutant that took the old parent's link as still there
/// (reporting `grade_improved`) survived every test before.
#[test]
fn a_branch_moved_to_another_parent_is_joint_basis_ended() {
    let c = Case::new();
    publish_joint_world(&c);
    c.registry(
        "2026-11-11",
        &[
            (1, "company", None, "650100"),
            (2, "company", None, "650100"),
            (3, "branch", Some(4), "650100"),
            (4, "company", None, "650100"),
        ],
    );
    c.holdings("2026-11-11", &[(1, 2, 60.0)]);
    c.violations("2026-11-11", &[("V-1", 1, "2026-10-01")]);
    let out = c.run("2026-11-11");
    assert!(out.contains("published 2026-11-11: 2 entries, 0 added, 1 removed"), "{out}");
    assert_eq!(c.changes("2026-11-11", ""), [removed(3, "joint_basis_ended")]);
}

/// Regression: two listed entities swapped regions; the view of a partner
/// limited to `65` swapped its entries but its changes were empty.
#[test]
fn a_region_swap_moves_entities_between_partner_views() {
    let c = Case::new();
    let partners = c.dir.path().join("partners.yaml");
    std::fs::write(
        &partners,
        "partners:\n  - { id: xj, name: Xinjiang, lists: [serious-dishonesty], columns: [entity_id, name, region], formats: [csv], regions: ['65'] }\n",
    )
    .unwrap();
    let p = partners.to_str().unwrap();
    c.registry("2026-11-10", &[(1, "company", None, "650100"), (4, "company", None, "110000")]);
    c.violations("2026-11-10", &[("V-1", 1, "2026-10-01"), ("V-4", 4, "2026-10-01")]);
    c.run_with("2026-11-10", &["--partners", p]);
    c.confirm(1);
    c.confirm(4);
    c.run_with("2026-11-10", &["--partners", p]);
    assert_eq!(c.entries("2026-11-10.2", "partners/xj"), [entity(1)]);
    c.registry("2026-11-11", &[(1, "company", None, "110000"), (4, "company", None, "650100")]);
    c.violations("2026-11-11", &[("V-1", 1, "2026-10-01"), ("V-4", 4, "2026-10-01")]);
    let out = c.run_with("2026-11-11", &["--partners", p]);
    assert!(out.contains("published 2026-11-11: 2 entries, 0 added, 0 removed, 2 changed"), "{out}");
    assert_eq!(c.entries("2026-11-11", "partners/xj"), [entity(4)]);
    assert_eq!(
        c.changes("2026-11-11", "partners/xj"),
        [removed(1, "out_of_region"), ("added".into(), entity(4), String::new())],
        "the view's changes, against its own previous view, add up"
    );
}

/// Regression: a member confirmed as a joint member, removed, and back a
/// day later as a direct member was published with no review.
#[test]
fn a_confirm_covers_one_stretch() {
    let c = Case::new();
    publish_joint_world(&c);
    // The holding goes: A leaves the list.
    c.registry(
        "2026-11-11",
        &[(1, "company", None, "650100"), (2, "company", None, "650100"), (3, "branch", Some(1), "650100")],
    );
    c.holdings("2026-11-11", &[]);
    c.violations("2026-11-11", &[("V-1", 1, "2026-10-01")]);
    c.run("2026-11-11");
    assert_eq!(c.changes("2026-11-11", ""), [removed(2, "joint_basis_ended")]);
    // A day later it is back, for a case of its own.
    c.registry(
        "2026-11-12",
        &[(1, "company", None, "650100"), (2, "company", None, "650100"), (3, "branch", Some(1), "650100")],
    );
    c.holdings("2026-11-12", &[]);
    c.violations("2026-11-12", &[("V-1", 1, "2026-10-01"), ("V-2", 2, "2026-11-01")]);
    let out = c.run("2026-11-12");
    assert!(out.contains("published 2026-11-12"), "{out}");
    assert_eq!(c.status("2026-11-12", 2), Some(ReviewStatus::Pending), "a new addition, reviewed again");
    assert!(!c.entries(&c.latest(), "").contains(&entity(2)), "not published without review");
}

/// A joint member none of whose roots is published is `held`, and no
/// entry names a root that is not on the list.
#[test]
fn a_joint_member_without_a_published_root_is_held() {
    let c = Case::new();
    joint_world(&c, "2026-11-10");
    c.run("2026-11-10");
    c.confirm(2);
    let out = c.run("2026-11-10");
    assert!(out.contains("nothing new"), "{out}");
    assert_eq!(c.status("2026-11-10", 2), Some(ReviewStatus::Held));
    assert_eq!(c.status("2026-11-10", 1), Some(ReviewStatus::Pending));
    c.confirm(1);
    let out = c.run("2026-11-10");
    assert!(out.contains("published 2026-11-10.2: 2 entries"), "{out}");
}

/// A joint member's entry names only its roots that are published: A (2),
/// controlled by X (1) and Y (4) together, is published with X's
/// confirmation while Y waits for review, and its entry names X alone
/// (its listing row both). A mutant that published every root survived
/// every test before.
#[test]
fn a_joint_entry_names_only_its_published_roots() {
    let c = Case::new();
    c.registry(
        "2026-11-10",
        &[(1, "company", None, "650100"), (2, "company", None, "650100"), (4, "company", None, "650100")],
    );
    c.holdings("2026-11-10", &[(1, 2, 30.0), (4, 2, 30.0)]);
    c.violations("2026-11-10", &[("V-1", 1, "2026-10-01"), ("V-4", 4, "2026-10-01")]);
    c.run("2026-11-10");
    c.confirm(1);
    c.confirm(2);
    let out = c.run("2026-11-10");
    assert!(out.contains("published 2026-11-10.2: 2 entries"), "{out}");
    assert_eq!(c.status("2026-11-10", 4), Some(ReviewStatus::Pending));
    let listing = credence::base::marts::listings::read_listings(&c.wh.list_mart(
        credence::base::warehouse::Mart::Listings,
        LIST,
        "2026-11-10".parse().unwrap(),
    ))
    .unwrap();
    let a = listing.iter().find(|r| r.entity_id == entity(2)).unwrap();
    assert_eq!(a.roots, [entity(1), entity(4)]);
    let entries =
        credence::stages::publish::files::read_entries(&c.dir_of("2026-11-10.2").join("entries.parquet")).unwrap();
    let a = entries.iter().find(|e| e.entity_id == entity(2)).unwrap();
    assert_eq!(a.roots, [entity(1)], "Y is not on the published list");
}

/// A same-day rerun publishes when a partner entitled to the list has no
/// view in the previous publication, then is idempotent again.
#[test]
fn a_same_day_rerun_publishes_for_a_new_partner() {
    let c = Case::new();
    c.registry("2026-11-10", &[(1, "company", None, "650100")]);
    c.violations("2026-11-10", &[("V-1", 1, "2026-10-01")]);
    let one = c.dir.path().join("one.yaml");
    let two = c.dir.path().join("two.yaml");
    let p = |id: &str| {
        format!("  - {{ id: {id}, name: {id}, lists: [serious-dishonesty], columns: [entity_id], formats: [csv] }}\n")
    };
    std::fs::write(&one, format!("partners:\n{}", p("a"))).unwrap();
    std::fs::write(&two, format!("partners:\n{}{}", p("a"), p("b"))).unwrap();
    c.run_with("2026-11-10", &["--partners", one.to_str().unwrap()]);
    assert!(c.run_with("2026-11-10", &["--partners", one.to_str().unwrap()]).contains("nothing new"));
    let out = c.run_with("2026-11-10", &["--partners", two.to_str().unwrap()]);
    assert!(out.contains("published 2026-11-10.2: 0 entries"), "{out}");
    assert!(c.dir_of("2026-11-10.2").join("partners/b/manifest.json").exists());
    assert!(c.run_with("2026-11-10", &["--partners", two.to_str().unwrap()]).contains("nothing new"));
}

/// An older as-of compares with the publication in force on its date, not
/// with LATEST: a member of that publication stays `published` there.
#[test]
fn an_older_as_of_reads_the_publication_in_force_on_its_date() {
    let c = Case::new();
    let reg = [(1, "company", None, "650100")];
    c.registry("2026-11-10", &reg);
    c.violations("2026-11-10", &[("V-1", 1, "2026-10-01")]);
    c.run("2026-11-10");
    c.confirm(1);
    c.run("2026-11-10");
    // Repaired on the 11th: removed. Back on the 12th for a new case: a new stretch.
    c.registry("2026-11-11", &reg);
    c.repair("2026-11-11", "part-0", 1, "V-1", "2026-11-11");
    c.run("2026-11-11");
    c.registry("2026-11-12", &reg);
    c.violations("2026-11-12", &[("V-9", 1, "2026-11-05")]);
    c.run("2026-11-12");
    assert_eq!(c.status("2026-11-12", 1), Some(ReviewStatus::Pending), "its confirm covered the first stretch only");
    let out = c.run("2026-11-10");
    assert!(out.contains("not published: publication 2026-11-12 is newer"), "{out}");
    assert_eq!(
        c.status("2026-11-10", 1),
        Some(ReviewStatus::Published),
        "2026-11-10.2, in force on the 10th, holds it"
    );
}

/// The publication in force on an older date is the newest of that very
/// date when there is one (publication.md v2: "on or before"). X (1),
/// confirmed and first published on the 11th, has new rules later that
/// day: it stays published, being in the publication in force. Rerun as
/// of the 11th once the 12th is published, it is still published there;
/// read against the 10th's publication instead (a mutant that took the
/// newest publication before the date, surviving every test before), its
/// confirm no longer holds and it would be pending.
#[test]
fn an_older_as_of_reads_the_publication_of_its_own_date() {
    let c = Case::new();
    let reg = [(1, "company", None, "650100"), (2, "company", None, "650100")];
    c.registry("2026-11-10", &reg);
    c.run("2026-11-10");
    c.registry("2026-11-11", &reg);
    c.violations("2026-11-11", &[("V-1", 1, "2026-10-01")]);
    c.run("2026-11-11");
    c.confirm(1);
    assert!(c.run("2026-11-11").contains("1 entries"));
    c.violations_of(
        "2026-11-11",
        &[("V-1", 1, "2026-10-01", "counterfeit", "grave"), ("V-2", 1, "2026-10-05", "other", "serious")],
    );
    c.run("2026-11-11");
    assert_eq!(
        c.status("2026-11-11", 1),
        Some(ReviewStatus::Published),
        "new rules, still in the publication in force"
    );
    c.registry("2026-11-12", &reg);
    c.violations("2026-11-12", &[("V-3", 2, "2026-10-01")]);
    c.run("2026-11-12");
    c.confirm(2);
    assert!(c.run("2026-11-12").contains("2 entries"));
    let out = c.run("2026-11-11");
    assert!(out.contains("not published: publication 2026-11-12.2 is newer"), "{out}");
    assert_eq!(
        c.status("2026-11-11", 1),
        Some(ReviewStatus::Published),
        "in force on the 11th: the 11th's own publication"
    );
}

/// The manifest names the decisions the run used: the newest id, and the
/// SHA-256 of the list's decisions, one JSON object a line with every
/// stored field, rebuilt here from the database itself.
#[test]
fn the_manifest_names_the_decisions_used() {
    let c = Case::new();
    c.registry("2026-11-10", &[(1, "company", None, "650100")]);
    c.violations("2026-11-10", &[("V-1", 1, "2026-10-01")]);
    c.run("2026-11-10");
    c.confirm(1);
    c.run("2026-11-10");
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(c.dir_of("2026-11-10.2").join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["decisions_through"], 1);
    let db = rusqlite::Connection::open(c.wh.database()).unwrap();
    let mut stmt =
        db.prepare("SELECT * FROM decisions WHERE list_id = ?1 AND decision_id <= 1 ORDER BY decision_id").unwrap();
    let names: Vec<String> = stmt.column_names().map(|s| s.to_string()).collect();
    let lines: Vec<String> = stmt
        .query_map([LIST], |r| {
            let mut o = serde_json::Map::new();
            for (i, n) in names.iter().enumerate() {
                let v = match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => serde_json::Value::Null,
                    rusqlite::types::ValueRef::Integer(x) => x.into(),
                    rusqlite::types::ValueRef::Text(t) => {
                        let t = String::from_utf8_lossy(t).into_owned();
                        if n == "rules" {
                            serde_json::from_str(&t).unwrap()
                        } else {
                            t.into()
                        }
                    }
                    other => panic!("{n}: {other:?}"),
                };
                o.insert(n.clone(), v);
            }
            Ok(serde_json::Value::Object(o).to_string() + "\n")
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(lines.len(), 1);
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(lines.concat().as_bytes()));
    assert_eq!(m["decisions_sha256"], sha.as_str());
}

/// ops/partner-mirror.py, as ops/partner-README.md tells a partner to run
/// it, keeps a mirror of a region-limited view in sync from the changes
/// over a sequence of publications (a region swap, a repair, a same-day
/// republication), verifying signatures and hashes first; with the wrong
/// public key it refuses and leaves the mirror as it was.
#[test]
fn the_partner_mirror_script_keeps_a_view_in_sync_from_changes() {
    let c = Case::new();
    let partners = c.dir.path().join("partners.yaml");
    std::fs::write(
        &partners,
        "partners:\n  - { id: xj, name: Xinjiang, lists: [serious-dishonesty], columns: [entity_id, name, region, basis, roots, listed_since, measures], formats: [parquet], regions: ['65'] }\n",
    )
    .unwrap();
    let p = partners.to_str().unwrap();
    let regions = |a: &'static str, b: &'static str| {
        [
            (1, "company", None, a),
            (4, "company", None, b),
            (5, "company", None, "650200"),
            (6, "branch", Some(5), "650201"),
        ]
    };
    let cases = [("V-1", 1, "2026-10-01"), ("V-4", 4, "2026-10-01"), ("V-5", 5, "2026-10-01")];
    c.registry("2026-11-10", &regions("650100", "110000"));
    c.violations("2026-11-10", &cases);
    c.run_with("2026-11-10", &["--partners", p]);
    for e in [1, 4, 5, 6] {
        c.confirm(e);
    }
    c.run_with("2026-11-10", &["--partners", p]);
    let token =
        ok(&["partners", "token", "issue", "xj", "--warehouse", c.root(), "--partners", p, "--policy", &c.policy]);
    let mut server = Server::start(c.wh.root(), &["--partners", p, "--policy", &c.policy, "--public-key", &c.pk]);
    let mirror = c.dir.path().join("mirror");
    let python = std::env::var("CREDENCE_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = crate::support::repo_root().join("ops/partner-mirror.py");
    let sync = |key: &str| {
        std::process::Command::new(&python)
            .arg(&script)
            .args(["--api", &format!("{}/api/v1", server.base), "--token", token.trim(), "--list", LIST])
            .args(["--public-key", key, "--mirror", mirror.to_str().unwrap()])
            .output()
            .expect("python3 with pyarrow (.ci/run installs it; CREDENCE_PYTHON names the interpreter)")
    };
    let mirrored = || crate::support::parquet_rows(&mirror.join("entries.parquet"));
    let view = |id: &str| crate::support::parquet_rows(&c.dir_of(id).join("partners/xj/entries.parquet"));
    let in_sync = |id: &str| {
        let o = sync(&c.pk);
        assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
        assert!(stdout(&o).contains(&format!("up to date at {id}")), "{}", stdout(&o));
        assert_eq!(mirrored(), view(id), "the mirror equals the view of {id}");
    };
    in_sync("2026-11-10.2");

    // Next night: 1 and 4 swap regions, 5 is repaired (its branch 6 goes with it).
    c.registry("2026-11-11", &regions("110000", "650100"));
    c.violations("2026-11-11", &cases);
    c.repair("2026-11-11", "part-0", 5, "V-5", "2026-11-11");
    c.run_with("2026-11-11", &["--partners", p]);
    assert_eq!(c.latest(), "2026-11-11");
    // A same-day republication: 7 lands with a case of its own and is confirmed.
    let mut renamed = regions("110000", "650100").to_vec();
    renamed.push((7, "company", None, "650100"));
    c.registry("2026-11-11", &renamed);
    c.violations(
        "2026-11-11",
        &[("V-1", 1, "2026-10-01"), ("V-4", 4, "2026-10-01"), ("V-5", 5, "2026-10-01"), ("V-7", 7, "2026-10-01")],
    );
    c.run_with("2026-11-11", &["--partners", p]);
    c.confirm(7);
    c.run_with("2026-11-11", &["--partners", p]);
    assert_eq!(c.latest(), "2026-11-11.2");
    let before = std::fs::read(mirror.join("entries.parquet")).unwrap();
    let other = tempfile::tempdir().unwrap();
    let (_, wrong) = keys(other.path());
    let o = sync(&wrong);
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("refused: the manifest's signature does not verify"), "{}", stderr(&o));
    assert_eq!(std::fs::read(mirror.join("entries.parquet")).unwrap(), before, "the mirror is unchanged");
    in_sync("2026-11-11.2");
    let view_now = view("2026-11-11.2");
    assert!(
        view_now.iter().any(|r| r["entity_id"] == entity(4)) && view_now.iter().any(|r| r["entity_id"] == entity(7))
    );
    assert!(!view_now.iter().any(|r| r["entity_id"] == entity(1) || r["entity_id"] == entity(5)));
    server.stop();
}
