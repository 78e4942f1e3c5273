//! Attacks on the partner API, each reproduced against a real server on
//! 127.0.0.1 (issue: no open doors, no trust in what is on disk).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::api::setup;
use crate::support::{ok, stderr, stdout, Server};

const ENTRIES: &str = "/api/v1/lists/serious-dishonesty/latest/entries.csv";

/// Regression: with the database locked, downloads were served with no
/// audit row, and every request stalled 30 s. Now a request whose audit
/// row cannot be written is refused with 503, quickly.
#[test]
fn the_audit_log_fails_closed_behind_a_held_database_lock() {
    let api = setup();
    assert_eq!(api.status(ENTRIES, Some(&api.alpha)), 200);
    let holder = rusqlite::Connection::open(api.root.join("credence.db")).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    for path in [ENTRIES, "/healthz"] {
        let started = Instant::now();
        let (status, _, body) = api.get(path, Some(&api.alpha), &[]);
        assert_eq!(status, 503, "{path}: {}", String::from_utf8_lossy(&body));
        assert!(!String::from_utf8_lossy(&body).contains("entity_id"), "nothing of the file is sent");
        assert!(started.elapsed() < Duration::from_secs(5), "{path} answered in {:?}", started.elapsed());
    }
    holder.execute_batch("ROLLBACK").unwrap();
    assert_eq!(api.status(ENTRIES, Some(&api.alpha)), 200);
}

/// Requests per minute are counted per partner token and per address
/// (`--rate-per-token`, `--rate-per-address`): past its rate a request is
/// answered 429 with Retry-After; a token past its rate holds back no
/// other token, and an address past its rate is refused whatever token it
/// brings.
#[test]
fn each_token_and_each_address_has_a_request_rate_of_its_own() {
    let mut api = setup();
    let lists = "/api/v1/lists";
    let partners = api.dir.path().join("partners.yaml");
    let restart = |api: &mut crate::api::Api, rates: &[&str]| {
        api.server.stop();
        let mut args = vec!["--partners", partners.to_str().unwrap(), "--policy", &api.policy];
        args.extend_from_slice(rates);
        api.server = Server::start(&api.root, &args);
    };
    restart(&mut api, &["--rate-per-token", "3"]);
    let statuses: Vec<u16> = (0..4).map(|_| api.status(lists, Some(&api.alpha))).collect();
    assert_eq!(statuses, [200, 200, 200, 429], "alpha's fourth request in the minute");
    let (status, headers, _) = api.get(lists, Some(&api.alpha), &[]);
    assert_eq!((status, crate::api::header(&headers, "retry-after")), (429, Some("60")));
    assert_eq!(api.status(lists, Some(&api.beta)), 200, "beta's token has a rate of its own");

    restart(&mut api, &["--rate-per-address", "3"]);
    let statuses: Vec<u16> =
        [&api.alpha, &api.beta, &api.alpha, &api.beta].iter().map(|t| api.status(lists, Some(t))).collect();
    assert_eq!(statuses, [200, 200, 200, 429], "the address's fourth request in the minute, whatever its token");
}

/// Regression: 637 requests of 60,000-character paths grew the database
/// by 36 MB. Paths are capped, and unauthenticated requests are
/// rate-limited per address.
#[test]
fn long_paths_are_capped_and_unauthenticated_floods_are_slowed() {
    let api = setup();
    let db = api.root.join("credence.db");
    let size = |p: &std::path::Path| {
        ["", "-wal"]
            .iter()
            .map(|s| std::fs::metadata(format!("{}{s}", p.display())).map(|m| m.len()).unwrap_or(0))
            .sum::<u64>()
    };
    let before = size(&db);
    let long = format!("/api/v1/{}", "a".repeat(60_000));
    let mut statuses = Vec::new();
    for _ in 0..100 {
        statuses.push(api.status(&long, None));
    }
    assert!(statuses.contains(&401), "{statuses:?}");
    assert!(statuses.contains(&429), "unauthenticated requests are rate-limited: {statuses:?}");
    let grown = size(&db) - before;
    // Before the cap: about 57 KB per request (36.7 MB for 637). Now a row
    // holds at most 1 KB of path; the WAL adds its page frames.
    assert!(grown < 100 * 20_000, "100 long requests grew the database and its WAL by {grown} bytes");
    let audit = ok(&["audit", "--warehouse", api.root.to_str().unwrap(), "--limit", "1"]);
    assert!(audit.contains("…[") && audit.len() < 1500, "the stored path is cut: {audit}");
}

/// Regression: views are cut at publication time and `serve` checked only
/// the list, so a partner whose columns or regions were narrowed kept the
/// wider view. A view wider than today's entitlement gets 404, audited.
#[test]
fn a_narrowed_entitlement_is_enforced_at_serve_time() {
    let mut api = setup();
    api.server.stop();
    let narrowed = api.dir.path().join("narrowed.yaml");
    std::fs::write(
        &narrowed,
        r#"partners:
  - { id: alpha, name: Alpha bureau, lists: [serious-dishonesty], columns: [entity_id, listed_since], formats: [csv, parquet] }
  - { id: beta, name: Beta office, lists: [watch], columns: [entity_id, region], formats: [csv], regions: ["4401"] }
"#,
    )
    .unwrap();
    let server = Server::start(&api.root, &["--partners", narrowed.to_str().unwrap(), "--policy", &api.policy]);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let get = |path: &str, token: &str| {
        agent
            .get(format!("{}{path}", server.base))
            .header("Authorization", format!("Bearer {token}"))
            .call()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(get(ENTRIES, &api.alpha), 404, "alpha's view has name and region, no longer entitled");
    assert_eq!(get("/api/v1/lists/watch/latest/entries.csv", &api.beta), 404, "beta's view covers all of 44");
    assert_eq!(get("/api/v1/lists/serious-dishonesty/publications/2026-11-26/entries.parquet", &api.alpha), 404);
    let audit = ok(&["audit", "--warehouse", api.root.to_str().unwrap(), "--limit", "3"]);
    assert!(audit.contains("entitlement: the view has column name"), "{audit}");
    assert!(audit.contains("entitlement: the view has region 44"), "{audit}");

    // The regulator rebuilds the views: checked, signed, served again with only the allowed columns.
    let root = api.root.to_str().unwrap();
    let key = api.dir.path().join("test.key");
    let args = |id: &'static str| {
        vec![
            "partners",
            "rebuild-views",
            "--list",
            "serious-dishonesty",
            "--id",
            id,
            "--warehouse",
            root,
            "--partners",
            narrowed.to_str().unwrap(),
            "--policy",
            &api.policy,
            "--signing-key",
            key.to_str().unwrap(),
        ]
    };
    let out = ok(&args("2026-11-26"));
    assert!(out.contains("rebuilt the view of alpha") && !out.contains("beta"), "{out}");
    let out = ok(&args("2026-11-27"));
    assert!(out.contains("rebuilt the view of alpha"), "{out}");
    assert!(ok(&args("2026-11-27")).contains("every view of serious-dishonesty already matches"), "idempotent");
    let view = api.root.join("published/serious-dishonesty/2026-11-27/partners/alpha");
    assert!(crate::support::minisign_verifies(&view, api.dir.path().join("test.pub").to_str().unwrap()));
    let header = std::fs::read_to_string(view.join("entries.csv")).unwrap();
    assert_eq!(header.lines().next(), Some("entity_id,listed_since"));
    assert_eq!(get(ENTRIES, &api.alpha), 200, "served again");
    ok(&["verify", view.to_str().unwrap(), "--public-key", api.dir.path().join("test.pub").to_str().unwrap()]);
    let whole = api.root.join("published/serious-dishonesty/2026-11-27");
    ok(&[
        "verify",
        whole.to_str().unwrap(),
        "--public-key",
        api.dir.path().join("test.pub").to_str().unwrap(),
        "--list",
        "serious-dishonesty",
    ]);

    // A format narrowed after the views were cut: the view's Parquet files
    // are no longer served, its CSV files still are.
    drop(server);
    let csv_only = api.dir.path().join("csv-only.yaml");
    let text = std::fs::read_to_string(&narrowed).unwrap().replacen("formats: [csv, parquet]", "formats: [csv]", 1);
    std::fs::write(&csv_only, text).unwrap();
    let server = Server::start(&api.root, &["--partners", csv_only.to_str().unwrap(), "--policy", &api.policy]);
    let status = |path: &str| {
        agent
            .get(format!("{}{path}", server.base))
            .header("Authorization", format!("Bearer {}", api.alpha))
            .call()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(status("/api/v1/lists/serious-dishonesty/latest/entries.parquet"), 404, "Parquet no longer entitled");
    assert_eq!(status("/api/v1/lists/serious-dishonesty/latest/entries.csv"), 200);
    let audit = ok(&["audit", "--warehouse", api.root.to_str().unwrap(), "--limit", "2"]);
    assert!(audit.contains("entitlement: format parquet not entitled"), "{audit}");
    // Rebuilt for the formats alone changed, the view holds only its CSV files.
    let mut csv_rebuild = args("2026-11-27");
    let at = csv_rebuild.iter().position(|a| *a == narrowed.to_str().unwrap()).unwrap();
    csv_rebuild[at] = csv_only.to_str().unwrap();
    assert!(ok(&csv_rebuild).contains("rebuilt the view of alpha"));
    assert!(!view.join("entries.parquet").exists() && view.join("entries.csv").exists());

    // Another partner's signed view of the same list, copied into alpha's
    // folder, is not alpha's: its manifest names gamma.
    drop(server);
    let with_gamma = api.dir.path().join("with-gamma.yaml");
    let gamma =
        "  - { id: gamma, name: Gamma office, lists: [serious-dishonesty], columns: [entity_id], formats: [csv] }\n";
    std::fs::write(&with_gamma, std::fs::read_to_string(&csv_only).unwrap() + gamma).unwrap();
    let mut rebuild = args("2026-11-27");
    let at = rebuild.iter().position(|a| *a == narrowed.to_str().unwrap()).unwrap();
    rebuild[at] = with_gamma.to_str().unwrap();
    assert!(ok(&rebuild).contains("rebuilt the view of gamma"));
    let views = api.root.join("published/serious-dishonesty/2026-11-27/partners");
    std::fs::remove_dir_all(views.join("alpha")).unwrap();
    std::fs::create_dir(views.join("alpha")).unwrap();
    for f in std::fs::read_dir(views.join("gamma")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, views.join("alpha").join(f.file_name().unwrap())).unwrap();
    }
    let server = Server::start(&api.root, &["--partners", with_gamma.to_str().unwrap(), "--policy", &api.policy]);
    let answer = agent
        .get(format!("{}/api/v1/lists/serious-dishonesty/latest/entries.csv", server.base))
        .header("Authorization", format!("Bearer {}", api.alpha))
        .call()
        .unwrap();
    assert_eq!(answer.status().as_u16(), 404, "gamma's view is not served as alpha's");
    let audit = ok(&["audit", "--warehouse", api.root.to_str().unwrap(), "--limit", "1"]);
    assert!(
        audit.contains("the view's manifest names list serious-dishonesty and the view of partner gamma"),
        "{audit}"
    );
}

/// A partner limited to some regions after its view was cut with every
/// region gets 404 for that view, audited, until the views are rebuilt.
#[test]
fn a_view_of_every_region_is_not_served_to_a_partner_now_limited_to_some() {
    let mut api = setup();
    let server = restarted_with_alpha(
        &mut api,
        "{ id: alpha, name: Alpha bureau, lists: [serious-dishonesty], columns: [entity_id, name, region, listed_since], formats: [csv, parquet], regions: [\"65\"] }",
    );
    assert_eq!(status_of(&server, &api.alpha, ENTRIES), 404);
    let audit = ok(&["audit", "--warehouse", api.root.to_str().unwrap(), "--limit", "1"]);
    assert!(audit.contains("entitlement: the view has every region, the partner only some"), "{audit}");
    // Rebuilt for its regions alone changed, the view holds region 65's
    // entries and is served again.
    let o = rebuild_views(&api, &api.dir.path().join("alpha-changed.yaml"), true);
    assert!(stdout(&o).contains("rebuilt the view of alpha"), "{}", stderr(&o));
    assert_eq!(status_of(&server, &api.alpha, ENTRIES), 200);
    let view = api.root.join("published/serious-dishonesty/2026-11-27/partners/alpha");
    let csv = std::fs::read_to_string(view.join("entries.csv")).unwrap();
    let regions: Vec<&str> = csv.lines().skip(1).map(|l| l.rsplit(',').nth(1).unwrap()).collect();
    assert!(!regions.is_empty() && regions.iter().all(|r| r.starts_with("65")), "{csv}");
}

/// Rebuilding the views of a signed publication needs the signing key
/// (the new views are signed, the publication checked first): without it
/// nothing changes. With it, the view of a partner still known but no
/// longer entitled to the list is removed, and the publication verifies.
#[test]
fn a_rebuild_needs_the_key_of_a_signed_publication_and_removes_views_no_longer_entitled() {
    let api = setup();
    let partners = api.dir.path().join("alpha-moved.yaml");
    std::fs::write(
        &partners,
        "partners:\n  - { id: alpha, name: Alpha bureau, lists: [watch], columns: [entity_id], formats: [csv] }\n",
    )
    .unwrap();
    let publication = api.root.join("published/serious-dishonesty/2026-11-27");
    let view = publication.join("partners/alpha");
    let before = std::fs::read(view.join("manifest.json")).unwrap();
    let o = rebuild_views(&api, &partners, false);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let said = "the publication 2026-11-27 of serious-dishonesty is signed: give the signing key";
    assert!(stderr(&o).contains(said), "the publication rebuilt, not a previous one: {}", stderr(&o));
    assert_eq!(std::fs::read(view.join("manifest.json")).unwrap(), before, "nothing changed");
    // A publication whose files do not match its manifest is not rebuilt on.
    let entries = publication.join("entries.csv");
    let whole = std::fs::read(&entries).unwrap();
    std::fs::write(&entries, [whole.as_slice(), b"91350100M000100Y43,added,x\n"].concat()).unwrap();
    let o = rebuild_views(&api, &partners, true);
    let said = "the publication 2026-11-27 of serious-dishonesty does not match its manifest; nothing is built on it";
    assert!(stderr(&o).contains(said), "{}", stderr(&o));
    assert_eq!(std::fs::read(view.join("manifest.json")).unwrap(), before, "nothing changed");
    std::fs::write(&entries, whole).unwrap();

    let out = stdout(&rebuild_views(&api, &partners, true));
    assert!(out.contains("removed the view of alpha: no longer entitled to serious-dishonesty"), "{out}");
    assert!(!view.exists());
    let public = api.dir.path().join("test.pub");
    ok(&["verify", publication.to_str().unwrap(), "--public-key", public.to_str().unwrap()]);
    // The API lists to alpha only the publications that hold its view.
    let (_, _, body) = api.get("/api/v1/lists/serious-dishonesty/publications", Some(&api.alpha), &[]);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["publications"], serde_json::json!(["2026-11-26"]), "{v}");
}

/// `partners rebuild-views` of the newest publication of `api`'s
/// serious-dishonesty list for `partners`, with the test signing key when
/// `signed`.
fn rebuild_views(api: &crate::api::Api, partners: &std::path::Path, signed: bool) -> std::process::Output {
    let key = api.dir.path().join("test.key");
    let root = api.root.to_str().unwrap();
    let mut args =
        vec!["partners", "rebuild-views", "--list", "serious-dishonesty", "--warehouse", root, "--policy", &api.policy];
    args.extend(["--partners", partners.to_str().unwrap()]);
    if signed {
        args.extend(["--signing-key", key.to_str().unwrap()]);
    }
    crate::support::credence(&args)
}

/// A partner no longer entitled to a list gets 404 for the views it was
/// given of it, asked by publication id as by `latest` (a mutant that
/// served them by id survived every test).
#[test]
fn a_list_no_longer_entitled_is_not_served_by_publication_id() {
    let mut api = setup();
    let server = restarted_with_alpha(
        &mut api,
        "{ id: alpha, name: Alpha bureau, lists: [watch], columns: [entity_id, name, region, listed_since], formats: [csv, parquet] }",
    );
    let status = |path: &str| status_of(&server, &api.alpha, path);
    assert_eq!(status(ENTRIES), 404);
    assert_eq!(status("/api/v1/lists/serious-dishonesty/publications/2026-11-27/entries.csv"), 404);
    assert_eq!(status("/api/v1/lists/serious-dishonesty/publications/2026-11-27/manifest.json"), 404);
}

/// `api`'s server started again on a partners file whose one partner is
/// `alpha` (a YAML flow mapping), its entitlement changed after its views
/// were cut.
fn restarted_with_alpha(api: &mut crate::api::Api, alpha: &str) -> Server {
    api.server.stop();
    let partners = api.dir.path().join("alpha-changed.yaml");
    std::fs::write(&partners, format!("partners:\n  - {alpha}\n")).unwrap();
    Server::start(&api.root, &["--partners", partners.to_str().unwrap(), "--policy", &api.policy])
}

/// The status of a GET of `path` from `server` with `token`.
fn status_of(server: &Server, token: &str, path: &str) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let answer = agent.get(format!("{}{path}", server.base)).header("Authorization", format!("Bearer {token}"));
    answer.call().unwrap().status().as_u16()
}

/// Regression: the API trusted file names in manifests on disk and
/// followed symlinks. A file is served only if it is a regular file whose
/// bytes have the SHA-256 its verified manifest names.
#[test]
fn tampered_and_symlinked_view_files_are_not_served() {
    let mut api = setup();
    let view = api.root.join("published/serious-dishonesty/2026-11-27/partners/alpha");
    let csv = view.join("entries.csv");
    let good = std::fs::read(&csv).unwrap();
    let mut bad = good.clone();
    bad.extend_from_slice(b"91350100M000100Y43,Forged Co,650100,2026-01-01\r\n");
    std::fs::write(&csv, &bad).unwrap();
    assert_eq!(api.status(ENTRIES, Some(&api.alpha)), 404, "bytes that differ from the manifest");
    std::fs::remove_file(&csv).unwrap();
    std::os::unix::fs::symlink(api.root.join("published/serious-dishonesty/2026-11-27/entries.csv"), &csv).unwrap();
    assert_eq!(api.status(ENTRIES, Some(&api.alpha)), 404, "a symlink is refused");
    std::fs::remove_file(&csv).unwrap();
    std::fs::write(&csv, &good).unwrap();
    assert_eq!(api.status(ENTRIES, Some(&api.alpha)), 200);

    // With the public key, a manifest edited on disk does not verify: nothing of its view is served.
    api.server.stop();
    let public = api.dir.path().join("test.pub");
    let server = Server::start(
        &api.root,
        &[
            "--partners",
            api.dir.path().join("partners.yaml").to_str().unwrap(),
            "--policy",
            &api.policy,
            "--public-key",
            public.to_str().unwrap(),
        ],
    );
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let get = |path: &str| {
        let mut r = agent
            .get(format!("{}{path}", server.base))
            .header("Authorization", format!("Bearer {}", api.alpha))
            .call()
            .unwrap();
        let publication = r.headers().get("x-credence-publication").map(|v| v.to_str().unwrap().to_string());
        (r.status().as_u16(), publication, r.body_mut().read_to_vec().unwrap())
    };
    let (status, publication, _) = get(ENTRIES);
    assert_eq!((status, publication.as_deref()), (200, Some("2026-11-27")), "latest names its publication");
    let manifest = view.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("\"entries\": ", "\"entries\":  ")).unwrap();
    assert_eq!(get(ENTRIES).0, 404, "a manifest whose signature fails");
    assert_eq!(get("/api/v1/lists/serious-dishonesty/latest/manifest.json").0, 404);
}

/// Regression: 300 half-open sockets exhausted the file descriptors: no
/// header-read timeout, no connection cap. Slow senders are cut, extra
/// connections closed, and a normal client is served afterwards.
#[test]
fn slow_and_surplus_connections_are_cut() {
    let api = setup();
    let mut server = Server::start(
        &api.root,
        &[
            "--partners",
            api.dir.path().join("partners.yaml").to_str().unwrap(),
            "--policy",
            &api.policy,
            "--max-connections",
            "4",
            "--header-timeout-seconds",
            "1",
            "--idle-timeout-seconds",
            "2",
        ],
    );
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut slow: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut surplus = TcpStream::connect(&addr).unwrap();
    surplus.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = surplus.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut buf = Vec::new();
    let _ = surplus.read_to_end(&mut buf);
    assert!(buf.is_empty(), "a fifth connection is closed unanswered");
    for s in &mut slow {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let started = Instant::now();
        let mut b = Vec::new();
        let _ = s.read_to_end(&mut b);
        assert!(started.elapsed() < Duration::from_secs(8), "a slow sender is cut by the header timeout");
    }
    let idle = TcpStream::connect(&addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut b = Vec::new();
    let _ = (&idle).read_to_end(&mut b);
    assert!(started.elapsed() < Duration::from_secs(8), "a silent connection is cut by the idle timeout");
    let ok = ureq::get(format!("{}/healthz", server.base)).call().unwrap().body_mut().read_to_string().unwrap();
    assert_eq!(ok, "ok\n", "served once the slow ones are gone");
    assert!(server.stop().success());
}

/// The audit log grows with every request and its rows are append-only:
/// `credence audit archive` moves old rows to a signed Parquet file that
/// minisign verifies, records the rotation in the log, and no other way
/// deletes a row.
#[test]
fn the_audit_log_is_archived_to_a_signed_file_and_rotated() {
    let mut api = setup();
    for _ in 0..5 {
        api.status(ENTRIES, Some(&api.alpha));
    }
    api.server.stop();
    let root = api.root.to_str().unwrap();
    let before = ok(&["audit", "--warehouse", root, "--limit", "1000"]).lines().count();
    assert!(before >= 5);
    let sk = api.dir.path().join("test.key");
    let out = ok(&[
        "audit",
        "archive",
        "--before",
        "2999-01-01",
        "--operator",
        "ops-li",
        "--signing-key",
        sk.to_str().unwrap(),
        "--warehouse",
        root,
    ]);
    assert!(out.contains(&format!("archived {before} audit rows")), "{out}");
    let after = ok(&["audit", "--warehouse", root, "--limit", "1000"]);
    assert_eq!(after.lines().count(), 1, "only the rotation's own row is left: {after}");
    assert!(
        after.contains("ops-li") && after.contains("credence audit archive") && after.contains("SHA-256"),
        "{after}"
    );
    let json = std::fs::read_dir(api.root.join("audit"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    let verified = std::process::Command::new("minisign")
        .args(["-Vm", json.to_str().unwrap(), "-p", api.dir.path().join("test.pub").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let parquet = api.root.join("audit").join(record["file"].as_str().unwrap());
    assert_eq!(credence::stages::publish::files::sha256_file(&parquet).unwrap().0, record["sha256"].as_str().unwrap());
    let rows: usize = credence::base::parquet_io::read_parquet(&parquet).unwrap().iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, before);
    // Outside a rotation, rows still cannot be deleted.
    let conn = rusqlite::Connection::open(api.root.join("credence.db")).unwrap();
    let e = conn.execute("DELETE FROM audit", []).unwrap_err().to_string();
    assert!(e.contains("rows leave it only through credence audit archive"), "{e}");
}
