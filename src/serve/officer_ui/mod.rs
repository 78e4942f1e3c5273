//! The officer pages (`credence serve --ui-listen`): plain HTML forms on a
//! listener of their own, never the partner API's. Officers log in
//! (argon2 hashes, a session cookie that is HttpOnly and SameSite=Strict,
//! an idle timeout); auditors read only; every POST carries the session's
//! CSRF token and a cross-site POST gets 403; every request, with the
//! officer's id, goes to the audit log. All text comes from the message
//! catalogue ([`messages`]).

mod auth;
mod layout;
pub mod messages;
mod pages;
pub mod svg;

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;

use crate::base::ids::AsOf;
use crate::base::store::Store;
use crate::base::warehouse::{Mart, Warehouse};
use crate::config::policy::Policy;
use crate::officer::accounts::Role;
use crate::officer::search::SearchIndex;
use crate::serve::listener::{Limits, RateLimits};
pub use messages::Messages;

const CSS: &str = include_str!("assets/app.css");
const SHORTCUTS_JS: &str = include_str!("assets/shortcuts.js");
const QUEUE_JS: &str = include_str!("assets/queue.js");
const DECIDE_JS: &str = include_str!("assets/decide.js");

/// Today, the day a decision is taken on and a queue is read for (UTC).
pub(crate) fn today() -> AsOf {
    AsOf::new(chrono::Utc::now().date_naive())
}

/// What the pages need.
pub struct UiState {
    pub warehouse: Warehouse,
    pub policy: Policy,
    pub store: Store,
    pub messages: Messages,
    /// The notice templates and the regulator they name.
    pub notices: crate::officer::notice::Notices,
    /// A session ends after this long without a request.
    pub idle_seconds: i64,
    /// Request-rate limits of the pages' listener.
    pub rates: Arc<RateLimits>,
    /// The pages are served behind TLS: cookies are `__Host-` and `Secure`.
    pub behind_tls: bool,
    /// The regulator's time zone: times are shown in it.
    pub time_zone: chrono_tz::Tz,
    /// Decision forms posted after their session ended, by draft id.
    pub drafts: std::sync::Mutex<std::collections::HashMap<String, (i64, Draft)>>,
    /// Who opened each entity page and when (unix), by entity and officer:
    /// the soft lock shown to other officers for [`SOFT_LOCK_SECONDS`].
    pub opened: std::sync::Mutex<std::collections::HashMap<String, std::collections::HashMap<String, i64>>>,
    /// The marts behind each list's queue, by list, with the run and
    /// listing file they were read from (see [`UiState::queue`]).
    queues: std::sync::Mutex<std::collections::HashMap<String, (QueueKey, Arc<crate::officer::queue::QueueBase>)>>,
    /// The search index of the newest registry mart, with the files it was
    /// built from (see [`UiState::search_index`]).
    search: std::sync::Mutex<Option<(SearchKey, Arc<SearchIndex>)>>,
}

/// The gate reads the newest listing the queue keeps.
impl crate::officer::member::Listings for UiState {
    fn newest(
        &self,
        _: &Warehouse,
        _: &Store,
        list: &crate::config::policy::ListSpec,
    ) -> Result<Option<Arc<crate::officer::member::Listing>>, crate::officer::member::MemberError> {
        Ok(self.queue_base(list)?.map(|b| b.listing().clone()))
    }
}

/// What a search index was built from: the newest registry mart's date and
/// the modification times of its registry and scores files.
type SearchKey = (AsOf, Option<std::time::SystemTime>, Option<std::time::SystemTime>);

/// What a cached queue was read from: the newest run (id, outcome) and the
/// newest listing partition with its file's modification time. Any new
/// run, rerun or replaced partition changes it.
type QueueKey = (Option<(i64, String)>, Option<(AsOf, std::time::SystemTime)>);

/// How long an opened entity page is shown to others as being worked on.
pub const SOFT_LOCK_SECONDS: i64 = 600;

/// The fields of a decision form kept over a session timeout.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Draft {
    pub action: String,
    pub list: String,
    pub entity: String,
    pub reason: String,
    pub until: String,
    pub received: String,
}

/// How long a draft is kept, in seconds.
const DRAFT_SECONDS: i64 = 3600;

/// The most drafts kept at once: they are posted without a session, so
/// their number is bounded; past it, the oldest is let go.
const MOST_DRAFTS: usize = 256;

impl UiState {
    /// The pages' state with no drafts kept yet.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        warehouse: Warehouse,
        policy: Policy,
        store: Store,
        messages: Messages,
        notices: crate::officer::notice::Notices,
        idle_seconds: i64,
        rates: Arc<RateLimits>,
        behind_tls: bool,
    ) -> UiState {
        UiState {
            warehouse,
            policy,
            store,
            messages,
            notices,
            idle_seconds,
            rates,
            behind_tls,
            time_zone: chrono_tz::Asia::Shanghai,
            drafts: Default::default(),
            opened: Default::default(),
            queues: Default::default(),
            search: Default::default(),
        }
    }

    /// The queue of `list` now: the marts are read once per run (they
    /// change only with a run), the decisions on every call.
    pub(crate) fn queue(
        &self,
        list: &crate::config::policy::ListSpec,
        today: AsOf,
    ) -> Result<Option<(AsOf, crate::officer::queue::Entries)>, crate::officer::member::MemberError> {
        let Some(base) = self.queue_base(list)? else { return Ok(None) };
        Ok(Some((base.at(), base.entries(&self.store, list, today)?)))
    }

    /// What the newest run wrote for the queue of `list`, read once per run
    /// and listing file; `None` before the first run.
    pub(crate) fn queue_base(
        &self,
        list: &crate::config::policy::ListSpec,
    ) -> Result<Option<Arc<crate::officer::queue::QueueBase>>, crate::officer::member::MemberError> {
        let run = self.store.runs(1)?.into_iter().next().map(|r| (r.run_id, r.outcome));
        let listing = self.warehouse.list_mart_dates(Mart::Listings, &list.id).pop().and_then(|at| {
            let file = self.warehouse.list_mart(Mart::Listings, &list.id, at).join("part-0.parquet");
            std::fs::metadata(file).and_then(|m| m.modified()).ok().map(|t| (at, t))
        });
        let key: QueueKey = (run, listing);
        let cached = {
            let queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
            queues.get(&list.id).filter(|(k, _)| *k == key).map(|(_, b)| b.clone())
        };
        if let Some(b) = cached {
            return Ok(Some(b));
        }
        let Some(b) = crate::officer::queue::QueueBase::load(&self.warehouse, &self.store, list, None)? else {
            return Ok(None);
        };
        let b = Arc::new(b);
        self.queues.lock().unwrap_or_else(|e| e.into_inner()).insert(list.id.clone(), (key, b.clone()));
        Ok(Some(b))
    }

    /// The search index of the newest registry mart, built once per run;
    /// `None` before the first run.
    pub(crate) fn search_index(&self) -> Result<Option<Arc<SearchIndex>>, crate::base::marts::MartError> {
        let Some(at) = self.warehouse.mart_dates(Mart::Registry).pop() else { return Ok(None) };
        let modified =
            |p: std::path::PathBuf| std::fs::metadata(p.join("part-0.parquet")).and_then(|m| m.modified()).ok();
        let key: SearchKey =
            (at, modified(self.warehouse.mart(Mart::Registry, at)), modified(self.warehouse.mart(Mart::Scores, at)));
        if let Some((k, ix)) = self.search.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if *k == key {
                return Ok(Some(ix.clone()));
            }
        }
        let ix = Arc::new(SearchIndex::build(&self.warehouse, at)?);
        *self.search.lock().unwrap_or_else(|e| e.into_inner()) = Some((key, ix.clone()));
        Ok(Some(ix))
    }

    /// Reads every list's queue and builds the search index once, so that
    /// the first officer of the day does not wait for them.
    pub fn warm(&self) {
        let started = std::time::Instant::now();
        if let Err(e) = self.search_index() {
            tracing::warn!(error = %e, "building the search index ahead failed; search will build it on demand");
        }
        let today = today();
        for list in &self.policy.lists {
            if let Err(e) = self.queue(list, today) {
                tracing::warn!(list = %list.id, error = %e, "reading the queue ahead failed; pages will read it on demand");
            }
        }
        tracing::info!(ms = started.elapsed().as_millis() as u64, "queues and search index read ahead");
    }

    /// A time stored in UTC (RFC 3339), shown in the regulator's time zone.
    pub(crate) fn local_time(&self, utc: &str) -> String {
        match chrono::DateTime::parse_from_rfc3339(utc) {
            Ok(t) => t.with_timezone(&self.time_zone).format("%Y-%m-%d %H:%M:%S %Z").to_string(),
            Err(_) => utc.to_string(),
        }
    }

    fn keep_draft(&self, id: &str, draft: Draft) {
        let now = auth::now_unix();
        let mut drafts = self.drafts.lock().unwrap_or_else(|e| e.into_inner());
        drafts.retain(|_, (at, _)| now - *at < DRAFT_SECONDS);
        while drafts.len() >= MOST_DRAFTS {
            let Some(oldest) = drafts.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone()) else { break };
            drafts.remove(&oldest);
        }
        drafts.insert(id.to_string(), (now, draft));
    }

    /// Notes that `officer` opened the page of `entity` now.
    fn mark_open(&self, entity: &str, officer: &str) {
        let now = auth::now_unix();
        let mut opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        opened.retain(|_, by| {
            by.retain(|_, at| now - *at < SOFT_LOCK_SECONDS);
            !by.is_empty()
        });
        opened.entry(entity.to_string()).or_default().insert(officer.to_string(), now);
    }

    /// The other officer who opened the page of `entity` most recently in
    /// the last [`SOFT_LOCK_SECONDS`], with the minutes since.
    fn open_by_other(&self, entity: &str, me: &str) -> Option<(String, i64)> {
        let now = auth::now_unix();
        let opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        let by = opened.get(entity)?;
        by.iter()
            .filter(|(who, at)| who.as_str() != me && now - **at < SOFT_LOCK_SECONDS)
            .max_by_key(|(who, at)| (**at, std::cmp::Reverse(who.as_str())))
            .map(|(who, at)| (who.clone(), (now - at) / 60))
    }

    /// The draft `id`, once.
    fn take_draft(&self, id: &str) -> Option<Draft> {
        let now = auth::now_unix();
        let mut drafts = self.drafts.lock().unwrap_or_else(|e| e.into_inner());
        drafts.remove(id).filter(|(at, _)| now - *at < DRAFT_SECONDS).map(|(_, d)| d)
    }
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
pub(crate) struct AuditDetail(pub(crate) String);

/// The router of the officer pages.
pub fn router(state: Arc<UiState>) -> Router {
    Router::new()
        .route("/", get(pages::dashboard::dashboard))
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/search", get(pages::search::search))
        .route("/entities/{id}", get(pages::entity::entity_page))
        .route("/review/{list}", get(pages::queue::review_queue))
        .route("/review/{list}/bulk", post(pages::queue::bulk_preview))
        .route("/review/{list}/bulk/apply", post(pages::queue::bulk_apply))
        .route("/review/{list}/take", post(pages::assign::take_next))
        .route("/assignments", post(pages::assign::assignment))
        .route("/decisions", post(pages::decide::decision))
        .route(
            "/objections",
            post(pages::decide::objection).layer(axum::extract::DefaultBodyLimit::max(
                crate::officer::notice::MAX_ATTACHMENT_BYTES as usize + 64 * 1024,
            )),
        )
        .route("/documents/{id}", get(pages::decide::document))
        .route("/exemptions", get(pages::exemptions::exemptions))
        .route("/history", get(pages::history::decision_history))
        .route("/access-log", get(pages::history::access_log))
        .route("/impact", get(pages::impact::impact_reports))
        .route("/impact/{id}", get(pages::impact::impact_report))
        .route("/impact/{id}/{file}", get(pages::impact::impact_file))
        .route("/dry-runs/{id}", get(pages::impact::dry_run_page))
        .route("/preferences", get(pages::queue::preferences))
        .route("/static/app.css", get(|| async { ([(header::CONTENT_TYPE, "text/css")], CSS) }))
        .route("/static/shortcuts.js", get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], SHORTCUTS_JS) }))
        .route("/static/queue.js", get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], QUEUE_JS) }))
        .route("/static/decide.js", get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], DECIDE_JS) }))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
        .layer(middleware::from_fn_with_state(state.clone(), auth::sessions))
        .with_state(state)
}

/// Serves the officer pages until SIGINT or SIGTERM.
pub async fn serve(state: Arc<UiState>, listener: tokio::net::TcpListener, limits: Limits) -> std::io::Result<()> {
    let rates = state.rates.clone();
    crate::serve::listener::serve(listener, router(state), limits, rates, crate::serve::shutdown::signal()).await
}

#[cfg(test)]
mod tests;
