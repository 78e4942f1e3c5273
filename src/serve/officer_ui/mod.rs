//! The officer pages (`credence serve --ui-listen`): plain HTML forms on a
//! listener of their own, never the partner API's. Officers log in
//! (argon2 hashes, a session cookie that is HttpOnly and SameSite=Strict,
//! an idle timeout); auditors read only; every POST carries the session's
//! CSRF token and a cross-site POST gets 403; every request, with the
//! officer's id, goes to the audit log. All text comes from the message
//! catalogue ([`messages`]).

pub mod messages;
pub mod svg;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use maud::{html, Markup, DOCTYPE};

use crate::base::ids::AsOf;
use crate::base::marts::listings::{self, ListingRow, ReviewStatus};
use crate::base::marts::{registry, scores};
use crate::base::store::{Action, AuditEntry, Decision, Store};
use crate::officer::accounts::{password_matches, Role};
use crate::base::warehouse::Mart;
use crate::base::warehouse::Warehouse;
use crate::config::policy::Policy;
use crate::officer::decide;
use crate::officer::explain::{self, Explanation};
use crate::officer::queue::{self, QueueEntry};
use crate::serve::tokens::{new_token, token_hash};
use crate::stages::review::DecisionBook;
pub use messages::Messages;
pub use crate::officer::accounts::hash_password;

const SESSION_COOKIE: &str = "credence_session";
const LOGIN_COOKIE: &str = "credence_login";
const SHORTCUTS_COOKIE: &str = "credence_shortcuts";
const CSS: &str = include_str!("assets/app.css");
const SHORTCUTS_JS: &str = include_str!("assets/shortcuts.js");

/// What the pages need.
pub struct UiState {
    pub warehouse: Warehouse,
    pub policy: Policy,
    pub store: Store,
    pub messages: Messages,
    /// A session ends after this long without a request.
    pub idle_seconds: i64,
}

/// The logged-in officer of a request.
#[derive(Clone, Debug)]
pub struct Officer {
    pub id: String,
    pub role: Role,
    pub csrf: String,
}

/// A line the audit middleware adds to the request's audit entry.
#[derive(Clone)]
struct AuditDetail(String);

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

fn set_cookie(name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let age = max_age.map(|a| format!("; Max-Age={a}")).unwrap_or_default();
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict{age}")).expect("cookie value")
}

/// A POST from another site: its Origin (or Referer) names another host.
fn cross_site(headers: &HeaderMap) -> bool {
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

/// The router of the officer pages.
pub fn router(state: Arc<UiState>) -> Router {
    Router::new()
        .route("/", get(dashboard))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/search", get(search))
        .route("/entities/{id}", get(entity_page))
        .route("/review/{list}", get(review_queue))
        .route("/review/{list}/bulk", post(bulk_preview))
        .route("/review/{list}/bulk/apply", post(bulk_apply))
        .route("/decisions", post(decision))
        .route("/exemptions", get(exemptions))
        .route("/preferences", get(preferences))
        .route("/static/app.css", get(|| async { ([(header::CONTENT_TYPE, "text/css")], CSS) }))
        .route("/static/shortcuts.js", get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], SHORTCUTS_JS) }))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
        .layer(middleware::from_fn_with_state(state.clone(), sessions))
        .with_state(state)
}

/// Finds the session, requires one outside the public paths, checks CSRF
/// on every POST, and writes the request to the audit log.
async fn sessions(State(state): State<Arc<UiState>>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let shown_path = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let method = req.method().clone();
    let officer = cookie(req.headers(), SESSION_COOKIE).and_then(|t| {
        let found = state.store.session(&token_hash(&t), now_unix(), state.idle_seconds).ok().flatten();
        found.and_then(|(id, role, csrf)| Role::parse(&role).map(|role| Officer { id, role, csrf }))
    });
    let public = path == "/login" || path.starts_with("/static/") || path == "/healthz" || path == "/favicon.ico";
    let response = if method == Method::POST && cross_site(req.headers()) {
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
    let detail = response.extensions().get::<AuditDetail>().map(|d| d.0.clone());
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
        tracing::error!(error = %e, "audit log write failed");
    }
    response
}

fn forbidden(state: &UiState, key: &str) -> Response {
    let m = &state.messages;
    let body = html! { (DOCTYPE) html lang=(m.t("lang")) { head { meta charset="utf-8"; title { (m.t("forbidden")) } link rel="stylesheet" href="/static/app.css"; }
    body { main { h1 { (m.t("forbidden")) } p { (m.t(key)) } p { a href="/" { (m.t("nav_dashboard")) } } } } } };
    (StatusCode::FORBIDDEN, Html(body.into_string())).into_response()
}

/// The page frame: navigation, the officer, logout, then `body`.
fn page(state: &UiState, officer: Option<&Officer>, title: &str, body: Markup) -> Markup {
    let m = &state.messages;
    html! {
        (DOCTYPE)
        html lang=(m.t("lang")) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (m.t("app_title")) }
                link rel="stylesheet" href="/static/app.css";
            }
            body {
                a class="skip" href="#content" { (m.t("skip_to_content")) }
                header {
                    strong { (m.t("app_title")) }
                    @if let Some(o) = officer {
                        nav aria-label=(m.t("app_title")) {
                            ul {
                                li { a href="/" { (m.t("nav_dashboard")) } }
                                @for l in &state.policy.lists {
                                    li { a href=(format!("/review/{}", l.id)) { (m.f("nav_queue", &[("list", &l.id)])) } }
                                }
                                li { a href="/exemptions" { (m.t("nav_exemptions")) } }
                                li { a href="/search" { (m.t("nav_search")) } }
                            }
                        }
                        span { (m.f("signed_in_as", &[("officer", &o.id), ("role", &o.role.as_str())])) }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(o.csrf);
                            button type="submit" { (m.t("log_out")) }
                        }
                    }
                }
                main id="content" { (body) }
            }
        }
    }
}

fn html_response(status: StatusCode, markup: Markup) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Html(markup.into_string())).into_response()
}

fn with_detail(mut r: Response, detail: String) -> Response {
    r.extensions_mut().insert(AuditDetail(detail));
    r
}

// ---------------------------------------------------------------- login

#[derive(serde::Deserialize)]
struct Expired {
    expired: Option<String>,
}

/// A well-formed token from [`new_token`].
fn is_token(s: &str) -> bool {
    s.strip_prefix("cred_").is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

async fn login_form(State(state): State<Arc<UiState>>, headers: HeaderMap, Query(q): Query<Expired>) -> Response {
    // Keep the login cookie of an earlier view (another tab, a stray
    // request): a new one would make every login form already shown stale.
    let token = cookie(&headers, LOGIN_COOKIE).filter(|t| is_token(t)).unwrap_or_else(new_token);
    let notice = q.expired.is_some().then(|| state.messages.t("session_expired").to_string());
    let mut r = html_response(StatusCode::OK, login_page(&state, &token, notice.as_deref(), ""));
    r.headers_mut().append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, &token, Some(3600)));
    r
}

fn login_page(state: &UiState, token: &str, error: Option<&str>, officer: &str) -> Markup {
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
struct LoginForm {
    officer: String,
    password: String,
    csrf: String,
}

async fn login(State(state): State<Arc<UiState>>, headers: HeaderMap, Form(f): Form<LoginForm>) -> Response {
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
struct CsrfOnly {
    csrf: String,
}

async fn logout(
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

// ---------------------------------------------------------------- dashboard

fn latest_scores(wh: &Warehouse) -> Option<AsOf> {
    wh.mart_dates(Mart::Scores).pop()
}

async fn dashboard(State(state): State<Arc<UiState>>, Extension(o): Extension<Officer>) -> Response {
    let m = &state.messages;
    let runs = state.store.runs(10).unwrap_or_default();
    let latest = runs.first();
    let steps =
        latest.map(|r| state.store.steps(crate::base::store::RunId(r.run_id)).unwrap_or_default()).unwrap_or_default();
    let summary: Option<serde_json::Value> = runs
        .iter()
        .find(|r| r.outcome == "succeeded")
        .and_then(|r| r.summary.as_deref())
        .and_then(|s| serde_json::from_str(s).ok());
    let by_grade: Vec<(String, u64)> = summary
        .as_ref()
        .and_then(|s| s["scores"]["by_grade"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|g| Some((g[0].as_str()?.to_string(), g[1].as_u64()?)))
        .collect();
    let lists = summary.as_ref().and_then(|s| s["lists"].as_array().cloned()).unwrap_or_default();
    let rejected = summary.as_ref().and_then(|s| s["rejected_by_code"].as_object().cloned()).unwrap_or_default();
    let pending: Vec<(String, usize, i64)> = state
        .policy
        .lists
        .iter()
        .map(|l| match queue::pending(&state.warehouse, &l.id, None) {
            Ok(Some((at, entries))) => {
                let oldest = entries.iter().map(|e| (at.date() - e.pending_since.date()).num_days()).max().unwrap_or(0);
                (l.id.clone(), entries.len(), oldest)
            }
            _ => (l.id.clone(), 0, 0),
        })
        .collect();
    let body = html! {
        h1 { (m.t("dashboard_title")) }
        h2 { (m.t("latest_run")) }
        @match latest {
            None => p { (m.t("no_runs")) },
            Some(r) => {
                table {
                    tr { th scope="row" { (m.t("run_id")) } td { (r.run_id) } }
                    tr { th scope="row" { (m.t("as_of")) } td { (r.as_of) } }
                    tr { th scope="row" { (m.t("outcome")) } td { (r.outcome) @if let Some(e) = &r.error { " — " (e) } } }
                    tr { th scope="row" { (m.t("trigger")) } td { (r.trigger) } }
                    tr { th scope="row" { (m.t("started")) } td { (r.started_at) } }
                    tr { th scope="row" { (m.t("finished")) } td { (r.finished_at.clone().unwrap_or_default()) } }
                }
                table {
                    thead { tr { th scope="col" { (m.t("step")) } th scope="col" { (m.t("duration_s")) } th scope="col" { (m.t("rows")) } } }
                    tbody { @for s in &steps { tr { td { (s.step) } td { (format!("{:.2}", s.duration_ms as f64 / 1000.0)) } td { (s.rows.unwrap_or(0)) } } } }
                }
            }
        }
        h2 { (m.t("entities_by_grade")) }
        table {
            thead { tr { th scope="col" { (m.t("grade")) } th scope="col" { (m.t("entities")) } } }
            tbody { @for (g, n) in &by_grade { tr { td { (g) } td { (n) } } } }
        }
        h2 { (m.t("list_sizes")) }
        table {
            thead { tr {
                th scope="col" { (m.t("list")) } th scope="col" { (m.t("members")) } th scope="col" { (m.t("joint")) }
                th scope="col" { (m.t("published")) } th scope="col" { (m.t("pending")) } th scope="col" { (m.t("rejected")) }
            } }
            tbody { @for l in &lists { tr {
                td { (l["list_id"].as_str().unwrap_or("")) } td { (l["members"]) } td { (l["joint"]) }
                td { (l["published"]) } td { (l["pending"]) } td { (l["rejected"]) }
            } } }
        }
        h2 { (m.t("pending_reviews")) }
        table {
            thead { tr { th scope="col" { (m.t("list")) } th scope="col" { (m.t("pending")) } th scope="col" { (m.t("oldest_pending_days")) } } }
            tbody { @for (l, n, age) in &pending { tr { td { a href=(format!("/review/{l}")) { (l) } } td { (n) } td { (age) } } } }
        }
        h2 { (m.t("rejected_input_rows")) }
        table {
            thead { tr { th scope="col" { (m.t("code")) } th scope="col" { (m.t("rows")) } } }
            tbody { @for (code, n) in &rejected { tr { td { (code) } td { (n) } } } }
        }
        h2 { (m.t("recent_runs")) }
        table {
            thead { tr {
                th scope="col" { (m.t("run_id")) } th scope="col" { (m.t("as_of")) } th scope="col" { (m.t("outcome")) }
                th scope="col" { (m.t("trigger")) } th scope="col" { (m.t("started")) }
            } }
            tbody { @for r in &runs { tr { td { (r.run_id) } td { (r.as_of) } td { (r.outcome) } td { (r.trigger) } td { (r.started_at) } } } }
        }
    };
    html_response(StatusCode::OK, page(&state, Some(&o), m.t("dashboard_title"), body))
}

// ---------------------------------------------------------------- search

#[derive(serde::Deserialize, Default)]
struct SearchQuery {
    q: Option<String>,
    region: Option<String>,
}

async fn search(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    Query(q): Query<SearchQuery>,
) -> Response {
    let m = &state.messages;
    let query = q.q.clone().unwrap_or_default();
    let region = q.region.clone().unwrap_or_default();
    let results = if query.trim().is_empty() && region.trim().is_empty() {
        None
    } else {
        let newest = state.warehouse.mart_dates(Mart::Registry).pop();
        Some(match newest {
            Some(d) => registry::search(&state.warehouse, d, query.trim(), region.trim(), 50).unwrap_or_default(),
            None => vec![],
        })
    };
    let body = html! {
        h1 { (m.t("search_title")) }
        form method="get" action="/search" role="search" {
            label for="q" { (m.t("search_query")) }
            input type="search" id="q" name="q" value=(query);
            label for="region" { (m.t("region")) }
            input type="text" id="region" name="region" value=(region) inputmode="numeric";
            div { button class="primary" type="submit" { (m.t("search_button")) } }
        }
        @if let Some(rs) = &results {
            @if rs.is_empty() { p { (m.t("no_results")) } } @else {
                p { (m.f("results", &[("count", &rs.len())])) }
                table {
                    thead { tr {
                        th scope="col" { (m.t("entity_id")) } th scope="col" { (m.t("name")) } th scope="col" { (m.t("region")) }
                        th scope="col" { (m.t("entity_type")) } th scope="col" { (m.t("status")) }
                    } }
                    tbody { @for f in rs { tr {
                        td { a href=(format!("/entities/{}", f.entity_id)) { (f.entity_id) } } td { (f.name) } td { (f.region) }
                        td { (f.entity_type) } td { (f.status) }
                    } } }
                }
            }
        }
    };
    html_response(StatusCode::OK, page(&state, Some(&o), m.t("search_title"), body))
}

// ---------------------------------------------------------------- entity

/// The state of a member as a decision form saw it: a decision is refused
/// (409) when the newest listing says something else.
fn fingerprint(as_of: AsOf, row: Option<&ListingRow>, awaiting: Option<&Decision>) -> String {
    let decided = awaiting.map(|d| format!("|#{}", d.id)).unwrap_or_default();
    match row {
        None => format!("{as_of}|none{decided}"),
        Some(r) => format!("{as_of}|{}|{}|{}{decided}", r.review_status.as_str(), r.basis.as_str(), r.rules.join(",")),
    }
}

/// The newest confirm or reject of each member of `list` (or of `entity`
/// only) recorded after the run that made the listing as of `at`: it takes
/// effect in the next run.
fn awaiting(state: &UiState, list: &str, at: AsOf, entity: Option<&str>) -> HashMap<String, Decision> {
    let used = state.store.decisions_used(at).ok().flatten().unwrap_or(0);
    let last = state.store.last_decision_id().unwrap_or(0);
    let mut newest: HashMap<String, Decision> = HashMap::new();
    for d in state.store.decisions_between(used, last, Some(list), entity).unwrap_or_default() {
        if matches!(d.action, Action::Confirm | Action::Reject) {
            newest.insert(d.entity_id.clone(), d);
        }
    }
    newest
}

/// The state of `entity` on `list` a confirm or reject is decided against:
/// the newest listing row and any decision awaiting the next run.
struct MemberNow {
    at: AsOf,
    row: Option<ListingRow>,
    awaiting: Option<Decision>,
}

impl MemberNow {
    fn read(state: &UiState, list: &str, entity: &str) -> Option<MemberNow> {
        let (at, row) = newest_member(&state.warehouse, list, entity)?;
        let awaiting = awaiting(state, list, at, Some(entity)).remove(entity);
        Some(MemberNow { at, row, awaiting })
    }

    fn fingerprint(&self) -> String {
        fingerprint(self.at, self.row.as_ref(), self.awaiting.as_ref())
    }

    fn describe(&self, m: &Messages) -> String {
        let mut text = match &self.row {
            Some(r) => {
                format!("{} ({}, {}) as of {}", r.review_status.as_str(), r.basis.as_str(), r.rules.join(", "), self.at)
            }
            None => m.t("not_a_member").to_string(),
        };
        if let Some(d) = &self.awaiting {
            text.push_str("; ");
            text.push_str(&awaiting_text(m, d));
        }
        text
    }
}

fn awaiting_text(m: &Messages, d: &Decision) -> String {
    m.f("awaiting_decision", &[("action", &d.action.as_str()), ("officer", &d.officer), ("id", &d.id)])
}

/// The newest listing of `list` and the entity's row in it.
fn newest_member(wh: &Warehouse, list: &str, entity: &str) -> Option<(AsOf, Option<ListingRow>)> {
    let at = wh.list_mart_dates(Mart::Listings, list).pop()?;
    let rows = listings::read_listings(&wh.list_mart(Mart::Listings, list, at)).ok()?;
    Some((at, rows.into_iter().find(|r| r.entity_id == entity)))
}

#[derive(serde::Deserialize, Default)]
struct EntityQuery {
    as_of: Option<String>,
    list: Option<String>,
    decided: Option<i64>,
}

async fn entity_page(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    Path(id): Path<String>,
    Query(q): Query<EntityQuery>,
) -> Response {
    let as_of = q.as_of.as_deref().and_then(|d| d.parse().ok()).or_else(|| latest_scores(&state.warehouse));
    let notice = q.decided.map(|d| {
        let what = state.store.decisions_between(d - 1, d, None, None).ok().and_then(|mut one| one.pop());
        match what {
            Some(x) => state.messages.f(
                "decision_recorded",
                &[("id", &d), ("action", &x.action.as_str()), ("entity", &x.entity_id), ("list", &x.list_id)],
            ),
            None => state.messages.f("decision_recorded_plain", &[("id", &d)]),
        }
    });
    render_entity(&state, &o, &id, as_of, q.list.as_deref(), notice, None, StatusCode::OK)
}

#[allow(clippy::too_many_arguments)]
fn render_entity(
    state: &UiState,
    o: &Officer,
    id: &str,
    as_of: Option<AsOf>,
    from_list: Option<&str>,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let m = &state.messages;
    let Some(as_of) = as_of else {
        return html_response(
            StatusCode::NOT_FOUND,
            page(state, Some(o), m.t("not_found"), html! { h1 { (m.t("not_found")) } p { (m.t("no_runs")) } }),
        );
    };
    let e = match explain::explain(&state.warehouse, &state.policy, Some(&state.store), id, as_of) {
        Ok(e) if e.registry.is_some() || e.score.is_some() => e,
        _ => {
            return html_response(
                StatusCode::NOT_FOUND,
                page(state, Some(o), m.t("not_found"), html! { h1 { (m.t("not_found")) } }),
            )
        }
    };
    let ids: BTreeSet<String> = [id.to_string()].into();
    let dates = state.warehouse.mart_dates(Mart::Scores);
    let history: Vec<(String, f64)> = dates
        .iter()
        .filter(|d| **d <= as_of)
        .rev()
        .take(30)
        .filter_map(|d| scores::read(&state.warehouse, *d, &ids).ok()?.remove(id).map(|s| (d.to_string(), s.score)))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let previous = dates.iter().rfind(|d| **d < as_of).copied();
    let previous_reasons = previous
        .and_then(|d| scores::read(&state.warehouse, d, &ids).ok()?.remove(id))
        .map(|s| s.reasons)
        .unwrap_or_default();
    let body = entity_body(state, o, &e, &history, previous, &previous_reasons, from_list, notice, error);
    let r = html_response(status, page(state, Some(o), &m.f("entity_title", &[("entity", &id)]), body));
    with_detail(r, format!("viewed entity {id} as of {as_of}"))
}

#[allow(clippy::too_many_arguments)]
fn entity_body(
    state: &UiState,
    o: &Officer,
    e: &Explanation,
    history: &[(String, f64)],
    previous: Option<AsOf>,
    previous_reasons: &[crate::base::marts::scores::Reason],
    from_list: Option<&str>,
    notice: Option<String>,
    error: Option<String>,
) -> Markup {
    let m = &state.messages;
    let book = DecisionBook::new(
        state
            .store
            .decisions(state.store.last_decision_id().unwrap_or(0), None, Some(&e.entity_id))
            .unwrap_or_default(),
    );
    let today = AsOf::new(chrono::Utc::now().date_naive());
    html! {
        @if let Some(err) = &error {
            div class="error-summary" role="alert" tabindex="-1" { h2 { (m.t("error_summary")) } ul { li { a href="#decide" { (err) } } } }
        }
        @if let Some(n) = &notice { div class="notice" role="status" { (n) } }
        h1 { (m.f("entity_title", &[("entity", &e.entity_id)])) }
        h2 { (m.t("registry_facts")) }
        @if let Some(f) = &e.registry {
            table {
                tr { th scope="row" { (m.t("name")) } td { (f.name) } }
                tr { th scope="row" { (m.t("entity_type")) } td { (f.entity_type) } }
                tr { th scope="row" { (m.t("region")) } td { (f.region) } }
                tr { th scope="row" { (m.t("status")) } td { (f.status) } }
                tr { th scope="row" { (m.t("legal_rep")) } td { (f.legal_rep_id.clone().unwrap_or_default()) } }
                tr { th scope="row" { (m.t("parent")) } td { @if let Some(p) = &f.parent_id { a href=(format!("/entities/{p}")) { (p) } } } }
                tr { th scope="row" { (m.t("industry")) } td { (f.industry.clone().unwrap_or_default()) } }
                tr { th scope="row" { (m.t("online_store")) } td { (f.online_store.clone().unwrap_or_default()) } }
                tr { th scope="row" { (m.t("established_on")) } td { (f.established_on.clone().unwrap_or_default()) } }
                tr { th scope="row" { (m.t("registered_capital")) } td { (f.registered_capital.clone().unwrap_or_default()) } }
                tr { th scope="row" { (m.t("snapshot")) } td { (f.snapshot) } }
            }
        }
        h2 { (m.t("score_and_grade")) }
        @match &e.score {
            None => p { (m.f("not_scored", &[("as_of", &e.as_of)])) },
            Some(s) => {
                table {
                    tr { th scope="row" { (m.t("as_of")) } td { (e.as_of) } }
                    tr { th scope="row" { (m.t("score")) } td { (format!("{:.2}", s.score)) } }
                    tr { th scope="row" { (m.t("band_grade")) } td { (s.band_grade) } }
                    tr { th scope="row" { (m.t("final_grade")) } td { strong { (s.grade) } } }
                }
                h3 { (m.t("score_history")) }
                @if let (Some(first), Some(last)) = (history.first(), history.last()) {
                    (svg::score_chart(history, state.policy.base, &m.f("score_chart_label", &[("entity", &e.entity_id), ("first", &first.0), ("last", &last.0)])))
                    table {
                        thead { tr { th scope="col" { (m.t("as_of")) } th scope="col" { (m.t("score")) } } }
                        tbody { @for (d, v) in history { tr { td { (d) } td { (format!("{v:.2}")) } } } }
                    }
                }
                h2 { (m.t("reasons")) }
                @if e.reasons.is_empty() { p { (m.t("no_reasons")) } } @else {
                    table {
                        thead { tr { th scope="col" { (m.t("rule")) } th scope="col" { (m.t("points")) } th scope="col" { (m.t("records")) } } }
                        tbody { @for r in &e.reasons { tr {
                            td { (r.rule_id) @if let Some(t) = &r.title { br; span class="muted" { (t) } } }
                            td { @match &r.forces_grade { Some(g) => (m.f("forces_grade", &[("grade", g)])), None => (format!("{:.2}", r.points)) } }
                            td { @for c in &r.records { a href=(format!("#record-{}", c.record_id)) { (c.record_id) } " " } }
                        } } }
                    }
                    @for (c, uses) in record_cards(&e.reasons) {
                        section class="card" id=(format!("record-{}", c.record_id)) aria-labelledby=(format!("record-{}-title", c.record_id)) {
                            h3 id=(format!("record-{}-title", c.record_id)) { (m.t("record")) " " (c.record_id) }
                            table {
                                tr { th scope="row" { (m.t("date")) } td { (c.date) } }
                                tr { th scope="row" { (m.t("age_days")) } td { (c.age_days) } }
                                @for (k, v) in &c.fields { tr { th scope="row" { (k) } td { (v) } } }
                                tr { th scope="row" { (m.t("source")) } td { (c.source_file) } }
                            }
                            table {
                                thead { tr { th scope="col" { (m.t("rule")) } th scope="col" { (m.t("weight")) } th scope="col" { (m.t("record_points")) } } }
                                tbody { @for (r, rc) in &uses { tr {
                                    td { (r.rule_id) }
                                    @match &r.forces_grade {
                                        Some(g) => { td colspan="2" { (m.f("forces_grade", &[("grade", g)])) } }
                                        None => { td { (format!("{:.4}", rc.weight)) } td { (format!("{:.2}", rc.points)) } }
                                    }
                                } } }
                            }
                        }
                    }
                }
                h2 { @match previous { Some(p) => (m.f("changes_since", &[("previous", &p)])), None => (m.t("no_previous_run")) } }
                @if previous.is_some() {
                    @let changes = reason_changes(previous_reasons, &s.reasons, m);
                    @if changes.is_empty() { p { (m.t("no_changes")) } } @else {
                        ul { @for c in &changes { li { (c) } } }
                    }
                }
            }
        }
        h2 { (m.t("memberships")) }
        @if e.memberships.is_empty() { p { (m.t("not_listed")) } } @else {
            table {
                thead { tr {
                    th scope="col" { (m.t("list")) } th scope="col" { (m.t("basis")) } th scope="col" { (m.t("depth")) } th scope="col" { (m.t("rules")) }
                    th scope="col" { (m.t("via")) } th scope="col" { (m.t("roots")) } th scope="col" { (m.t("review_status")) }
                } }
                tbody { @for l in &e.memberships { tr {
                    td { (l.list_id) } td { (l.basis.as_str()) } td { (l.depth) } td { (l.rules.join(", ")) }
                    td { @for v in &l.via { a href=(format!("/entities/{}", v.id)) { (v.id) } " (" (v.relation) @if let Some(p) = v.share_pct { " " (p) "%" } ") " } }
                    td { @for r in &l.roots { a href=(format!("/entities/{r}")) { (r) } " " } }
                    td { (l.review_status.as_str()) }
                } } }
            }
            @for l in e.memberships.iter().filter(|l| l.depth > 0) {
                h3 { (m.t("path_graph")) " (" (l.list_id) ")" }
                @let via: Vec<(String, String)> = l.via.iter().map(|v| (v.id.clone(), match v.share_pct { Some(p) => format!("{} {p}%", v.relation), None => v.relation.clone() })).collect();
                (svg::path_graph(&l.roots, &via, &e.entity_id, &m.f("path_graph_label", &[("entity", &e.entity_id), ("list", &l.list_id)]), &|n| m.f("more_nodes", &[("count", &n)])))
            }
        }
        h2 { (m.t("restrictions")) }
        @if e.representative.is_empty() && e.flagged.is_empty() { p { (m.t("no_restrictions")) } }
        ul {
            @for r in &e.representative { li { (m.f("restricted_person", &[("person", &r.subject_id), ("list", &r.list_id), ("rule", &r.rule_id), ("measures", &r.measures.join(", ")), ("roots", &r.roots.join(", "))])) } }
            @for r in &e.flagged { li { (m.f("flagged_entity", &[("list", &r.list_id), ("rule", &r.rule_id), ("measures", &r.measures.join(", ")), ("roots", &r.roots.join(", "))])) } }
        }
        h2 { (m.t("decisions")) }
        @if e.decisions.is_empty() { p { (m.t("no_decisions")) } } @else {
            table {
                thead { tr {
                    th scope="col" { "#" } th scope="col" { (m.t("decided_at")) } th scope="col" { (m.t("decision_action")) } th scope="col" { (m.t("list")) }
                    th scope="col" { (m.t("officer")) } th scope="col" { (m.t("until")) } th scope="col" { (m.t("reason")) }
                } }
                tbody { @for d in &e.decisions { tr {
                    td { (d.id) } td { (d.decided_at) } td { (d.action.as_str()) } td { (d.list_id) } td { (d.officer) }
                    td { (d.until.map(|u| u.to_string()).unwrap_or_default()) } td { (d.reason) }
                } } }
            }
        }
        h2 id="decide" { (m.t("decide_title")) }
        @if o.role == Role::Auditor { p { (m.t("auditor_read_only")) } } @else {
            @for l in &state.policy.lists {
                @let member = MemberNow::read(state, &l.id, &e.entity_id);
                @let pending = member.as_ref().is_some_and(|n| n.row.as_ref().is_some_and(|r| r.review_status == ReviewStatus::Pending));
                @if let (true, Some(now)) = (pending, &member) {
                    @let next = if from_list == Some(l.id.as_str()) { next_pending(state, &l.id, &e.entity_id) } else { None };
                    @if let Some(d) = &now.awaiting { p class="notice" { (l.id) ": " (awaiting_text(m, d)) } }
                    (decision_form(state, o, Action::Confirm, &l.id, &e.entity_id, &now.fingerprint(), next.as_deref()))
                    (decision_form(state, o, Action::Reject, &l.id, &e.entity_id, &now.fingerprint(), next.as_deref()))
                }
                @if o.role == Role::Senior {
                    @if book.exempt(&l.id, &e.entity_id, today) {
                        (decision_form(state, o, Action::RevokeExemption, &l.id, &e.entity_id, "", None))
                    } @else {
                        (decision_form(state, o, Action::Exempt, &l.id, &e.entity_id, "", None))
                    }
                } @else { p class="muted" { (m.t("senior_only")) } }
            }
        }
    }
}

/// Each record behind the reasons once (a record can support several rules),
/// in order of first mention, with the rules it supports.
fn record_cards(
    reasons: &[crate::officer::explain::ReasonDetail],
) -> Vec<(
    &crate::officer::explain::RecordCard,
    Vec<(&crate::officer::explain::ReasonDetail, &crate::officer::explain::RecordCard)>,
)> {
    let mut cards: Vec<(&crate::officer::explain::RecordCard, Vec<_>)> = Vec::new();
    for r in reasons {
        for c in &r.records {
            match cards.iter_mut().find(|(k, _)| k.record_id == c.record_id) {
                Some((_, uses)) => uses.push((r, c)),
                None => cards.push((c, vec![(r, c)])),
            }
        }
    }
    cards
}

fn reason_changes(
    before: &[crate::base::marts::scores::Reason],
    after: &[crate::base::marts::scores::Reason],
    m: &Messages,
) -> Vec<String> {
    let mut out = Vec::new();
    for a in after {
        match before.iter().find(|b| b.rule_id == a.rule_id) {
            None => out.push(format!("{}: {}", a.rule_id, m.t("change_new"))),
            Some(b) if (b.points - a.points).abs() > 1e-9 || b.records != a.records => out.push(format!(
                "{}: {}",
                a.rule_id,
                m.f(
                    "change_points",
                    &[("before", &format!("{:.2}", b.points)), ("after", &format!("{:.2}", a.points))]
                )
            )),
            Some(_) => {}
        }
    }
    for b in before.iter().filter(|b| !after.iter().any(|a| a.rule_id == b.rule_id)) {
        out.push(format!("{}: {}", b.rule_id, m.t("change_gone")));
    }
    out
}

/// The entity page of the pending member after `entity` in the queue.
/// Members already decided since the run are skipped.
fn next_pending(state: &UiState, list: &str, entity: &str) -> Option<String> {
    let (at, entries) = queue::pending(&state.warehouse, list, None).ok()??;
    let decided = awaiting(state, list, at, None);
    let here = entries.iter().position(|e| e.listing.entity_id == entity)?;
    entries[here + 1..]
        .iter()
        .find(|e| !decided.contains_key(&e.listing.entity_id))
        .map(|e| format!("/entities/{}?list={list}", e.listing.entity_id))
}

fn action_key(a: Action) -> &'static str {
    match a {
        Action::Confirm => "confirm",
        Action::Reject => "reject",
        Action::Exempt => "exempt",
        Action::RevokeExemption => "revoke_exemption",
    }
}

fn decision_form(
    state: &UiState,
    o: &Officer,
    action: Action,
    list: &str,
    entity: &str,
    seen: &str,
    next: Option<&str>,
) -> Markup {
    let m = &state.messages;
    let key = action_key(action);
    let field = format!("reason-{key}-{list}-{entity}");
    html! {
        form method="post" action="/decisions" class="card" {
            h3 { (m.t(key)) " — " (list) }
            input type="hidden" name="csrf" value=(o.csrf);
            input type="hidden" name="action" value=(key);
            input type="hidden" name="list" value=(list);
            input type="hidden" name="entity" value=(entity);
            input type="hidden" name="seen" value=(seen);
            label for=(field) { (m.t("reason")) }
            textarea id=(field) name="reason" rows="2" cols="60" required minlength="10" aria-describedby=(format!("{field}-hint")) {}
            div id=(format!("{field}-hint")) class="muted" { (m.t("reason_hint")) }
            @if action == Action::Exempt {
                label for=(format!("until-{list}-{entity}")) { (m.t("until")) }
                input type="date" id=(format!("until-{list}-{entity}")) name="until";
            }
            div {
                button class="primary" type="submit" name="go" value="stay" { (m.t(key)) }
                @if let Some(n) = next {
                    input type="hidden" name="next" value=(n);
                    " " button type="submit" name="go" value="next" { (m.t("decide_and_next")) }
                }
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct DecisionForm {
    csrf: String,
    action: String,
    list: String,
    entity: String,
    reason: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    seen: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    go: String,
}

fn parse_action(s: &str) -> Option<Action> {
    Action::parse(s)
}

async fn decision(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    Form(f): Form<DecisionForm>,
) -> Response {
    if f.csrf != o.csrf {
        return forbidden(&state, "bad_form");
    }
    let Some(action) = parse_action(&f.action) else { return forbidden(&state, "bad_form") };
    if !o.role.may(action) {
        return with_detail(
            forbidden(&state, "forbidden"),
            format!("refused {} by role {}", f.action, o.role.as_str()),
        );
    }
    let m = &state.messages;
    if matches!(action, Action::Confirm | Action::Reject) {
        let now = MemberNow::read(&state, &f.list, &f.entity);
        let current = now.as_ref().map(MemberNow::fingerprint).unwrap_or_default();
        if current != f.seen {
            let state_text = now.map(|n| n.describe(m)).unwrap_or_else(|| m.t("not_a_member").to_string());
            let error = format!("{}: {}", m.t("stale_title"), m.f("stale_body", &[("state", &state_text)]));
            let r = render_entity(
                &state,
                &o,
                &f.entity,
                latest_scores(&state.warehouse),
                Some(&f.list),
                None,
                Some(error),
                StatusCode::CONFLICT,
            );
            return with_detail(r, format!("stale {} of {} on {}", f.action, f.entity, f.list));
        }
    }
    let until = if f.until.trim().is_empty() { None } else { f.until.trim().parse().ok() };
    let req = decide::Request { action, list: &f.list, entity: &f.entity, officer: &o.id, reason: &f.reason, until };
    match decide::decide(&state.warehouse, &state.policy, &state.store, &req) {
        Ok(id) => {
            let next = if f.go == "next" && f.next.starts_with("/entities/") {
                f.next.clone()
            } else {
                format!("/entities/{}?list={}", f.entity, f.list)
            };
            let sep = if next.contains('?') { '&' } else { '?' };
            let r = Redirect::to(&format!("{next}{sep}decided={id}")).into_response();
            with_detail(r, format!("decision #{id}: {} {} on {}", f.action, f.entity, f.list))
        }
        Err(refusal) => {
            let error = m.f("decision_refused", &[("why", &refusal)]);
            let r = render_entity(
                &state,
                &o,
                &f.entity,
                latest_scores(&state.warehouse),
                Some(&f.list),
                None,
                Some(error),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
            with_detail(r, format!("refused {} of {} on {}: {refusal}", f.action, f.entity, f.list))
        }
    }
}

// ---------------------------------------------------------------- review queue

#[derive(serde::Deserialize, Default, Clone)]
struct QueueFilter {
    region: Option<String>,
    basis: Option<String>,
    rule: Option<String>,
}

fn filtered(entries: Vec<QueueEntry>, f: &QueueFilter) -> Vec<QueueEntry> {
    let some = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let (region, basis, rule) = (some(&f.region), some(&f.basis), some(&f.rule));
    entries
        .into_iter()
        .filter(|e| {
            region.as_ref().is_none_or(|r| e.registry.as_ref().is_some_and(|f| f.region.starts_with(r.as_str())))
        })
        .filter(|e| basis.as_ref().is_none_or(|b| e.listing.basis.as_str() == b))
        .filter(|e| {
            rule.as_ref().is_none_or(|r| {
                e.listing.rules.contains(r)
                    || e.score.as_ref().is_some_and(|s| s.reasons.iter().any(|x| &x.rule_id == r))
            })
        })
        .collect()
}

async fn review_queue(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Path(list): Path<String>,
    Query(filter): Query<QueueFilter>,
) -> Response {
    let m = &state.messages;
    if state.policy.list(&list).is_none() {
        return html_response(
            StatusCode::NOT_FOUND,
            page(&state, Some(&o), m.t("not_found"), html! { h1 { (m.t("not_found")) } }),
        );
    }
    let shortcuts = cookie(&headers, SHORTCUTS_COOKIE).as_deref() != Some("off");
    let queue = queue::pending(&state.warehouse, &list, None).ok().flatten();
    let rule_ids: Vec<String> = state
        .policy
        .rules
        .iter()
        .map(|r| r.id.clone())
        .chain(state.policy.direct_grades.iter().map(|g| g.id.clone()))
        .chain(state.policy.joint.rules.iter().filter(|r| r.list == list).map(|r| r.id.clone()))
        .collect();
    let here = format!("/review/{list}");
    let body = html! {
        h1 { (m.f("queue_title", &[("list", &list)])) }
        @match queue {
            None => p { (m.t("queue_empty")) },
            Some((at, entries)) => {
                @let decided = awaiting(&state, &list, at, None);
                @let (done, entries): (Vec<QueueEntry>, Vec<QueueEntry>) =
                    filtered(entries, &filter).into_iter().partition(|e| decided.contains_key(&e.listing.entity_id));
                p { (m.f("queue_as_of", &[("count", &entries.len()), ("as_of", &at)])) }
                form method="get" action=(here) {
                    fieldset {
                        legend { (m.t("filter")) }
                        label for="f-region" { (m.t("region")) }
                        input type="text" id="f-region" name="region" value=(filter.region.clone().unwrap_or_default()) inputmode="numeric";
                        label for="f-basis" { (m.t("filter_basis")) }
                        select id="f-basis" name="basis" {
                            option value="" { (m.t("any")) }
                            @for b in ["direct", "joint"] { option value=(b) selected[filter.basis.as_deref() == Some(b)] { (b) } }
                        }
                        label for="f-rule" { (m.t("filter_rule")) }
                        select id="f-rule" name="rule" {
                            option value="" { (m.t("any")) }
                            @for r in &rule_ids { option value=(r) selected[filter.rule.as_deref() == Some(r.as_str())] { (r) } }
                        }
                        div { button type="submit" { (m.t("apply_filter")) } " " a href=(here) { (m.t("clear_filter")) } }
                    }
                }
                @if entries.is_empty() { p { (m.t("queue_empty")) } } @else {
                    form method="post" action=(format!("{here}/bulk")) {
                        input type="hidden" name="csrf" value=(o.csrf);
                        table {
                            thead { tr {
                                th scope="col" { (m.t("select")) } th scope="col" { (m.t("entity_id")) } th scope="col" { (m.t("name")) }
                                th scope="col" { (m.t("age")) } th scope="col" { (m.t("grade")) } th scope="col" { (m.t("basis")) }
                                th scope="col" { (m.t("top_reasons")) }
                            } }
                            tbody { @for e in &entries {
                                @let id = &e.listing.entity_id;
                                tr data-row {
                                    td {
                                        input type="checkbox" name="entity" value=(id) id=(format!("sel-{id}")) aria-label=(format!("{} {id}", m.t("select")));
                                        input type="hidden" name=(format!("seen:{id}")) value=(fingerprint(at, Some(&e.listing), None));
                                    }
                                    td { a href=(format!("/entities/{id}?list={list}")) { (id) } }
                                    td { (e.registry.as_ref().map(|f| f.name.as_str()).unwrap_or("")) }
                                    td { ((at.date() - e.pending_since.date()).num_days()) }
                                    td { (e.score.as_ref().map(|s| s.grade.as_str()).unwrap_or("")) }
                                    td {
                                        (e.listing.basis.as_str())
                                        @if e.listing.depth > 0 {
                                            " (" (e.listing.rules.join(", ")) ") " (m.t("queue_via")) " "
                                            @for v in &e.listing.via { a href=(format!("/entities/{}", v.id)) { (v.id) } " " }
                                        }
                                    }
                                    td { (e.score.as_ref().map(|s| s.reasons.iter().take(3).map(|r| r.rule_id.as_str()).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }
                                }
                            } }
                        }
                        @if o.role != Role::Auditor {
                            fieldset {
                                legend { (m.t("bulk_title")) }
                                label for="bulk-action" { (m.t("bulk_action")) }
                                select id="bulk-action" name="action" {
                                    option value="confirm" { (m.t("confirm")) }
                                    option value="reject" { (m.t("reject")) }
                                }
                                label for="bulk-reason" { (m.t("reason")) }
                                textarea id="bulk-reason" name="reason" rows="2" cols="60" required minlength="10" {}
                                div { button class="primary" type="submit" { (m.t("bulk_preview")) } }
                            }
                        } @else { p { (m.t("auditor_read_only")) } }
                    }
                }
                @if !done.is_empty() {
                    h2 id="decided-title" { (m.f("queue_decided", &[("count", &done.len()), ("as_of", &at)])) }
                    table id="decided" aria-labelledby="decided-title" {
                        thead { tr {
                            th scope="col" { (m.t("entity_id")) } th scope="col" { (m.t("name")) } th scope="col" { (m.t("decision_action")) }
                            th scope="col" { (m.t("officer")) } th scope="col" { (m.t("reason")) }
                        } }
                        tbody { @for e in &done {
                            @let id = &e.listing.entity_id;
                            @let d = &decided[id];
                            tr {
                                td { a href=(format!("/entities/{id}?list={list}")) { (id) } }
                                td { (e.registry.as_ref().map(|f| f.name.as_str()).unwrap_or("")) }
                                td { (d.action.as_str()) " (#" (d.id) ")" } td { (d.officer) } td { (d.reason) }
                            }
                        } }
                    }
                }
            }
        }
        p class="muted" {
            @if shortcuts {
                (m.t("shortcuts")) a href=(format!("/preferences?shortcuts=off&back={here}")) { (m.t("shortcuts_off")) }
            } @else {
                a href=(format!("/preferences?shortcuts=on&back={here}")) { (m.t("shortcuts_on")) }
            }
        }
        @if shortcuts { script src="/static/shortcuts.js" {} }
    };
    html_response(StatusCode::OK, page(&state, Some(&o), &m.f("queue_title", &[("list", &list)]), body))
}

#[derive(serde::Deserialize)]
struct Preferences {
    shortcuts: String,
    back: String,
}

async fn preferences(Query(p): Query<Preferences>) -> Response {
    let back = if p.back.starts_with("/review/") { p.back } else { "/".into() };
    let mut r = Redirect::to(&back).into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SHORTCUTS_COOKIE, if p.shortcuts == "off" { "off" } else { "on" }, Some(31_536_000)),
    );
    r
}

/// The form fields of a bulk decision: (entities, their seen states, action, reason, csrf).
struct Bulk {
    entities: Vec<String>,
    seen: HashMap<String, String>,
    action: String,
    reason: String,
    csrf: String,
}

fn bulk_of(fields: Vec<(String, String)>) -> Bulk {
    let mut b = Bulk {
        entities: vec![],
        seen: HashMap::new(),
        action: String::new(),
        reason: String::new(),
        csrf: String::new(),
    };
    for (k, v) in fields {
        match k.as_str() {
            "entity" => b.entities.push(v),
            "action" => b.action = v,
            "reason" => b.reason = v,
            "csrf" => b.csrf = v,
            _ => {
                if let Some(id) = k.strip_prefix("seen:") {
                    b.seen.insert(id.to_string(), v);
                }
            }
        }
    }
    b
}

/// The bulk form with the session's CSRF token, a confirm or reject, and
/// the role to decide it; or the 403 page.
fn bulk_request(state: &UiState, o: &Officer, fields: Vec<(String, String)>) -> Result<(Bulk, Action), Response> {
    let b = bulk_of(fields);
    if b.csrf != o.csrf {
        return Err(forbidden(state, "bad_form"));
    }
    let Some(action) = parse_action(&b.action).filter(|a| matches!(a, Action::Confirm | Action::Reject)) else {
        return Err(forbidden(state, "bad_form"));
    };
    if !o.role.may(action) {
        return Err(forbidden(state, "forbidden"));
    }
    Ok((b, action))
}

async fn bulk_preview(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    Path(list): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let m = &state.messages;
    let (b, action) = match bulk_request(&state, &o, fields) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let problem = if b.entities.is_empty() {
        Some(m.t("nothing_selected").to_string())
    } else if b.reason.trim().chars().count() < decide::MIN_REASON_CHARS {
        Some(m.t("reason_hint").to_string())
    } else {
        None
    };
    let title = m.f(
        "bulk_confirm_title",
        &[("action", &m.t(action_key(action))), ("count", &b.entities.len()), ("list", &list)],
    );
    let body = html! {
        h1 { (title) }
        @if let Some(p) = &problem {
            div class="error-summary" role="alert" tabindex="-1" { h2 { (m.t("error_summary")) } ul { li { a href=(format!("/review/{list}")) { (p) } } } }
        } @else {
            form method="post" action=(format!("/review/{list}/bulk/apply")) {
                input type="hidden" name="csrf" value=(o.csrf);
                input type="hidden" name="action" value=(b.action);
                input type="hidden" name="reason" value=(b.reason);
                table {
                    thead { tr { th scope="col" { (m.t("entity_id")) } th scope="col" { (m.t("reason")) } } }
                    tbody { @for id in &b.entities { tr {
                        td {
                            a href=(format!("/entities/{id}")) { (id) }
                            input type="hidden" name="entity" value=(id);
                            input type="hidden" name=(format!("seen:{id}")) value=(b.seen.get(id).cloned().unwrap_or_default());
                        }
                        td { (b.reason) }
                    } } }
                }
                button class="primary" type="submit" { (m.f("bulk_apply", &[("count", &b.entities.len())])) }
            }
        }
    };
    let status = if problem.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    html_response(status, page(&state, Some(&o), &title, body))
}

async fn bulk_apply(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    Path(list): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let m = &state.messages;
    let (b, action) = match bulk_request(&state, &o, fields) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let (mut done, mut stale, mut ids) = (0, 0, Vec::new());
    let mut refused = Vec::new();
    for entity in &b.entities {
        let now = MemberNow::read(&state, &list, entity).map(|n| n.fingerprint());
        if now.as_ref() != b.seen.get(entity) {
            stale += 1;
            continue;
        }
        let req = decide::Request { action, list: &list, entity, officer: &o.id, reason: &b.reason, until: None };
        match decide::decide(&state.warehouse, &state.policy, &state.store, &req) {
            Ok(id) => {
                done += 1;
                ids.push(id);
            }
            Err(e) => refused.push(format!("{entity}: {e}")),
        }
    }
    let status = if done == 0 && stale > 0 { StatusCode::CONFLICT } else { StatusCode::OK };
    let body = html! {
        h1 { (m.t("bulk_title")) }
        div class=(if stale > 0 || !refused.is_empty() { "error-summary" } else { "notice" }) role="status" {
            p { (m.f("bulk_result", &[("done", &done), ("stale", &stale)])) }
            @if !refused.is_empty() { ul { @for r in &refused { li { (m.f("decision_refused", &[("why", r)])) } } } }
        }
        p { a href=(format!("/review/{list}")) { (m.f("queue_title", &[("list", &list)])) } }
    };
    let detail = format!("bulk {} on {list}: decisions {:?}, {stale} stale", b.action, ids);
    with_detail(html_response(status, page(&state, Some(&o), m.t("bulk_title"), body)), detail)
}

// ---------------------------------------------------------------- exemptions

async fn exemptions(State(state): State<Arc<UiState>>, Extension(o): Extension<Officer>) -> Response {
    let m = &state.messages;
    let decisions = state.store.decisions(state.store.last_decision_id().unwrap_or(0), None, None).unwrap_or_default();
    let book = DecisionBook::new(decisions.clone());
    let today = AsOf::new(chrono::Utc::now().date_naive());
    let mut rows: Vec<(String, String, Option<AsOf>, String, String)> = Vec::new();
    for l in &state.policy.lists {
        for e in book.exempt_entities(&l.id, today) {
            if let Some(d) =
                decisions.iter().rev().find(|d| d.list_id == l.id && d.entity_id == e && d.action == Action::Exempt)
            {
                rows.push((l.id.clone(), e.to_string(), d.until, d.officer.clone(), d.reason.clone()));
            }
        }
    }
    let body = html! {
        h1 { (m.t("exemptions_title")) }
        @if rows.is_empty() { p { (m.t("no_exemptions")) } }
        @for l in &state.policy.lists {
            @let in_list: Vec<_> = rows.iter().filter(|r| r.0 == l.id).collect();
            @if !in_list.is_empty() {
                h2 { (l.id) }
                table {
                    thead { tr {
                        th scope="col" { (m.t("entity_id")) } th scope="col" { (m.t("until")) }
                        th scope="col" { (m.t("officer")) } th scope="col" { (m.t("reason")) } th scope="col" { (m.t("actions")) }
                    } }
                    tbody { @for (l, e, until, officer, reason) in in_list { tr {
                        td { a href=(format!("/entities/{e}")) { (e) } } td { (until.map(|u| u.to_string()).unwrap_or_default()) }
                        td { (officer) } td { (reason) }
                        td { @if o.role == Role::Senior { (decision_form(&state, &o, Action::RevokeExemption, l, e, "", None)) } }
                    } } }
                }
            }
        }
    };
    html_response(StatusCode::OK, page(&state, Some(&o), m.t("exemptions_title"), body))
}

/// Serves the officer pages until SIGINT or SIGTERM.
pub async fn serve(state: Arc<UiState>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(crate::serve::shutdown::signal()).await
}

#[cfg(test)]
mod tests;
