//! The partner API with a real server on 127.0.0.1 and a real HTTP client.

use std::io::{Read, Write};
use std::path::Path;

use crate::support::{keys, ok, Server};

const POLICY_LISTS: &str = r#"lists:
  - id: serious-dishonesty
    title: List of seriously dishonest market entities
    grades: [D]
    review: none
    measures: [public_procurement_ban, enhanced_inspection, no_honours]
  - id: watch
    title: Entities under watch
    grades: [C]
    review: none
    measures: [enhanced_inspection]
"#;

const PARTNERS: &str = r#"partners:
  - { id: alpha, name: Alpha bureau, lists: [serious-dishonesty], columns: [entity_id, name, region, listed_since], formats: [csv, parquet] }
  - { id: beta, name: Beta office, lists: [watch], columns: [entity_id, region], formats: [csv], regions: ["44"] }
"#;

pub(crate) struct Api {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) root: std::path::PathBuf,
    pub(crate) server: Server,
    pub(crate) alpha: String,
    pub(crate) beta: String,
    revoked: String,
    agent: ureq::Agent,
    pub(crate) policy: String,
}

fn policy_with_two_lists(dir: &Path) -> String {
    let default = std::fs::read_to_string(crate::support::repo_root().join("policies/online-market.yaml")).unwrap();
    let start = default.find("lists:").unwrap();
    let end = default.find("joint_sanctions:").unwrap();
    let text = format!("{}{}{}", &default[..start], POLICY_LISTS, &default[end..]);
    let path = dir.join("two-lists.yaml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

pub(crate) fn setup() -> Api {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("wh");
    let r = root.to_str().unwrap();
    let policy = policy_with_two_lists(dir.path());
    let partners = dir.path().join("partners.yaml");
    std::fs::write(&partners, PARTNERS).unwrap();
    let p = partners.to_str().unwrap();
    let (sk, _) = keys(dir.path());
    ok(&["gen", "--warehouse", r, "--entities", "800", "--days", "2", "--seed", "4", "--as-of", "2026-11-27"]);
    for d in ["2026-11-26", "2026-11-27"] {
        ok(&["run", "--warehouse", r, "--as-of", d, "--policy", &policy, "--partners", p, "--signing-key", &sk]);
    }
    let token = |partner: &str| {
        ok(&["partners", "token", "issue", partner, "--warehouse", r, "--partners", p, "--policy", &policy])
            .trim()
            .to_string()
    };
    let (alpha, beta, revoked) = (token("alpha"), token("beta"), token("alpha"));
    ok(&["partners", "token", "revoke", "3", "--warehouse", r]);
    let server = Server::start(&root, &["--partners", p, "--policy", &policy]);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    Api { dir, root, server, alpha, beta, revoked, agent, policy }
}

impl Api {
    pub(crate) fn get(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut req = self.agent.get(format!("{}{path}", self.server.base));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut resp = req.call().unwrap();
        let status = resp.status().as_u16();
        let hs = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = resp.body_mut().read_to_vec().unwrap();
        (status, hs, body)
    }

    pub(crate) fn status(&self, path: &str, token: Option<&str>) -> u16 {
        self.get(path, token, &[]).0
    }

    /// A request sent as raw bytes, so that no client normalises the path.
    fn raw_status(&self, path: &str, token: &str) -> u16 {
        let addr = self.server.base.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}

pub(crate) fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

#[test]
fn the_auth_matrix_and_every_request_audited() {
    let api = setup();
    let lists = "/api/v1/lists";
    assert_eq!(api.status(lists, None), 401, "no token");
    assert_eq!(api.status(lists, Some("cred_not_a_token")), 401, "unknown token");
    assert_eq!(api.status(lists, Some(&api.revoked)), 401, "revoked token");
    let (s, _, body) = api.get(lists, Some(&api.alpha), &[]);
    assert_eq!(s, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v, serde_json::json!([{"list_id": "serious-dishonesty", "latest": "2026-11-27"}]));

    // Another partner's list, an unknown list, a file outside the entitlement: the same 404.
    let nf = api.get("/api/v1/lists/watch/publications", Some(&api.alpha), &[]);
    assert_eq!(nf.0, 404);
    assert_eq!(api.get("/api/v1/lists/no-such-list/publications", Some(&api.alpha), &[]).2, nf.2, "indistinguishable");
    assert_eq!(api.status("/api/v1/lists/watch/latest/entries.parquet", Some(&api.beta)), 404, "beta takes csv only");
    assert_eq!(api.status("/api/v1/lists/watch/latest/entries.csv", Some(&api.beta)), 200);
    assert_eq!(
        api.status("/api/v1/lists/serious-dishonesty/publications/2026-11-27/entries.csv", Some(&api.beta)),
        404
    );
    assert_eq!(
        api.status("/api/v1/lists/serious-dishonesty/publications/2026-11-01/entries.csv", Some(&api.alpha)),
        404
    );
    assert_eq!(api.status("/api/v1/lists/serious-dishonesty/publications/latest/entries.csv", Some(&api.alpha)), 404);

    // A column outside the entitlement is not in the partner's files at all.
    let (_, _, csv) = api.get("/api/v1/lists/watch/latest/entries.csv", Some(&api.beta), &[]);
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("entity_id,region\r\n"), "{csv}");
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert!(!rows.is_empty(), "beta's view has entries");
    assert!(rows.iter().all(|l| l.split(',').nth(1).unwrap().starts_with("44")), "beta sees regions 44... only: {csv}");

    // Traversal, plain and percent-encoded.
    for path in [
        "/api/v1/lists/serious-dishonesty/latest/../../../../credence.db",
        "/api/v1/lists/serious-dishonesty/latest/..%2F..%2F..%2F..%2Fcredence.db",
        "/api/v1/lists/..%2F..%2Fpublished%2Fserious-dishonesty/latest/entries.csv",
        "/api/v1/lists/serious-dishonesty/publications/2026-11-27/..%2Fentries.csv",
        "/api/v1/lists/serious-dishonesty/publications/2026-11-27/partners%2Fbeta%2Fentries.csv",
        "/api/v1/lists/serious-dishonesty/latest/%2e%2e%2fmanifest.json",
    ] {
        assert_eq!(api.raw_status(path, &api.alpha), 404, "{path}");
    }

    let audit = ok(&["audit", "--warehouse", api.root.to_str().unwrap(), "--limit", "100"]);
    let lines: Vec<&str> = audit.lines().collect();
    assert_eq!(lines.len(), 18, "every request is in the audit log:\n{audit}");
    assert!(lines.iter().any(|l| l.contains(" - ") && l.contains("GET /api/v1/lists 401")), "{audit}");
    assert!(lines.iter().any(|l| l.contains(" alpha ") && l.contains("/watch/publications 404")), "{audit}");
    assert!(lines.iter().any(|l| l.contains(" alpha ") && l.contains("credence.db 404")), "{audit}");
    assert!(lines.iter().any(|l| l.contains(" beta ") && l.contains("/watch/latest/entries.csv 200")), "{audit}");
}

#[test]
fn etag_range_gzip_and_sync() {
    let mut api = setup();
    let a = api.alpha.clone();
    let file = "/api/v1/lists/serious-dishonesty/latest/entries.csv";
    let (s, h, body) = api.get(file, Some(&a), &[]);
    assert_eq!(s, 200);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(api.root.join("published/serious-dishonesty/2026-11-27/partners/alpha/manifest.json")).unwrap(),
    )
    .unwrap();
    let sha = manifest["files"].as_array().unwrap().iter().find(|f| f["name"] == "entries.csv").unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let etag = format!("\"{sha}\"");
    assert_eq!(header(&h, "etag"), Some(etag.as_str()), "the ETag is the file's SHA-256");
    assert_eq!(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body)), sha);

    let (s, _, b) = api.get(file, Some(&a), &[("If-None-Match", &etag)]);
    assert_eq!((s, b.len()), (304, 0));
    let (s, _, _) = api.get(file, Some(&a), &[("If-None-Match", "\"something-else\"")]);
    assert_eq!(s, 200);

    let (s, h, part) = api.get(file, Some(&a), &[("Range", "bytes=0-9")]);
    assert_eq!((s, part.as_slice()), (206, &body[..10]));
    assert_eq!(header(&h, "content-range").unwrap(), format!("bytes 0-9/{}", body.len()));
    let (s, _, tail) = api.get(file, Some(&a), &[("Range", "bytes=-5")]);
    assert_eq!((s, tail.as_slice()), (206, &body[body.len() - 5..]));
    let (s, h, _) = api.get(file, Some(&a), &[("Range", &format!("bytes={}-", body.len()))]);
    assert_eq!(s, 416);
    assert_eq!(header(&h, "content-range").unwrap(), format!("bytes */{}", body.len()));

    let (s, h, gz) = api.get(file, Some(&a), &[("Accept-Encoding", "gzip")]);
    assert_eq!((s, header(&h, "content-encoding")), (200, Some("gzip")));
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice()).read_to_end(&mut plain).unwrap();
    assert_eq!(plain, body);
    let (_, h, _) =
        api.get("/api/v1/lists/serious-dishonesty/latest/entries.parquet", Some(&a), &[("Accept-Encoding", "gzip")]);
    assert_eq!(header(&h, "content-encoding"), None, "Parquet is already compressed");

    // Keeping in sync: publications after the one a partner has.
    let (_, _, b) = api.get("/api/v1/lists/serious-dishonesty/publications", Some(&a), &[]);
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["publications"], serde_json::json!(["2026-11-26", "2026-11-27"]));
    let (_, _, b) = api.get("/api/v1/lists/serious-dishonesty/publications?after=2026-11-26", Some(&a), &[]);
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["publications"], serde_json::json!(["2026-11-27"]));
    assert_eq!(api.status("/api/v1/lists/serious-dishonesty/publications?after=yesterday", Some(&a)), 400);
    // Every answer is JSON, also when the request's path or query does not
    // parse: a name that is not UTF-8 names nothing (404), `after` twice is 400.
    for (path, status, said) in [
        (
            "/api/v1/lists/serious-dishonesty/publications?after=2026-11-26&after=2026-11-27",
            400,
            "duplicate field `after`",
        ),
        ("/api/v1/lists/%ff/publications", 404, "not found"),
        ("/api/v1/lists/serious-dishonesty/publications/%ff/entries.csv", 404, "not found"),
        ("/api/v1/lists/serious-dishonesty/latest/%ff", 404, "not found"),
    ] {
        let (s, h, b) = api.get(path, Some(&a), &[]);
        assert_eq!(s, status, "{path}");
        assert_eq!(header(&h, "content-type"), Some("application/json"), "{path}");
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert!(v["error"].as_str().unwrap().contains(said), "{path}: {v}");
    }
    let (s, _, changes) =
        api.get("/api/v1/lists/serious-dishonesty/publications/2026-11-27/changes.csv", Some(&a), &[]);
    assert_eq!(s, 200);
    assert!(String::from_utf8(changes)
        .unwrap()
        .starts_with("action,entity_id,name,region,listed_since,removal_reason\r\n"));
    let (s, _, sig) = api.get("/api/v1/lists/serious-dishonesty/latest/manifest.json.minisig", Some(&a), &[]);
    assert_eq!(s, 200);
    assert!(String::from_utf8(sig)
        .unwrap()
        .contains("trusted comment: credence publication 2026-11-27 of serious-dishonesty for alpha"));

    let (s, _, doc) = api.get("/api/v1/openapi.json", Some(&a), &[]);
    assert_eq!(s, 200);
    let doc: serde_json::Value = serde_json::from_slice(&doc).unwrap();
    assert!(doc["paths"]["/api/v1/lists/{list}/latest/{file}"].is_object());
    assert_eq!(api.status("/healthz", None), 200);

    assert!(api.server.stop().success(), "SIGTERM stops the server cleanly");
}
