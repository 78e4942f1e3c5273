//! Officers' sessions: login and logout (argon2 hashes, a session cookie
//! that is HttpOnly and SameSite=Strict, an idle timeout), the CSRF token
//! every POST carries, and the middleware that requires a session outside
//! the public paths and writes every request to the audit log.

use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};

use crate::base::printable::printable;
use crate::base::store::{AuditEntry, LoginGate};
use crate::officer::accounts::{password_matches, Role};
use crate::serve::officer_ui::layout::{
    error_page, forbidden, html_response, page, refused_unread, unreadable_page, with_detail, PageError, PageFailure,
};
use crate::serve::officer_ui::{AuditDetail, Officer, UiState};
use crate::serve::tokens::{new_token, token_hash};

pub(crate) const SESSION_COOKIE: &str = "credence_session";
pub(crate) const LOGIN_COOKIE: &str = "credence_login";
pub(crate) const SHORTCUTS_COOKIE: &str = "credence_shortcuts";

pub(crate) fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(crate) const DRAFT_COOKIE: &str = "credence_draft";
pub(crate) const LANGUAGE_COOKIE: &str = "credence_lang";

/// A cookie's name: `__Host-<base>` behind TLS (`--ui-behind-tls`), so the
/// browser holds it to this host, path `/` and HTTPS only.
fn cookie_name(state: &UiState, base: &str) -> String {
    if state.behind_tls {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

pub(crate) fn cookie(state: &UiState, headers: &HeaderMap, base: &str) -> Option<String> {
    let name = cookie_name(state, base);
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

pub(crate) fn set_cookie(state: &UiState, base: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let age = max_age.map(|a| format!("; Max-Age={a}")).unwrap_or_default();
    let secure = if state.behind_tls { "; Secure" } else { "" };
    let name = cookie_name(state, base);
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}{age}"))
        .expect("cookie value")
}

/// The headers every answer of the pages carries (a handler that set its
/// own Content-Security-Policy or X-Frame-Options, such as a stored
/// notice's or an impact report's, keeps it).
fn secure_headers(r: &mut Response) {
    let h = r.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        );
    }
    if !h.contains_key(header::X_FRAME_OPTIONS) {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

/// A POST from another site: its Origin (or Referer) names another host.
/// `Origin: null` names none (our `Referrer-Policy: no-referrer` makes
/// browsers send it on our own forms): the CSRF token and the SameSite
/// cookies decide then.
pub(crate) fn cross_site(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let from = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok())
        .filter(|o| *o != "null");
    match from {
        None => false,
        Some(origin) => {
            let rest = origin.split("://").nth(1).unwrap_or("");
            rest.split('/').next().unwrap_or("") != host
        }
    }
}

/// Answers in the officer's language (the `credence_lang` cookie, else the
/// pages' default), through [`guarded`].
pub(crate) async fn sessions(State(state): State<Arc<UiState>>, req: Request, next: Next) -> Response {
    let lang = cookie(&state, req.headers(), LANGUAGE_COOKIE).unwrap_or_default();
    let messages = state.messages.clone();
    messages.scope(&lang, guarded(state, req, next)).await
}

/// Finds the session, requires one outside the public paths, checks CSRF
/// on every POST, and writes the request to the audit log.
async fn guarded(state: Arc<UiState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let shown_path = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let method = req.method().clone();
    // A session the database cannot confirm is no session: the request gets the error page.
    let mut failed = None;
    let officer = match cookie(&state, req.headers(), SESSION_COOKIE) {
        None => None,
        Some(t) => match state.store.session(&token_hash(&t), now_unix(), state.idle_seconds) {
            Ok(found) => found.and_then(|(id, role, csrf)| Role::parse(&role).map(|role| Officer { id, role, csrf })),
            Err(e) => {
                failed = Some(PageError::from(e));
                None
            }
        },
    };
    let asset = path.starts_with("/static/") || path == "/healthz" || path == "/favicon.ico";
    let public = path == "/login" || path == "/preferences" || asset;
    let peer = crate::serve::listener::Peer::of(&req);
    let response = if !state.rates.address(peer) {
        too_many_requests(&state)
    } else if let Some(e) = failed {
        e.into_response()
    } else if method == Method::POST && cross_site(req.headers()) {
        forbidden(&state, "bad_form")
    } else if let Some(o) = &officer {
        req.extensions_mut().insert(o.clone());
        next.run(req).await
    } else if public {
        next.run(req).await
    } else if method == Method::GET {
        let ended = cookie(&state, req.headers(), SESSION_COOKIE).is_some();
        let back = path_and_query(&req);
        let next = if ended && back != "/" && safe_next(&back) {
            format!("&next={}", urlencode(&back))
        } else {
            String::new()
        };
        Redirect::to(&if ended { format!("/login?expired=1{next}") } else { "/login".to_string() }).into_response()
    } else if path == "/decisions" {
        keep_draft(&state, peer, req).await
    } else {
        forbidden(&state, "session_expired")
    };
    let failure = response.extensions().get::<PageFailure>().cloned();
    let mut unread = None;
    let mut response = match &failure {
        Some(f) => error_page(&state, officer.as_ref(), f),
        None if refused_unread(&response) => {
            let status = response.status();
            let said = axum::body::to_bytes(response.into_body(), 4096).await.unwrap_or_default();
            unread = Some(format!("unreadable request: {}", printable(&String::from_utf8_lossy(&said), 300)));
            unreadable_page(&state, officer.as_ref(), status)
        }
        None => response,
    };
    secure_headers(&mut response);
    if asset && response.status().is_success() {
        // Static assets and health checks say nothing about anyone: not audited.
        return response;
    }
    let detail = match &failure {
        Some(f) => Some(format!("error {}: {}", f.reference, f.cause)),
        None => unread.or_else(|| response.extensions().get::<AuditDetail>().map(|d| d.0.clone())),
    };
    let actor = officer.as_ref().map(|o| format!("officer:{}", o.id));
    let bytes = http_body::Body::size_hint(response.body()).exact().unwrap_or(0);
    if let Err(e) = state.store.audit(&AuditEntry {
        actor: actor.as_deref(),
        method: method.as_str(),
        path: &shown_path,
        status: response.status().as_u16(),
        bytes,
        detail: detail.as_deref(),
    }) {
        // Fail closed: what the request asked for is not given without its audit row.
        tracing::error!(error = %e, "audit log write failed: the request is refused");
        return (StatusCode::SERVICE_UNAVAILABLE, state.messages.t("audit_unavailable").to_string()).into_response();
    }
    response
}

/// 429: past a request rate, try again in a minute.
fn too_many_requests(state: &UiState) -> Response {
    let mut r = (StatusCode::TOO_MANY_REQUESTS, state.messages.t("too_many_requests").to_string()).into_response();
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    r
}

#[derive(serde::Deserialize)]
pub(crate) struct Expired {
    expired: Option<String>,
    /// Where to go after logging in (a page of these pages).
    next: Option<String>,
}

fn path_and_query(req: &Request) -> String {
    req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into())
}

/// A page to return to after logging in: one of ours, never another site.
pub(crate) fn safe_next(next: &str) -> bool {
    (next.starts_with("/entities/") || next.starts_with("/review/") || next == "/exemptions" || next == "/")
        && !next.contains("//")
        && !next.contains('\\')
        && next.len() < 512
        && !next.chars().any(|c| c.is_control())
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A decision form posted after the session ended: its fields are kept
/// (an hour, in memory) and the officer returns to the same page after
/// logging in, with the draft filled in. Nothing is decided. Anyone can
/// post one, so such posts count toward the address's rate without a
/// session, and a draft is kept only when it is one a form could send: an
/// entity id, a reason the gate would take, short other fields.
async fn keep_draft(state: &UiState, peer: crate::serve::listener::Peer, req: Request) -> Response {
    if !state.rates.unauthenticated(peer) {
        return too_many_requests(state);
    }
    let body = match axum::body::to_bytes(req.into_body(), 64 * 1024).await {
        Ok(b) => b,
        Err(_) => return forbidden(state, "session_expired"),
    };
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let draft = crate::serve::officer_ui::Draft {
        action: get("action"),
        list: get("list"),
        entity: get("entity"),
        reason: get("reason"),
        until: get("until"),
        received: get("received"),
    };
    let back = format!("/entities/{}?list={}", urlencode(&draft.entity), urlencode(&draft.list));
    let short = [&draft.action, &draft.list, &draft.until, &draft.received].iter().all(|f| f.len() <= 64);
    let reason = draft.reason.chars().count() <= crate::officer::decide::MAX_REASON_CHARS;
    if !crate::base::ids::is_entity_id(&draft.entity) || !short || !reason || !safe_next(&back) {
        return forbidden(state, "session_expired");
    }
    let id = new_token();
    state.keep_draft(&id, draft);
    let mut r = Redirect::to(&format!("/login?expired=1&next={}", urlencode(&back))).into_response();
    r.headers_mut().append(header::SET_COOKIE, set_cookie(state, DRAFT_COOKIE, &id, Some(3600)));
    with_detail(r, "kept the draft of a decision posted after the session ended".into())
}

/// A well-formed token from [`new_token`].
pub(crate) fn is_token(s: &str) -> bool {
    s.strip_prefix("cred_").is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub(crate) async fn login_form(
    State(state): State<Arc<UiState>>,
    headers: HeaderMap,
    Query(q): Query<Expired>,
) -> Response {
    // Keep the login cookie of an earlier view (another tab, a stray
    // request): a new one would make every login form already shown stale.
    let token = cookie(&state, &headers, LOGIN_COOKIE).filter(|t| is_token(t)).unwrap_or_else(new_token);
    let notice = q.expired.is_some().then(|| state.messages.t("session_expired").to_string());
    let next = q.next.filter(|n| safe_next(n)).unwrap_or_default();
    let mut r = html_response(StatusCode::OK, login_page(&state, &token, notice.as_deref(), "", &next));
    r.headers_mut().append(header::SET_COOKIE, set_cookie(&state, LOGIN_COOKIE, &token, Some(3600)));
    r
}

pub(crate) fn login_page(state: &UiState, token: &str, error: Option<&str>, officer: &str, next: &str) -> Markup {
    let m = &state.messages;
    page(
        state,
        None,
        m.t("login_title"),
        html! {
            h1 { (m.t("login_title")) }
            @if let Some(e) = error {
                div class="error-summary" role="alert" tabindex="-1" {
                    h2 { (m.t("error_summary")) }
                    ul { li { a href="#officer" { (e) } } }
                }
            }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(token);
                input type="hidden" name="next" value=(next);
                label for="officer" { (m.t("officer_id")) }
                input type="text" id="officer" name="officer" autocomplete="username" required value=(officer);
                label for="password" { (m.t("password")) }
                input type="password" id="password" name="password" autocomplete="current-password" required;
                div { button class="primary" type="submit" { (m.t("log_in")) } }
            }
        },
    )
}

#[derive(serde::Deserialize)]
pub(crate) struct LoginForm {
    officer: String,
    password: String,
    csrf: String,
    #[serde(default)]
    next: String,
}

/// An argon2 hash of no one's password: an unknown officer id costs the
/// same verification as a known one, so timing does not tell ids apart.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| crate::officer::accounts::hash_password(&new_token()).expect("hashing a random password"))
}

pub(crate) async fn login(
    State(state): State<Arc<UiState>>,
    headers: HeaderMap,
    peer: Option<Extension<crate::serve::listener::Peer>>,
    Form(f): Form<LoginForm>,
) -> Response {
    // Before a session exists, the form's token must equal the login cookie.
    if cookie(&state, &headers, LOGIN_COOKIE).as_deref() != Some(f.csrf.as_str()) {
        return forbidden(&state, "bad_form");
    }
    let m = &state.messages;
    let now = now_unix();
    let address = peer.map(|Extension(p)| p.0.ip().to_string()).unwrap_or_else(|| "unknown".into());
    let subjects = [format!("officer:{}", f.officer), format!("address:{address}")];
    let next = if safe_next(&f.next) { f.next.clone() } else { String::new() };
    let again = |status: StatusCode, error: &str, detail: String| {
        let token = new_token();
        let mut r = html_response(status, login_page(&state, &token, Some(error), &f.officer, &next));
        r.headers_mut().append(header::SET_COOKIE, set_cookie(&state, LOGIN_COOKIE, &token, Some(3600)));
        with_detail(r, detail)
    };
    // Growing delays, then a lockout: checked before the password, so that
    // the right password does not open a locked account either.
    for subject in &subjects {
        match state.store.login_gate(subject, now) {
            Ok(LoginGate::Open) => {}
            Ok(LoginGate::Wait(seconds)) => {
                let mut r = again(
                    StatusCode::TOO_MANY_REQUESTS,
                    &m.f("login_wait", &[("seconds", &seconds)]),
                    format!("login as {} refused: {subject} waits {seconds} s", f.officer),
                );
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds as u64));
                return r;
            }
            Ok(LoginGate::Locked) => {
                return again(
                    StatusCode::LOCKED,
                    m.t("login_locked"),
                    format!("login as {} refused: locked", f.officer),
                );
            }
            Err(e) => return PageError::from(e).into_response(),
        }
    }
    let ok = match state.store.officer(&f.officer) {
        Ok(Some((_, hash))) => password_matches(&f.password, &hash),
        Ok(None) => {
            let _ = password_matches(&f.password, dummy_hash());
            false
        }
        Err(e) => return PageError::from(e).into_response(),
    };
    if !ok {
        for subject in &subjects {
            if let Err(e) = state.store.login_failed(subject, now) {
                return PageError::from(e).into_response();
            }
        }
        return again(StatusCode::UNAUTHORIZED, m.t("login_failed"), format!("failed login as {}", f.officer));
    }
    for subject in &subjects {
        if let Err(e) = state.store.login_succeeded(subject) {
            return PageError::from(e).into_response();
        }
    }
    let session = new_token();
    if let Err(e) = state.store.start_session(&token_hash(&session), &f.officer, &new_token(), now) {
        tracing::error!(error = %e, "starting a session failed");
        return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
    }
    let mut r = Redirect::to(if next.is_empty() { "/" } else { &next }).into_response();
    r.headers_mut().append(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, &session, None));
    r.headers_mut().append(header::SET_COOKIE, set_cookie(&state, LOGIN_COOKIE, "", Some(0)));
    with_detail(r, format!("login as {}", f.officer))
}

#[derive(serde::Deserialize)]
pub(crate) struct CsrfOnly {
    csrf: String,
}

pub(crate) async fn logout(
    State(state): State<Arc<UiState>>,
    headers: HeaderMap,
    Extension(o): Extension<Officer>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if f.csrf != o.csrf {
        return forbidden(&state, "bad_form");
    }
    if let Some(t) = cookie(&state, &headers, SESSION_COOKIE) {
        let _ = state.store.end_session(&token_hash(&t));
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().append(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, "", Some(0)));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        h
    }

    /// A POST is from another site when its Origin, or without one its
    /// Referer, names a host other than the one asked, whole: a host that
    /// merely begins like ours is another (mutants that read only the
    /// Origin, or compared a prefix, survived every test).
    #[test]
    fn another_site_is_told_by_its_whole_host_from_origin_or_referer() {
        use header::{HOST, ORIGIN, REFERER};
        let ours = "ui.test:8080";
        for (pairs, cross) in [
            (vec![(ORIGIN, "http://ui.test:8080")], false),
            (vec![(ORIGIN, "https://evil.example")], true),
            (vec![(ORIGIN, "http://ui.test:8080.evil.example")], true),
            (vec![(ORIGIN, "http://ui.test")], true),
            (vec![(REFERER, "http://ui.test:8080/queue?page=2")], false),
            (vec![(REFERER, "https://evil.example/ui.test:8080/")], true),
            (vec![(REFERER, "http://ui.test:8080.evil.example/queue")], true),
            (vec![(ORIGIN, "null")], false),
            (vec![], false),
        ] {
            let mut all = vec![(HOST, ours)];
            all.extend(pairs.iter().cloned());
            assert_eq!(cross_site(&headers(&all)), cross, "{pairs:?}");
        }
    }
}
