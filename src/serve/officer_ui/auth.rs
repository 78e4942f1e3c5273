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

use crate::base::store::AuditEntry;
use crate::officer::accounts::{password_matches, Role};
use crate::serve::officer_ui::layout::{
    error_page, forbidden, html_response, page, with_detail, PageError, PageFailure,
};
use crate::serve::officer_ui::{AuditDetail, Officer, UiState};
use crate::serve::tokens::{new_token, token_hash};

pub(crate) const SESSION_COOKIE: &str = "credence_session";
pub(crate) const LOGIN_COOKIE: &str = "credence_login";
pub(crate) const SHORTCUTS_COOKIE: &str = "credence_shortcuts";

pub(crate) fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

pub(crate) fn set_cookie(name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let age = max_age.map(|a| format!("; Max-Age={a}")).unwrap_or_default();
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict{age}")).expect("cookie value")
}

/// A POST from another site: its Origin (or Referer) names another host.
pub(crate) fn cross_site(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let from = headers.get(header::ORIGIN).or_else(|| headers.get(header::REFERER)).and_then(|v| v.to_str().ok());
    match from {
        None => false,
        Some(origin) => {
            let rest = origin.split("://").nth(1).unwrap_or("");
            rest.split('/').next().unwrap_or("") != host
        }
    }
}

/// Finds the session, requires one outside the public paths, checks CSRF
/// on every POST, and writes the request to the audit log.
pub(crate) async fn sessions(State(state): State<Arc<UiState>>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let shown_path = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let method = req.method().clone();
    // A session the database cannot confirm is no session: the request gets the error page.
    let mut failed = None;
    let officer = match cookie(req.headers(), SESSION_COOKIE) {
        None => None,
        Some(t) => match state.store.session(&token_hash(&t), now_unix(), state.idle_seconds) {
            Ok(found) => found.and_then(|(id, role, csrf)| Role::parse(&role).map(|role| Officer { id, role, csrf })),
            Err(e) => {
                failed = Some(PageError::from(e));
                None
            }
        },
    };
    let public = path == "/login" || path.starts_with("/static/") || path == "/healthz" || path == "/favicon.ico";
    let peer = crate::serve::listener::Peer::of(&req);
    let response = if !state.rates.address(peer) {
        let mut r = (StatusCode::TOO_MANY_REQUESTS, "too many requests: slow down\n").into_response();
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        r
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
        let ended = cookie(req.headers(), SESSION_COOKIE).is_some();
        Redirect::to(if ended { "/login?expired=1" } else { "/login" }).into_response()
    } else {
        forbidden(&state, "session_expired")
    };
    let failure = response.extensions().get::<PageFailure>().cloned();
    let response = match &failure {
        Some(f) => error_page(&state, officer.as_ref(), f),
        None => response,
    };
    let detail = match &failure {
        Some(f) => Some(format!("error {}: {}", f.reference, f.cause)),
        None => response.extensions().get::<AuditDetail>().map(|d| d.0.clone()),
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
        return (StatusCode::SERVICE_UNAVAILABLE, "the audit log cannot be written: try again later\n").into_response();
    }
    response
}

#[derive(serde::Deserialize)]
pub(crate) struct Expired {
    expired: Option<String>,
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
    let token = cookie(&headers, LOGIN_COOKIE).filter(|t| is_token(t)).unwrap_or_else(new_token);
    let notice = q.expired.is_some().then(|| state.messages.t("session_expired").to_string());
    let mut r = html_response(StatusCode::OK, login_page(&state, &token, notice.as_deref(), ""));
    r.headers_mut().append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, &token, Some(3600)));
    r
}

pub(crate) fn login_page(state: &UiState, token: &str, error: Option<&str>, officer: &str) -> Markup {
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
}

pub(crate) async fn login(State(state): State<Arc<UiState>>, headers: HeaderMap, Form(f): Form<LoginForm>) -> Response {
    // Before a session exists, the form's token must equal the login cookie.
    if cookie(&headers, LOGIN_COOKIE).as_deref() != Some(f.csrf.as_str()) {
        return forbidden(&state, "bad_form");
    }
    let ok = matches!(state.store.officer(&f.officer), Ok(Some((_, hash))) if password_matches(&f.password, &hash));
    if !ok {
        let token = new_token();
        let mut r = html_response(
            StatusCode::UNAUTHORIZED,
            login_page(&state, &token, Some(state.messages.t("login_failed")), &f.officer),
        );
        r.headers_mut().append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, &token, Some(3600)));
        return with_detail(r, format!("failed login as {}", f.officer));
    }
    let session = new_token();
    if let Err(e) = state.store.start_session(&token_hash(&session), &f.officer, &new_token(), now_unix()) {
        tracing::error!(error = %e, "starting a session failed");
        return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
    }
    let mut r = Redirect::to("/").into_response();
    r.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &session, None));
    r.headers_mut().append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "", Some(0)));
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
    if let Some(t) = cookie(&headers, SESSION_COOKIE) {
        let _ = state.store.end_session(&token_hash(&t));
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", Some(0)));
    r
}
