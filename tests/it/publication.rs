//! Publications across a sequence of nightly runs: entries, changes and
//! removal reasons, republication, idempotence, rebuilds, signatures.

use std::path::Path;

use credence::base::contract::Dataset;
use credence::base::warehouse::Warehouse;
use credence::tools::fixture::{entity, land, person};

use crate::support::{add_officer, credence, keys, minisign_verifies, ok, policy_with, stderr, stdout};

const LIST: &str = "serious-dishonesty";

fn reg(n: u32, kind: &str, parent: Option<u32>, status: &str, region: &str) -> String {
    let parent = parent.map(|p| format!(r#","parent_id":"{}""#, entity(p))).unwrap_or_default();
    format!(
        r#"{{"entity_id":"{}","name":"Entity {n}, Ltd.","entity_type":"{kind}","legal_rep_id":"{}","region":"{region}","established_on":"2015-01-01","status":"{status}","online_store":"https://mall.example.cn/{n}"{parent}}}"#,
        entity(n),
        person(n)
    )
}

fn grave(case: &str, e: u32, decided: &str) -> String {
    format!(
        r#"{{"case_id":"{case}","entity_id":"{}","decided_on":"{decided}","category":"counterfeit","severity":"grave","fine_cny":"1000.00","status":"effective","authority":"650100"}}"#,
        entity(e)
    )
}

struct Nightly {
    dir: tempfile::TempDir,
    wh: Warehouse,
    sk: String,
    pk: String,
    /// The example policy without notice, one officer deciding: these tests
    /// are about publication, not due process.
    policy: String,
}

impl Nightly {
    fn new() -> Nightly {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::new(dir.path().join("wh"));
        let (sk, pk) = keys(dir.path());
        let policy = policy_with(dir.path(), 0, "single");
        std::fs::create_dir_all(wh.root()).unwrap();
        let n = Nightly { dir, wh, sk, pk, policy };
        add_officer(n.root(), "o-1", "officer");
        add_officer(n.root(), "s-1", "senior");
        n
    }

    /// The first night landed, run, every member confirmed and run again:
    /// publication 2026-11-20.2 holds all seven.
    fn published_first_night() -> Nightly {
        let n = Nightly::new();
        night(&n, "2026-11-20", "active", "effective");
        n.run("2026-11-20");
        n.confirm_all();
        n.run("2026-11-20");
        n
    }

    fn root(&self) -> &str {
        self.wh.root().to_str().unwrap()
    }

    fn run(&self, date: &str) -> String {
        ok(&["run", "--warehouse", self.root(), "--policy", &self.policy, "--as-of", date, "--signing-key", &self.sk])
    }

    fn confirm_all(&self) {
        let queue = ok(&["review", "--list", LIST, "--warehouse", self.root(), "--policy", &self.policy]);
        for line in queue.lines().filter(|l| l.starts_with('9')) {
            let id = line.split_whitespace().next().unwrap();
            ok(&[
                "decide",
                "confirm",
                "--list",
                LIST,
                "--entity",
                id,
                "--officer",
                "o-1",
                "--reason",
                "reviewed the case file",
                "--warehouse",
                self.root(),
                "--policy",
                &self.policy,
            ]);
        }
    }

    fn latest(&self) -> String {
        std::fs::read_to_string(self.wh.published(LIST).join("LATEST")).unwrap().trim().to_string()
    }

    fn pub_dir(&self, id: &str) -> std::path::PathBuf {
        self.wh.published(LIST).join(id)
    }

    /// (action, entity, removal_reason) of a publication's changes.csv.
    fn changes(&self, id: &str) -> Vec<(String, String, String)> {
        let text = std::fs::read_to_string(self.pub_dir(id).join("changes.csv")).unwrap();
        let mut r = csv_rows(&text);
        let header = r.remove(0);
        let at = |name: &str| header.iter().position(|h| h == name).unwrap();
        r.into_iter()
            .map(|row| (row[at("action")].clone(), row[at("entity_id")].clone(), row[at("removal_reason")].clone()))
            .collect()
    }
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect()
}

/// Entities: 1 grave (direct), 2 branch of 1, 3 grave, 4 grave (will be repaired),
/// 5 grave (will be revoked in the registry), 6 grave (will be exempted), 7 grave then revoked case.
fn night(n: &Nightly, date: &str, registry_status_5: &str, case_7_status: &str) {
    let rows = [
        reg(1, "company", None, "active", "650100"),
        reg(2, "branch", Some(1), "active", "650102"),
        reg(3, "company", None, "active", "350100"),
        reg(4, "company", None, "active", "650100"),
        reg(5, "company", None, registry_status_5, "650100"),
        reg(6, "company", None, "active", "650100"),
        reg(7, "company", None, "active", "110000"),
    ];
    land(&n.wh, Dataset::Registry, date, "part-0", &rows.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    let mut v: Vec<String> = [1, 3, 4, 5, 6].iter().map(|e| grave(&format!("V-{e}"), *e, "2026-10-01")).collect();
    v.push(grave("V-7", 7, "2026-10-01").replace("effective", case_7_status));
    land(&n.wh, Dataset::Violations, date, "part-0", &v.iter().map(|s| s.as_str()).collect::<Vec<_>>());
}

#[test]
fn changes_and_removal_reasons_across_nights() {
    let n = Nightly::new();
    night(&n, "2026-11-20", "active", "effective");
    let out = n.run("2026-11-20");
    assert!(out.contains("published 2026-11-20: 0 entries"), "everything is pending at first:\n{out}");
    n.confirm_all();
    let out = n.run("2026-11-20");
    assert!(out.contains("published 2026-11-20.2: 7 entries, 7 added, 0 removed, 0 changed"), "{out}");
    assert_eq!(n.latest(), "2026-11-20.2");

    // A rerun with the same inputs, policy and decisions publishes nothing new.
    let out = n.run("2026-11-20");
    assert!(out.contains("nothing new: the entries equal publication 2026-11-20.2"), "{out}");
    assert_eq!(n.latest(), "2026-11-20.2");

    // Next night: 4 repaired, 5 revoked in the registry (out of scope), 6 exempt,
    // 7's case revoked on appeal; 1 stays, so its branch 2 stays.
    let until = (chrono::Utc::now().date_naive() + chrono::Days::new(30)).to_string();
    ok(&[
        "decide",
        "exempt",
        "--until",
        &until,
        "--list",
        LIST,
        "--entity",
        &entity(6),
        "--officer",
        "s-1",
        "--reason",
        "court suspended the decision",
        "--warehouse",
        n.root(),
        "--policy",
        &n.policy,
    ]);
    night(&n, "2026-11-21", "revoked", "revoked");
    let repair =
        format!(r#"{{"repair_id":"R-4","entity_id":"{}","case_id":"V-4","approved_on":"2026-11-21"}}"#, entity(4));
    land(&n.wh, Dataset::Repairs, "2026-11-21", "part-0", &[&repair]);
    let out = n.run("2026-11-21");
    assert!(out.contains("published 2026-11-21: 3 entries, 0 added, 4 removed, 0 changed"), "{out}");
    let removed: Vec<(String, String)> = n.changes("2026-11-21").into_iter().map(|(_, e, r)| (e, r)).collect();
    assert_eq!(
        removed,
        [
            (entity(4), "repaired".to_string()),
            (entity(5), "out_of_scope".to_string()),
            (entity(6), "exempted".to_string()),
            (entity(7), "grade_improved".to_string()),
        ]
    );

    // Entity 1's case is repaired: 1 leaves (repaired), and its branch 2 with it (joint_basis_ended).
    night(&n, "2026-11-22", "revoked", "revoked");
    let repair1 =
        format!(r#"{{"repair_id":"R-1","entity_id":"{}","case_id":"V-1","approved_on":"2026-11-22"}}"#, entity(1));
    land(&n.wh, Dataset::Repairs, "2026-11-22", "part-0", &[&repair1]);
    n.run("2026-11-22");
    let c = n.changes("2026-11-22");
    assert_eq!(
        c,
        [("removed".into(), entity(1), "repaired".into()), ("removed".into(), entity(2), "joint_basis_ended".into())]
    );

    // listed_since keeps the first date of an unbroken stretch.
    let entries = std::fs::read_to_string(n.pub_dir("2026-11-22").join("entries.csv")).unwrap();
    let rows = csv_rows(&entries);
    assert_eq!(rows.len(), 2, "header and entity 3");
    let since = rows[0].iter().position(|h| h == "listed_since").unwrap();
    assert_eq!(rows[1][since], "2026-11-20");

    // A run as of an older date recomputes its marts but never publishes.
    let out = n.run("2026-11-21");
    assert!(out.contains("not published: publication 2026-11-22 is newer, a list never goes back in time"), "{out}");
    assert_eq!(n.latest(), "2026-11-22");

    // Every publication verifies with the stock minisign and with credence verify.
    for id in ["2026-11-20", "2026-11-20.2", "2026-11-21", "2026-11-22"] {
        let dir = n.pub_dir(id);
        assert!(minisign_verifies(&dir, &n.pk), "{id}");
        ok(&["verify", dir.to_str().unwrap(), "--public-key", &n.pk]);
        for p in std::fs::read_dir(dir.join("partners")).unwrap() {
            let p = p.unwrap().path();
            assert!(minisign_verifies(&p, &n.pk), "{}", p.display());
            ok(&["verify", p.to_str().unwrap(), "--public-key", &n.pk]);
        }
    }
}

/// A member already published stays published while it stays on the
/// list, even when its rules change (publication.md "Review status": only
/// additions wait for review): the branch 2, whose rule a new policy
/// renamed, is `changed`, not removed and not pending again.
#[test]
fn a_published_member_whose_rules_a_new_policy_changes_stays_published() {
    let n = Nightly::published_first_night();
    let text = std::fs::read_to_string(&n.policy).unwrap();
    assert_eq!(text.matches("id: JS_BRANCH\n").count(), 1);
    let renamed = n.dir.path().join("renamed.yaml");
    std::fs::write(&renamed, text.replace("id: JS_BRANCH\n", "id: JS_BRANCH_2\n")).unwrap();
    night(&n, "2026-11-21", "active", "effective");
    let renamed = renamed.to_str().unwrap();
    ok(&["run", "--warehouse", n.root(), "--policy", renamed, "--as-of", "2026-11-21", "--signing-key", &n.sk]);
    assert_eq!(n.changes("2026-11-21"), [("changed".to_string(), entity(2), String::new())]);
    let entries = std::fs::read_to_string(n.pub_dir("2026-11-21").join("entries.csv")).unwrap();
    assert!(entries.contains("JS_BRANCH_2"), "{entries}");
}

#[test]
fn partner_views_hold_only_their_regions_columns_and_formats() {
    let n = Nightly::published_first_night();
    let view = n.pub_dir("2026-11-20.2").join("partners");
    let xj = std::fs::read_to_string(view.join("procurement-xj/entries.csv")).unwrap();
    let rows = csv_rows(&xj);
    assert_eq!(
        rows[0],
        ["entity_id", "name", "region", "list_id", "basis", "depth", "rules", "roots", "listed_since", "measures"]
    );
    assert!(rows[1..].iter().all(|r| r[2].starts_with("65")), "only region 65...: {rows:?}");
    assert_eq!(rows.len() - 1, 5, "entities 1, 2, 4, 5, 6 are registered in Xinjiang");
    assert!(!view.join("procurement-xj/entries.parquet").exists(), "csv only");
    let names: Vec<String> = std::fs::read_dir(view.join("platform-association"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"entries.parquet".to_string()) && !names.iter().any(|n| n.ends_with(".csv")));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(view.join("platform-association/manifest.json")).unwrap()).unwrap();
    assert_eq!(m["partner"], "platform-association");
    assert_eq!(m["counts"]["entries"], 7);
}

#[test]
fn a_rebuild_gives_byte_identical_entries_and_changes() {
    let n = Nightly::published_first_night();
    night(&n, "2026-11-21", "revoked", "effective");
    n.run("2026-11-21");
    let files = ["entries.parquet", "entries.csv", "changes.parquet", "changes.csv", "partners/tax-bureau/entries.csv"];
    let read = |id: &str| files.iter().map(|f| std::fs::read(n.pub_dir(id).join(f)).unwrap()).collect::<Vec<_>>();
    let before = read("2026-11-21");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(n.pub_dir("2026-11-21").join("manifest.json")).unwrap()).unwrap();

    // Roll the list back to 2026-11-20.2 and run 2026-11-21 again.
    std::fs::remove_dir_all(n.pub_dir("2026-11-21")).unwrap();
    std::fs::write(n.wh.published(LIST).join("LATEST"), "2026-11-20.2\n").unwrap();
    n.run("2026-11-21");
    assert_eq!(read("2026-11-21"), before);
    let again: serde_json::Value =
        serde_json::from_slice(&std::fs::read(n.pub_dir("2026-11-21").join("manifest.json")).unwrap()).unwrap();
    assert_eq!(again["files"], manifest["files"], "the same hashes");
    assert_eq!(again["inputs"], manifest["inputs"]);
    assert_eq!(manifest["previous_publication_id"], "2026-11-20.2");
    assert_eq!(manifest["policy"]["id"], "online-market");
}

#[test]
fn tampering_is_detected_by_minisign_and_verify() {
    let n = Nightly::published_first_night();
    let copy = n.dir.path().join("download");
    copy_dir(&n.pub_dir("2026-11-20.2").join("partners/tax-bureau"), &copy);
    ok(&["verify", copy.to_str().unwrap(), "--public-key", &n.pk]);

    // A changed entries file: the manifest's hash no longer matches.
    let csv = copy.join("entries.csv");
    let text = std::fs::read_to_string(&csv).unwrap().replacen("Entity 1,", "Entity 9,", 1);
    std::fs::write(&csv, text).unwrap();
    let o = credence(&["verify", copy.to_str().unwrap(), "--public-key", &n.pk]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("FAILED: entries.csv: SHA-256"), "{}", stderr(&o));

    // A changed manifest: the signature no longer verifies, for minisign too.
    let manifest = copy.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap().replace("\"rows\": 7", "\"rows\": 6");
    std::fs::write(&manifest, text).unwrap();
    assert!(!minisign_verifies(&copy, &n.pk));
    let o = credence(&["verify", copy.to_str().unwrap(), "--public-key", &n.pk]);
    assert!(stderr(&o).contains("manifest.json: the signature does not verify"), "{}", stderr(&o));

    // Another key does not verify it either.
    let other = tempfile::tempdir().unwrap();
    let (_, other_pk) = keys(other.path());
    assert!(!minisign_verifies(&n.pub_dir("2026-11-20.2"), &other_pk));

    // A copy made to look unsigned (its signature removed, its manifest
    // saying unsigned, every hash still right) is refused with the key.
    let forged = n.dir.path().join("forged");
    copy_dir(&n.pub_dir("2026-11-20.2").join("partners/tax-bureau"), &forged);
    let text = std::fs::read_to_string(forged.join("manifest.json")).unwrap();
    assert!(text.contains("\"signed\": true"));
    std::fs::write(forged.join("manifest.json"), text.replace("\"signed\": true", "\"signed\": false")).unwrap();
    std::fs::remove_file(forged.join("manifest.json.minisig")).unwrap();
    let o = credence(&["verify", forged.to_str().unwrap(), "--public-key", &n.pk]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("manifest.json: the manifest says the publication is unsigned"), "{}", stderr(&o));

    // A partner's view moved under another partner's name: each view's
    // manifest must name the partner whose folder holds it.
    let moved = n.dir.path().join("moved");
    copy_dir(&n.pub_dir("2026-11-20.2"), &moved);
    std::fs::rename(moved.join("partners/tax-bureau"), moved.join("partners/tax-office")).unwrap();
    let o = credence(&["verify", moved.to_str().unwrap(), "--public-key", &n.pk]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(
            "partners/tax-office/manifest.json: is the view of partner tax-bureau, expected the view of partner tax-office"
        ),
        "{}",
        stderr(&o)
    );
    // The whole publication's manifest put in a view's place.
    std::fs::copy(moved.join("manifest.json"), moved.join("partners/tax-office/manifest.json")).unwrap();
    let o = credence(&["verify", moved.to_str().unwrap(), "--public-key", &n.pk]);
    assert!(
        stderr(&o).contains(
            "partners/tax-office/manifest.json: is the whole publication, expected the view of partner tax-office"
        ),
        "{}",
        stderr(&o)
    );
    // A folder under partners/ whose name no partner id can have is not a view.
    copy_dir(&moved.join("partners/tax-office"), &moved.join("partners/.tax bureau"));
    let o = credence(&["verify", moved.to_str().unwrap(), "--public-key", &n.pk]);
    assert!(stderr(&o).contains("partners/.tax bureau: not a partner view"), "{}", stderr(&o));
}

/// An unsigned publication is checked by its hashes before a run builds
/// on it; a signature file beside its unsigned manifest does not belong
/// there, and the next run refuses to build on it (a mutant that let it
/// through survived every test before).
#[test]
fn a_signature_beside_an_unsigned_publication_stops_the_next_run() {
    let n = Nightly::new();
    night(&n, "2026-11-20", "active", "effective");
    let unsigned =
        |date: &str| credence(&["run", "--unsigned", "--warehouse", n.root(), "--policy", &n.policy, "--as-of", date]);
    assert!(unsigned("2026-11-20").status.success());
    std::fs::write(n.pub_dir("2026-11-20").join("manifest.json.minisig"), "untrusted comment: x\n").unwrap();
    let o = unsigned("2026-11-20");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("manifest.json.minisig: a signature of an unsigned manifest"), "{}", stderr(&o));
}

#[test]
fn publishing_needs_a_key_or_an_explicit_unsigned() {
    let n = Nightly::new();
    night(&n, "2026-11-20", "active", "effective");
    let o = credence(&["run", "--warehouse", n.root(), "--policy", &n.policy, "--as-of", "2026-11-20"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no signing key: set CREDENCE_SIGNING_KEY or pass --signing-key, or pass --unsigned"),
        "{}",
        stderr(&o)
    );
    assert!(!n.wh.root().join("marts").exists(), "refused before anything is written");
    let out = ok(&["run", "--warehouse", n.root(), "--policy", &n.policy, "--as-of", "2026-11-20", "--unsigned"]);
    assert!(out.contains("published 2026-11-20"), "{out}");
    let dir = n.pub_dir("2026-11-20");
    assert!(!dir.join("manifest.json.minisig").exists());
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["signed"], false);
    let o = credence(&["verify", dir.to_str().unwrap(), "--public-key", &n.pk]);
    assert!(stderr(&o).contains("the manifest says the publication is unsigned"));
    let _ = stdout(&o);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        match e.file_type().unwrap().is_dir() {
            true => copy_dir(&e.path(), &to.join(e.file_name())),
            false => drop(std::fs::copy(e.path(), to.join(e.file_name())).unwrap()),
        }
    }
}

/// Regression: a run built on whatever was in the previous publication's
/// folder: an entity added by hand to `entries.parquet` (or a backdated
/// `listed_since`) was carried into the next publication and signed. The
/// previous publication is checked first; the run refuses and LATEST stays.
#[test]
fn a_run_refuses_to_build_on_a_tampered_previous_publication() {
    let n = Nightly::published_first_night();
    let entries = n.pub_dir("2026-11-20.2").join("entries.parquet");
    let good = std::fs::read(&entries).unwrap();
    // Rewrite the entries with one more, forged, row: a valid Parquet file.
    let batches = credence::base::parquet_io::read_parquet(&entries).unwrap();
    let forged =
        arrow::compute::concat_batches(&batches[0].schema(), &[batches[0].clone(), batches[0].slice(0, 1)]).unwrap();
    credence::base::parquet_io::write_parquet(&entries, forged.schema(), &[forged]).unwrap();
    night(&n, "2026-11-21", "active", "effective");
    let o = credence(&[
        "run",
        "--warehouse",
        n.root(),
        "--policy",
        &n.policy,
        "--as-of",
        "2026-11-21",
        "--signing-key",
        &n.sk,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the previous publication 2026-11-20.2 of serious-dishonesty does not match its manifest")
            && stderr(&o).contains("entries.parquet: SHA-256"),
        "{}",
        stderr(&o)
    );
    assert_eq!(n.latest(), "2026-11-20.2", "nothing was published");

    // An edited manifest (to hide the edit) fails its signature instead.
    let manifest = n.pub_dir("2026-11-20.2").join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let m: serde_json::Value = serde_json::from_str(&text).unwrap();
    let old = m["files"].as_array().unwrap().iter().find(|f| f["name"] == "entries.parquet").unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let new = credence::stages::publish::files::sha256_file(&entries).unwrap().0;
    let size = std::fs::metadata(&entries).unwrap().len();
    let edited =
        text.replace(&old, &new).replacen(&format!("\"bytes\": {}", good.len()), &format!("\"bytes\": {size}"), 1);
    std::fs::write(&manifest, edited).unwrap();
    let o = credence(&[
        "run",
        "--warehouse",
        n.root(),
        "--policy",
        &n.policy,
        "--as-of",
        "2026-11-21",
        "--signing-key",
        &n.sk,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("manifest.json: the signature does not verify"), "{}", stderr(&o));
    // Without the key, a signed publication cannot be checked: refused too.
    let o = credence(&["run", "--warehouse", n.root(), "--policy", &n.policy, "--as-of", "2026-11-21", "--unsigned"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(n.latest(), "2026-11-20.2");
}

/// Regression: `verify` accepted another publication's files copied into a
/// folder, ignored extra files and skipped partner views.
#[test]
fn verify_checks_the_list_and_id_extra_files_and_every_view() {
    let n = Nightly::new();
    night(&n, "2026-11-20", "active", "effective");
    n.run("2026-11-20");
    night(&n, "2026-11-21", "active", "effective");
    n.run("2026-11-21");
    let whole = n.pub_dir("2026-11-21");
    ok(&["verify", whole.to_str().unwrap(), "--public-key", &n.pk, "--list", LIST, "--id", "2026-11-21"]);
    // Another publication's files, offered as 2026-11-21.
    let o =
        credence(&["verify", n.pub_dir("2026-11-20").to_str().unwrap(), "--public-key", &n.pk, "--id", "2026-11-21"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("manifest.json: names publication 2026-11-20, expected 2026-11-21"), "{}", stderr(&o));
    let o = credence(&["verify", whole.to_str().unwrap(), "--public-key", &n.pk, "--list", "watch"]);
    assert!(stderr(&o).contains("names list serious-dishonesty, expected watch"), "{}", stderr(&o));
    // An extra file.
    std::fs::write(whole.join("extra.csv"), b"entity_id\n").unwrap();
    let o = credence(&["verify", whole.to_str().unwrap(), "--public-key", &n.pk]);
    assert!(stderr(&o).contains("FAILED: extra.csv: a file the manifest does not name"), "{}", stderr(&o));
    std::fs::remove_file(whole.join("extra.csv")).unwrap();
    // A view holds no views: a partners folder in one is an extra file.
    std::fs::create_dir(whole.join("partners/tax-bureau/partners")).unwrap();
    let o = credence(&["verify", whole.to_str().unwrap(), "--public-key", &n.pk]);
    assert!(
        stderr(&o).contains("FAILED: partners/tax-bureau/partners: a file the manifest does not name"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir(whole.join("partners/tax-bureau/partners")).unwrap();
    // A partner view's file changed: the whole publication fails.
    let view_csv = whole.join("partners/tax-bureau/entries.csv");
    let mut bytes = std::fs::read(&view_csv).unwrap();
    bytes.extend_from_slice(b"\r\n");
    std::fs::write(&view_csv, bytes).unwrap();
    let o = credence(&["verify", whole.to_str().unwrap(), "--public-key", &n.pk]);
    assert!(stderr(&o).contains("FAILED: partners/tax-bureau/entries.csv: "), "{}", stderr(&o));
    // Every view's manifest gone: the problems come in the views' name order.
    let mut views: Vec<String> = std::fs::read_dir(whole.join("partners"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    views.sort();
    assert!(views.len() >= 3, "{views:?}");
    for v in &views {
        std::fs::remove_file(whole.join("partners").join(v).join("manifest.json")).unwrap();
    }
    let o = credence(&["verify", whole.to_str().unwrap(), "--public-key", &n.pk]);
    let at: Vec<usize> = views
        .iter()
        .map(|v| stderr(&o).find(&format!("partners/{v}/manifest.json")).expect("each view named"))
        .collect();
    assert!(at.is_sorted(), "{views:?} named at {at:?}: {}", stderr(&o));
    // A manifest naming a file outside its folder, with that file's true
    // size and SHA-256: refused by its name.
    let outside = n.pub_dir("2026-11-20").join("entries.csv");
    let (sha256, bytes) = credence::stages::publish::files::sha256_file(&outside).unwrap();
    let text = std::fs::read_to_string(whole.join("manifest.json")).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    let files = manifest["files"].as_array_mut().unwrap();
    let entry = files.iter_mut().find(|f| f["name"] == "entries.csv").unwrap();
    entry["name"] = "../2026-11-20/entries.csv".into();
    entry["bytes"] = bytes.into();
    entry["sha256"] = sha256.into();
    std::fs::write(whole.join("manifest.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let o = credence(&["verify", whole.to_str().unwrap(), "--public-key", &n.pk]);
    assert!(
        stderr(&o).contains("manifest.json: names a file outside the folder: \"../2026-11-20/entries.csv\""),
        "{}",
        stderr(&o)
    );
}
