//! A hand-made warehouse driven through the command line: a registry,
//! holdings, violations and repairs landed by the test, runs and
//! decisions by the real binary, and readers of what was published.

use std::path::PathBuf;

use credence::base::contract::Dataset;
use credence::base::marts::listings::{read_listings, ReviewStatus};
use credence::base::warehouse::{Mart, Warehouse};
use credence::tools::fixture::{entity, land, person};

use crate::support::{add_officer, keys, ok, policy_with};

pub const LIST: &str = "serious-dishonesty";

/// One entity of the registry: (number, kind, parent, region).
pub type Reg = (u32, &'static str, Option<u32>, &'static str);

/// One violation: (case id, entity, decided on, category, severity).
pub type Violation<'a> = (&'a str, u32, &'a str, &'a str, &'a str);

pub struct Case {
    pub dir: tempfile::TempDir,
    pub wh: Warehouse,
    pub sk: String,
    pub pk: String,
    /// The example policy with no notice and one officer deciding.
    pub policy: String,
}

impl Case {
    pub fn new() -> Case {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::new(dir.path().join("wh"));
        std::fs::create_dir_all(wh.root()).unwrap();
        let (sk, pk) = keys(dir.path());
        let policy = policy_with(dir.path(), 0, "single");
        let c = Case { dir, wh, sk, pk, policy };
        add_officer(c.root(), "olga", "officer");
        add_officer(c.root(), "sam", "senior");
        c
    }

    pub fn root(&self) -> &str {
        self.wh.root().to_str().unwrap()
    }

    /// A policy file: this case's policy with `from` replaced by `to`.
    pub fn policy_edited(&self, name: &str, edits: &[(&str, &str)]) -> String {
        let mut text = std::fs::read_to_string(&self.policy).unwrap();
        for (from, to) in edits {
            assert!(text.contains(from), "{from} in the policy");
            text = text.replace(from, to);
        }
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }

    pub fn registry(&self, date: &str, rows: &[Reg]) {
        let lines: Vec<String> = rows
            .iter()
            .map(|(n, kind, parent, region)| {
                let parent = parent.map(|p| format!(r#","parent_id":"{}""#, entity(p))).unwrap_or_default();
                format!(
                    r#"{{"entity_id":"{}","name":"Entity {n}","entity_type":"{kind}","legal_rep_id":"{}","region":"{region}","established_on":"2015-01-01","status":"active"{parent}}}"#,
                    entity(*n),
                    person(*n)
                )
            })
            .collect();
        land(&self.wh, Dataset::Registry, date, "part-0", &lines.iter().map(String::as_str).collect::<Vec<_>>());
    }

    pub fn holdings(&self, date: &str, rows: &[(u32, u32, f64)]) {
        let lines: Vec<String> = rows
            .iter()
            .map(|(h, o, pct)| {
                format!(
                    r#"{{"holder_id":"{}","holder_kind":"entity","entity_id":"{}","share_pct":{pct}}}"#,
                    entity(*h),
                    entity(*o)
                )
            })
            .collect();
        land(&self.wh, Dataset::Holdings, date, "part-0", &lines.iter().map(String::as_str).collect::<Vec<_>>());
    }

    /// Grave counterfeit cases: (case id, entity, decided on).
    pub fn violations(&self, date: &str, rows: &[(&str, u32, &str)]) {
        let rows: Vec<Violation> = rows.iter().map(|(c, e, d)| (*c, *e, *d, "counterfeit", "grave")).collect();
        self.violations_of(date, &rows);
    }

    /// Effective cases: (case id, entity, decided on, category, severity).
    pub fn violations_of(&self, date: &str, rows: &[Violation]) {
        let lines: Vec<String> = rows
            .iter()
            .map(|(case, e, decided, category, severity)| {
                format!(
                    r#"{{"case_id":"{case}","entity_id":"{}","decided_on":"{decided}","category":"{category}","severity":"{severity}","fine_cny":"1000.00","status":"effective","authority":"650100"}}"#,
                    entity(*e)
                )
            })
            .collect();
        land(&self.wh, Dataset::Violations, date, "part-0", &lines.iter().map(String::as_str).collect::<Vec<_>>());
    }

    pub fn repair(&self, date: &str, file: &str, e: u32, case: &str, approved: &str) {
        let line = format!(
            r#"{{"repair_id":"R-{case}","entity_id":"{}","case_id":"{case}","approved_on":"{approved}"}}"#,
            entity(e)
        );
        land(&self.wh, Dataset::Repairs, date, file, &[&line]);
    }

    /// Runs as of `date` with `extra` arguments (this case's policy unless they name one).
    pub fn run_with(&self, date: &str, extra: &[&str]) -> String {
        let mut args = vec!["run", "--warehouse", self.root(), "--as-of", date, "--signing-key", &self.sk];
        if !extra.contains(&"--policy") {
            args.extend_from_slice(&["--policy", &self.policy]);
        }
        args.extend_from_slice(extra);
        ok(&args)
    }

    pub fn run(&self, date: &str) -> String {
        self.run_with(date, &[])
    }

    pub fn confirm(&self, e: u32) {
        ok(&[
            "decide",
            "confirm",
            "--list",
            LIST,
            "--entity",
            &entity(e),
            "--officer",
            "olga",
            "--reason",
            "the case file was read in full",
            "--warehouse",
            self.root(),
            "--policy",
            &self.policy,
        ]);
    }

    pub fn latest(&self) -> String {
        std::fs::read_to_string(self.wh.published(LIST).join("LATEST")).unwrap().trim().to_string()
    }

    pub fn dir_of(&self, id: &str) -> PathBuf {
        self.wh.published(LIST).join(id)
    }

    /// (action, entity, removal_reason) of the changes of a publication (or
    /// of a partner's view: `view` = `partners/<p>`).
    pub fn changes(&self, id: &str, view: &str) -> Vec<(String, String, String)> {
        let path = self.dir_of(id).join(view).join("changes.csv");
        let mut r = csv::Reader::from_path(&path).unwrap();
        let header = r.headers().unwrap().clone();
        let at = |name: &str| header.iter().position(|h| h == name);
        r.records()
            .map(|row| {
                let row = row.unwrap();
                let get = |name: &str| at(name).map(|i| row[i].to_string()).unwrap_or_default();
                (get("action"), get("entity_id"), get("removal_reason"))
            })
            .collect()
    }

    pub fn entries(&self, id: &str, view: &str) -> Vec<String> {
        let path = self.dir_of(id).join(view).join("entries.csv");
        let mut r = csv::Reader::from_path(&path).unwrap();
        r.records().map(|row| row.unwrap()[0].to_string()).collect()
    }

    pub fn status(&self, date: &str, e: u32) -> Option<ReviewStatus> {
        let rows = read_listings(&self.wh.list_mart(Mart::Listings, LIST, date.parse().unwrap())).unwrap();
        rows.into_iter().find(|r| r.entity_id == entity(e)).map(|r| r.review_status)
    }
}

pub fn removed(e: u32, reason: &str) -> (String, String, String) {
    ("removed".into(), entity(e), reason.into())
}
