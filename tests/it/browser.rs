//! The officer pages in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, driven over WebDriver): an officer works through the
//! review queue, the nightly batch publishes the decision, a senior officer
//! exempts the entity and it leaves the list; an officer takes the next
//! unassigned item and decides with Ctrl+Enter; a senior reads a policy
//! impact report and the latest dry run. axe-core checks every page;
//! screenshots land in `target/screenshots/`.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use credence::base::contract::Dataset;
use credence::base::warehouse::Warehouse;
use credence::tools::fixture::{entity, land, person};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::support::{add_officer, keys, ok, Server, PASSWORD};

const LIST: &str = "serious-dishonesty";

/// Harbor Lights (1) has a grave counterfeit case: grade D, a direct member.
/// Northwind (2) is 60% held by it and Harbor's branch (3) is its branch:
/// joint members. Quiet Meadow (4) is clean.
fn land_night(wh: &Warehouse, date: &str) {
    let reg = |n: u32, name: &str, kind: &str, parent: Option<u32>| {
        let parent = parent.map(|p| format!(r#","parent_id":"{}""#, entity(p))).unwrap_or_default();
        format!(
            r#"{{"entity_id":"{}","name":"{name}","entity_type":"{kind}","legal_rep_id":"{}","region":"650100","established_on":"2015-01-01","status":"active"{parent}}}"#,
            entity(n),
            person(n)
        )
    };
    let rows = [
        reg(1, "Harbor Lights Trading Co., Ltd.", "company", None),
        reg(2, "Northwind Supplies Ltd.", "company", None),
        reg(3, "Harbor Lights Trading, Urumqi branch", "branch", Some(1)),
        reg(4, "Quiet Meadow Foods Ltd.", "company", None),
    ];
    land(wh, Dataset::Registry, date, "part-0", &rows.iter().map(String::as_str).collect::<Vec<_>>());
    let holding = format!(
        r#"{{"holder_id":"{}","holder_kind":"entity","entity_id":"{}","share_pct":60.0}}"#,
        entity(1),
        entity(2)
    );
    land(wh, Dataset::Holdings, date, "part-0", &[&holding]);
    let case = format!(
        r#"{{"case_id":"V-1","entity_id":"{}","decided_on":"2026-06-01","category":"counterfeit","severity":"grave","fine_cny":"50000.00","status":"effective","authority":"650100"}}"#,
        entity(1)
    );
    land(wh, Dataset::Violations, date, "part-0", &[&case]);
}

/// A free port on 127.0.0.1 (released again for the process that binds it).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `chromedriver` on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let port = free_port();
        // Its own process group, so that dropping it ends the browsers it started too.
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (.ci/run installs Debian's chromium-driver)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver { child, url: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The browser session with the officer pages' base address, axe-core and
/// the screenshot folder.
struct Browser {
    c: Client,
    ui: String,
    axe: String,
    shots: PathBuf,
}

impl Browser {
    async fn open(driver: &Driver, ui: &str, profile: &Path) -> Browser {
        let axe_path = crate::support::repo_root().join("tests/.deps/node_modules/axe-core/axe.min.js");
        let axe = std::fs::read_to_string(&axe_path).unwrap_or_else(|e| {
            panic!("{}: {e} (.ci/run installs axe-core with npm into tests/.deps)", axe_path.display())
        });
        let binary = std::env::var("CREDENCE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-crash-reporter", "--disable-breakpad", "--window-size=1280,1400",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        });
        let Value::Object(caps) = caps else { unreachable!() };
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("a chromium session");
        let shots = crate::support::repo_root().join("target/screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Browser { c, ui: ui.to_string(), axe, shots }
    }

    /// Opens `path` and waits (up to 20 s) until the new page has replaced
    /// the old one and finished loading, as [`Browser::follow`] does: a
    /// navigation still under way can leave the previous page in place for a
    /// moment after `goto` returns.
    async fn goto(&self, path: &str) {
        let old = self.c.find(Locator::Css("html")).await.ok();
        self.c.goto(&format!("{}{path}", self.ui)).await.unwrap();
        self.wait_for_new_page(old, path).await;
    }

    async fn wait_for_new_page(&self, old: Option<Element>, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        if let Some(old) = old {
            while old.tag_name().await.is_ok() {
                assert!(Instant::now() < deadline, "{what} loaded no page");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        while self.c.execute("return document.readyState", vec![]).await.unwrap() != json!("complete") {
            assert!(Instant::now() < deadline, "the page of {what} did not finish loading");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn text(&self, css: &str) -> String {
        match self.c.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap(),
            Err(e) => {
                panic!("{css}: {e}\non {}:\n{}", self.c.current_url().await.unwrap(), self.c.source().await.unwrap())
            }
        }
    }

    async fn body(&self) -> String {
        self.text("body").await
    }

    async fn fill(&self, css: &str, value: &str) {
        let field = self.c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Clicks what does not leave the page (a checkbox, a link to a fragment).
    async fn click(&self, css: &str) {
        self.c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.unwrap();
    }

    /// Clicks a link or a submit button and waits for the next page.
    async fn follow(&self, css: &str) {
        let old = self.c.find(Locator::Css("html")).await.unwrap();
        self.click(css).await;
        self.wait_for_new_page(Some(old), &format!("clicking {css}")).await;
    }

    /// Waits (up to 10 s) until the page at `path` has loaded.
    async fn wait_for_path(&self, path: &str) {
        let started = Instant::now();
        while self.c.current_url().await.unwrap().path() != path {
            assert!(started.elapsed() < Duration::from_secs(10), "{path} did not open");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.c.wait().for_element(Locator::Css("main")).await.unwrap();
    }

    /// Runs axe-core on the current page, fails on any violation, and saves
    /// a screenshot named `name`.
    async fn check(&self, name: &str) {
        let png = self.c.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
        self.c.execute(&self.axe, vec![]).await.unwrap();
        let found = self
            .c
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                axe.run(document, { resultTypes: ["violations"] }).then(
                    r => done(r.violations.map(v => v.id + " (" + v.impact + "): " + v.help + " at "
                        + v.nodes.map(n => n.target.join(" ")).join(", "))),
                    e => done(["axe failed: " + e]));"#,
                vec![],
            )
            .await
            .unwrap();
        let violations: Vec<String> = serde_json::from_value(found).unwrap();
        let url = self.c.current_url().await.unwrap();
        assert!(violations.is_empty(), "accessibility violations on {name} ({url}):\n{}", violations.join("\n"));
    }

    /// The review status in the entity page's list memberships table, if listed.
    async fn membership_status(&self) -> Option<String> {
        let xpath = "//h2[.='List memberships']/following-sibling::*[1][self::table]//tbody/tr[1]/td[last()]";
        match self.c.find(Locator::XPath(xpath)).await {
            Ok(cell) => Some(cell.text().await.unwrap()),
            Err(_) => None,
        }
    }

    async fn log_in(&self, officer: &str) {
        self.goto("/login").await;
        self.fill("#officer", officer).await;
        self.fill("#password", PASSWORD).await;
        self.follow("form button[type=submit]").await;
        assert!(self.body().await.contains(&format!("Signed in as {officer}")), "{}", self.body().await);
    }

    async fn log_out(&self) {
        self.follow("header form button[type=submit]").await;
        assert_eq!(self.c.current_url().await.unwrap().path(), "/login");
    }
}

/// The whole due process of the example policy (a 10-day notice, two
/// officers): notice, objection, a confirm answering it, a senior's
/// approval from "awaiting my approval", publication; then an exemption
/// proposed by one senior and approved by another.
#[test]
fn an_officer_takes_a_listing_through_due_process_and_seniors_approve() {
    let dir = tempfile::tempdir().unwrap();
    let wh = Warehouse::new(dir.path().join("wh"));
    let root = wh.root().to_str().unwrap().to_string();
    let (sk, pk) = keys(dir.path());
    let run = |date: &str| ok(&["run", "--warehouse", &root, "--as-of", date, "--signing-key", &sk]);
    for date in ["2026-11-25", "2026-11-26", "2026-11-27"] {
        land_night(&wh, date);
    }
    let out = run("2026-11-25");
    assert!(out.contains("published 2026-11-25: 0 entries"), "all pending at first:\n{out}");
    add_officer(&root, "olga", "officer");
    add_officer(&root, "sam", "senior");
    add_officer(&root, "sue", "senior");
    let server = Server::start(wh.root(), &["--ui-listen", "127.0.0.1:0"]);
    let driver = Driver::start();
    let harbor = entity(1);
    let today = chrono::Utc::now().date_naive();

    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
        let b = Browser::open(&driver, server.ui.as_deref().unwrap(), &dir.path().join("profile")).await;

        b.goto("/").await;
        assert_eq!(b.c.current_url().await.unwrap().path(), "/login", "pages need a session");
        // Chinese first: the pages speak zh-CN until an officer chooses English.
        assert!(b.text("h1").await.contains("登录"), "{}", b.body().await);
        let lang = b.c.find(Locator::Css("html")).await.unwrap().attr("lang").await.unwrap();
        assert_eq!(lang.as_deref(), Some("zh-CN"));
        b.check("login-zh").await;
        b.follow("header a[lang=en]").await;
        assert!(b.text("h1").await.contains("Log in"));
        b.check("login").await;
        b.fill("#officer", "olga").await;
        b.fill("#password", "not the password").await;
        b.follow("form button[type=submit]").await;
        assert!(b.text(".error-summary").await.contains("The officer id or the password is wrong."));
        b.check("login-error").await;
        b.log_in("olga").await;
        b.check("dashboard").await;
        assert!(b.body().await.contains("2026-11-25"), "the latest run is on the dashboard");

        // Search by name prefix, open the entity, follow a reason to its record.
        b.follow("nav a[href='/search']").await;
        b.fill("#q", "Harbor Lights").await;
        b.follow("form[role=search] button[type=submit]").await;
        let results = b.text("main table").await;
        assert!(
            results.contains(&harbor) && results.contains(&entity(3)) && !results.contains(&entity(2)),
            "{results}"
        );
        b.check("search").await;
        b.follow(&format!("main table a[href='/entities/{harbor}']")).await;
        assert!(b.body().await.contains("Harbor Lights Trading Co., Ltd."));
        assert_eq!(b.membership_status().await.as_deref(), Some("pending"));
        assert!(b.body().await.contains("Exemptions are decided by senior officers."), "an officer cannot exempt");
        b.check("entity").await;
        b.click("a[href='#record-V-1']").await;
        assert_eq!(b.c.current_url().await.unwrap().fragment(), Some("record-V-1"));
        let card = b.text("#record-V-1").await;
        assert!(card.contains("counterfeit") && card.contains("grave") && card.contains("2026-06-01"), "{card}");

        // The review queue: select the direct member, notify the party in bulk.
        b.follow(&format!("nav a[href='/review/{LIST}']")).await;
        let queue = b.text("main table").await;
        for n in [1, 2, 3] {
            assert!(queue.contains(&entity(n)), "{} is pending:\n{queue}", entity(n));
        }
        b.check("queue").await;
        // The keyboard: j moves to the first row (the oldest pending), x ticks it.
        b.c.active_element().await.unwrap().send_keys("jx").await.unwrap();
        let ticked = b.c.find(Locator::Css(&format!("#sel-{harbor}"))).await.unwrap();
        assert!(ticked.is_selected().await.unwrap(), "j then x ticks the first row");
        b.c.execute("document.getElementById('bulk-action').value = 'notify';", vec![]).await.unwrap();
        b.fill("#bulk-reason", "advance notice of the proposed listing, case V-1").await;
        b.follow(&format!("form[action='/review/{LIST}/bulk'] button[type=submit]")).await;
        let preview = b.text("main").await;
        assert!(
            preview.contains("Preview: Notify the party 1 member(s)")
                && preview.contains("Harbor Lights Trading Co., Ltd.")
                && preview.contains("D"),
            "names and grades:\n{preview}"
        );
        b.check("bulk-preview").await;
        b.follow("main form button[type=submit]").await;
        assert!(b.text("main [role=status]").await.contains("1 recorded, 0 changed"), "{}", b.body().await);
        b.check("bulk-result").await;

        // The queue says how long the party has; the notice reads as an official one.
        b.follow(&format!("main a[href='/review/{LIST}']")).await;
        let row = b.text(&format!("tr:has(#sel-{harbor})")).await;
        assert!(row.contains("noticed: 10 days left"), "{row}");
        b.follow(&format!("main a[href='/review/{LIST}?state=noticed']")).await;
        assert!(b.text("main table").await.contains(&harbor));
        b.check("queue-noticed").await;
        b.follow(&format!("main table a[href='/entities/{harbor}?list={LIST}']")).await;
        b.follow("main a[href^='/documents/']").await;
        let notice = b.body().await;
        for expected in
            ["列入事先告知书", "Harbor Lights Trading Co., Ltd.", "V-1", "陈述、申辩", "示范市市场监督管理局"]
        {
            assert!(notice.contains(expected), "{expected} in the notice:\n{notice}");
        }
        b.check("notice").await;
        b.c.back().await.unwrap();

        // A confirm inside the window is refused, in words.
        b.fill(&format!("#reason-confirm-{LIST}-{harbor}"), "the case file V-1 shows counterfeit goods").await;
        b.follow(&format!("form:has(#reason-confirm-{LIST}-{harbor}) button[value=stay]")).await;
        let refused = b.text(".error-summary").await;
        assert!(refused.contains("陈述申辩期") && refused.contains("a confirm waits until it has passed"), "{refused}");
        b.check("confirm-refused").await;

        // The party's statement arrives; the confirm answers it.
        b.c.execute(
            "document.getElementById(arguments[0]).value = arguments[1];",
            vec![json!(format!("received-{LIST}-{harbor}")), json!(today.to_string())],
        )
        .await
        .unwrap();
        b.fill(&format!("#reason-object-{LIST}-{harbor}"), "the party says the goods were parallel imports").await;
        // The party's document goes with it, as a file from this machine.
        let statement = dir.path().join("statement.pdf");
        std::fs::write(&statement, b"%PDF-1.4 the party's statement").unwrap();
        let input = b.c.find(Locator::Id(&format!("attachment-{LIST}-{harbor}"))).await.unwrap();
        input.send_keys(statement.to_str().unwrap()).await.unwrap();
        b.follow(&format!("form:has(#reason-object-{LIST}-{harbor}) button[value=stay]")).await;
        let page = b.body().await;
        assert!(page.contains("the party says the goods were parallel imports"), "{page}");
        assert!(page.contains("Download the attachment"), "the document is recorded with the statement: {page}");
        b.check("entity-objected").await;
        b.fill(&format!("#reason-confirm-{LIST}-{harbor}"), "statement reviewed: the invoices are forged").await;
        b.follow(&format!("form:has(#reason-confirm-{LIST}-{harbor}) button[value=stay]")).await;
        assert!(b.body().await.contains("awaits a second officer's approval"), "{}", b.body().await);

        // One at a time: take the next unassigned item (the cursor waits in
        // its first reason), reject it with Ctrl+Enter and go on to the one after it.
        let (northwind, branch) = (entity(2), entity(3));
        b.goto(&format!("/review/{LIST}")).await;
        b.follow(&format!("form[action='/review/{LIST}/take'] button")).await;
        assert_eq!(b.c.current_url().await.unwrap().path(), format!("/entities/{northwind}"), "the oldest unassigned");
        assert!(b.body().await.contains("Assigned to you since"));
        let focused = b.c.execute("return document.activeElement.tagName", vec![]).await.unwrap();
        assert_eq!(focused, json!("TEXTAREA"), "the cursor waits in the first reason: {}", b.c.current_url().await.unwrap());
        b.check("entity-taken").await;
        let reason = b.c.find(Locator::Css(&format!("#reason-reject-{LIST}-{northwind}"))).await.unwrap();
        reason.send_keys("a 60% holding alone does not show control here").await.unwrap();
        reason.send_keys("\u{E009}\u{E007}").await.unwrap();
        b.wait_for_path(&format!("/entities/{branch}")).await;
        let status = b.text("main [role=status]").await;
        assert!(status.contains(&format!("(reject {northwind} on {LIST})")), "{status}");
        b.check("entity-joint").await;
        b.log_out().await;

        // A senior approves from "awaiting my approval", after a preview.
        b.log_in("sam").await;
        b.goto(&format!("/review/{LIST}?state=mine")).await;
        let mine = b.text("main table").await;
        assert!(mine.contains(&harbor) && mine.contains("awaiting approval") && mine.contains("olga"), "{mine}");
        b.check("queue-mine").await;
        b.click(&format!("#sel-{harbor}")).await;
        b.fill("#bulk-reason", "second officer: due process followed, evidence sufficient").await;
        b.follow(&format!("form[action='/review/{LIST}/bulk'] button[type=submit]")).await;
        assert!(b.text("h1").await.contains("Preview: Approve 1 member(s)"), "{}", b.body().await);
        b.follow("main form button[type=submit]").await;
        assert!(b.text("main [role=status]").await.contains("1 recorded, 0 changed"), "{}", b.body().await);

        // The next nightly batch publishes the approved member.
        let out = run("2026-11-26");
        assert!(out.contains("published 2026-11-26: 1 entries, 1 added"), "{out}");
        b.goto(&format!("/entities/{harbor}")).await;
        let status = b.membership_status().await;
        assert_eq!(status.as_deref(), Some("published"), "status {status:?} on the page:\n{}", b.body().await);

        // An exemption: a date other than YYYY-MM-DD is refused, never read as "no end".
        let until = (today + chrono::Days::new(30)).to_string();
        let until_field = format!("until-{LIST}-{harbor}");
        b.fill(&format!("#reason-exempt-{LIST}-{harbor}"), "court order 2026-77 suspends the listing").await;
        b.c.execute(
            "const f = document.getElementById(arguments[0]); f.type = 'text'; f.removeAttribute('pattern'); f.removeAttribute('min'); f.removeAttribute('max'); f.value = '31/03/2027';",
            vec![json!(until_field)],
        )
        .await
        .unwrap();
        b.follow(&format!("form:has(#reason-exempt-{LIST}-{harbor}) button[value=stay]")).await;
        assert!(
            b.text(".error-summary").await.contains("Dates are written YYYY-MM-DD, found '31/03/2027'"),
            "{}",
            b.body().await
        );
        b.fill(&format!("#reason-exempt-{LIST}-{harbor}"), "court order 2026-77 suspends the listing").await;
        b.c.execute(
            "document.getElementById(arguments[0]).value = arguments[1];",
            vec![json!(until_field), json!(until)],
        )
        .await
        .unwrap();
        b.follow(&format!("form:has(#reason-exempt-{LIST}-{harbor}) button[value=stay]")).await;
        let page = b.body().await;
        assert!(
            page.contains("court order 2026-77")
                && page.contains(&until)
                && page.contains("awaits a second officer's approval"),
            "{page}"
        );
        b.check("entity-exempt-proposed").await;
        b.log_out().await;

        // Another senior approves it; the exemptions page says who and how long.
        b.log_in("sue").await;
        b.goto(&format!("/entities/{harbor}")).await;
        b.fill(&format!("#reason-approve-{LIST}-{harbor}"), "court order checked with the court").await;
        b.follow(&format!("form:has(#reason-approve-{LIST}-{harbor}) button[value=stay]")).await;
        b.follow("nav a[href='/exemptions']").await;
        let table = b.text("main table").await;
        assert!(
            table.contains(&harbor)
                && table.contains(&until)
                && table.contains("sam")
                && table.contains("sue")
                && table.contains("30"),
            "{table}"
        );
        b.check("exemptions").await;

        let out = run("2026-11-27");
        assert!(out.contains("published 2026-11-27: 0 entries, 0 added, 1 removed"), "{out}");
        let latest = std::fs::read_to_string(wh.published(LIST).join("LATEST")).unwrap();
        let changes = std::fs::read_to_string(wh.published(LIST).join(latest.trim()).join("changes.csv")).unwrap();
        assert!(changes.lines().any(|l| l.contains(&harbor) && l.contains("exempted")), "{changes}");
        b.goto(&format!("/entities/{harbor}")).await;
        assert_eq!(b.membership_status().await, None, "off the list");
        assert!(b.body().await.contains("Not on any list."));
        b.goto("/").await;
        b.check("dashboard-after").await;
        let dashboard = b.body().await;
        assert!(
            dashboard.contains("in review over the past runs, by days waited") && dashboard.contains("under 3 days"),
            "three runs: the time in review is charted: {dashboard}"
        );
        // Back to Chinese: the entity page with its labels, industry and times in zh-CN.
        b.follow("header a[lang=zh-CN]").await;
        b.goto(&format!("/entities/{harbor}")).await;
        let page = b.body().await;
        assert!(page.contains("登记信息") && page.contains("决定时间") && page.contains("CST"), "{page}");
        b.check("entity-zh").await;

        // Policy impact: a senior reads the effect of doubling V_GRAVE, and the latest dry run.
        let doubled = dir.path().join("doubled.yaml");
        std::fs::write(&doubled, credence::config::policy::DEFAULT_POLICY.replace("points: 40", "points: 80")).unwrap();
        let out = ok(&["impact", "--warehouse", &root, "--as-of", "2026-11-27", "--policy", doubled.to_str().unwrap(), "--public-key", &pk]);
        let report = out.lines().find_map(|l| l.strip_prefix("report: ")).unwrap().trim().to_string();
        let id = Path::new(&report).parent().unwrap().file_name().unwrap().to_str().unwrap().to_string();
        ok(&["run", "--dry-run", "--warehouse", &root, "--as-of", "2026-11-27", "--signing-key", &sk]);
        b.follow("header a[lang=en]").await;
        b.goto("/").await;
        b.follow("main a[href^='/dry-runs/']").await;
        assert!(b.text("main table").await.contains(LIST));
        b.check("dry-run").await;
        b.follow("nav a[href='/impact']").await;
        b.check("impact-list").await;
        b.follow(&format!("main a[href='/impact/{id}']")).await;
        assert!(b.text("main").await.contains("entities change grade"));
        b.check("impact").await;
        // The report's own page, as a policy maker opens it from disk.
        b.goto(&format!("/impact/{id}/report.html")).await;
        assert!(b.text("h1").await.contains("Policy impact"));
        b.check("impact-report").await;
        b.c.close().await.unwrap();
    });
}
