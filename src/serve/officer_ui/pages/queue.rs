//! The review queue of a list: its members in review by state (objected,
//! ready to decide, pending, noticed with days left, awaiting approval,
//! decided since the run), with filters, an "awaiting my approval" view,
//! keyboard shortcuts, and bulk decisions with a preview.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{html, Markup};

use crate::base::ids::AsOf;
use crate::base::store::Action;
use crate::base::store::Assignment;
use crate::config::policy::Approval;
use crate::officer::accounts::Role;
use crate::officer::decide::{self, DecideError, Refusal, Request};
use crate::officer::queue::{QueueEntry, QueueState};
use crate::serve::officer_ui::auth::{cookie, set_cookie, SHORTCUTS_COOKIE};
use crate::serve::officer_ui::layout::{entity_name, forbidden, html_response, page, with_detail, PageResult};
use crate::serve::officer_ui::pages::decide::desk;
use crate::serve::officer_ui::pages::decision_forms::action_key;
use crate::serve::officer_ui::today;
use crate::serve::officer_ui::{Messages, Officer, UiState};

#[derive(serde::Deserialize, Default, Clone)]
pub(crate) struct QueueFilter {
    region: Option<String>,
    basis: Option<String>,
    rule: Option<String>,
    /// A queue state key, or `mine`: awaiting my approval.
    state: Option<String>,
    /// The page (from 1) and rows a page.
    page: Option<usize>,
    per: Option<usize>,
    /// `age` (default), `grade`, `entity`, `name`, `state`; `dir` `desc` reverses.
    sort: Option<String>,
    dir: Option<String>,
    /// `me`: the items assigned to me; `none`: the unassigned ones.
    assigned: Option<String>,
}

/// Rows a page of the queue, by default and at most.
const PER_PAGE: usize = 50;
const MAX_PER_PAGE: usize = 500;

impl QueueFilter {
    /// This filter as a query string, with `changes` applied (`""` removes a key).
    fn query(&self, changes: &[(&str, &str)]) -> String {
        let mut pairs: Vec<(&str, String)> = [
            ("region", &self.region),
            ("basis", &self.basis),
            ("rule", &self.rule),
            ("state", &self.state),
            ("assigned", &self.assigned),
            ("sort", &self.sort),
            ("dir", &self.dir),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().filter(|v| !v.is_empty()).map(|v| (k, v)))
        .collect();
        if let Some(p) = self.per {
            pairs.push(("per", p.to_string()));
        }
        if let Some(p) = self.page {
            pairs.push(("page", p.to_string()));
        }
        for (k, v) in changes {
            pairs.retain(|(x, _)| x != k);
            if !v.is_empty() {
                pairs.push((k, v.to_string()));
            }
        }
        if pairs.is_empty() {
            return String::new();
        }
        format!("?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
    }
}

/// Orders the queue: oldest in review first by default.
fn sorted<'a>(mut entries: Vec<&'a QueueEntry>, f: &QueueFilter) -> Vec<&'a QueueEntry> {
    let key = f.sort.as_deref().unwrap_or("age");
    let name = |e: &&'a QueueEntry| e.registry.as_ref().map(|r| r.name.as_str()).unwrap_or_default();
    let grade = |e: &&'a QueueEntry| e.score.as_ref().map(|s| s.grade.as_str()).unwrap_or_default();
    let id = |e: &&'a QueueEntry| e.listing.entity_id.as_str();
    match key {
        "entity" => entries.sort_by_key(id),
        "name" => entries.sort_by(|a, b| name(a).cmp(name(b)).then(id(a).cmp(id(b)))),
        "grade" => entries.sort_by(|a, b| grade(b).cmp(grade(a)).then(id(a).cmp(id(b)))),
        "state" => entries.sort_by(|a, b| a.state.key().cmp(b.state.key()).then(id(a).cmp(id(b)))),
        _ => {}
    }
    if f.dir.as_deref() == Some("desc") {
        entries.reverse();
    }
    entries
}

pub(crate) fn filtered<'a>(
    entries: &'a [Arc<QueueEntry>],
    f: &QueueFilter,
    me: &Officer,
    held: &HashMap<String, Assignment>,
) -> Vec<&'a QueueEntry> {
    let some = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let (region, basis, rule, state) = (some(&f.region), some(&f.basis), some(&f.rule), some(&f.state));
    entries
        .iter()
        .map(|e| &**e)
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
        .filter(|e| match state.as_deref() {
            None => true,
            Some("mine") => awaiting_my_approval(e, me),
            Some(k) => e.state.key() == k,
        })
        .filter(|e| match f.assigned.as_deref() {
            Some("me") => held.get(&e.listing.entity_id).is_some_and(|a| a.officer == me.id),
            Some("none") => !held.contains_key(&e.listing.entity_id),
            _ => true,
        })
        .collect()
}

/// Whether `me` may approve the entry's proposal: a senior, not its author.
fn awaiting_my_approval(e: &QueueEntry, me: &Officer) -> bool {
    me.role == Role::Senior && matches!(&e.state, QueueState::AwaitingApproval { proposer, .. } if proposer != &me.id)
}

/// The state of a queue entry in words.
pub(crate) fn state_words(m: &Messages, s: &QueueState) -> String {
    match s {
        QueueState::Noticed { deadline, days_left } => {
            m.f("state_noticed", &[("deadline", deadline), ("days", days_left)])
        }
        QueueState::AwaitingApproval { decision, proposer } => {
            m.f("state_awaiting_by", &[("id", decision), ("officer", proposer)])
        }
        QueueState::Decided { decision, action, officer } => {
            m.f("awaiting_decision", &[("action", action), ("officer", officer), ("id", decision)])
        }
        QueueState::Objected => m.t("state_objected").to_string(),
        QueueState::ReadyToDecide => m.t("state_ready").to_string(),
        QueueState::Pending => m.t("state_pending").to_string(),
    }
}

/// How many entries are in each state.
fn state_counts(entries: &[Arc<QueueEntry>]) -> HashMap<&'static str, usize> {
    let mut counts = HashMap::new();
    for e in entries {
        *counts.entry(e.state.key()).or_default() += 1;
    }
    counts
}

pub(crate) async fn review_queue(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Path(list): Path<String>,
    Query(filter): Query<QueueFilter>,
) -> PageResult {
    let m = &state.messages;
    let Some(spec) = state.policy.list(&list) else {
        return Ok(html_response(
            StatusCode::NOT_FOUND,
            page(&state, Some(&o), m.t("not_found"), html! { h1 { (m.t("not_found")) } }),
        ));
    };
    let shortcuts = cookie(&state, &headers, SHORTCUTS_COOKIE).as_deref() != Some("off");
    let queue = state.queue(spec, today())?;
    let rule_ids: Vec<String> = state
        .policy
        .rules
        .iter()
        .map(|r| r.id.clone())
        .chain(state.policy.direct_grades.iter().map(|g| g.id.clone()))
        .chain(state.policy.joint.rules.iter().filter(|r| r.list == list).map(|r| r.id.clone()))
        .collect();
    let here = format!("/review/{list}");
    let mut bulk_actions = vec![Action::Notify, Action::Confirm, Action::Reject];
    if o.role == Role::Senior && spec.approval == Approval::TwoOfficers {
        bulk_actions.push(Action::Approve);
    }
    let per = filter.per.unwrap_or(PER_PAGE).clamp(1, MAX_PER_PAGE);
    let held = state.store.assignments(&list)?;
    let q = QueuePage { state: &state, m, o: &o, list: &list, here: &here, filter: &filter, held: &held };
    let body = html! {
        h1 { (m.f("queue_title", &[("list", &list)])) }
        @match queue {
            None => p { (m.t("queue_empty")) },
            Some((at, entries)) => {
                @let total = entries.len();
                @let nav = q.state_nav(&entries);
                @let entries = sorted(filtered(&entries, &filter, &o, &held), &filter);
                @let matching = entries.len();
                @let pages = matching.div_ceil(per).max(1);
                @let page_no = filter.page.unwrap_or(1).clamp(1, pages);
                @let shown: Vec<&QueueEntry> = entries.iter().skip((page_no - 1) * per).take(per).copied().collect();
                p { (m.f("queue_as_of", &[("count", &total), ("as_of", &at)])) }
                (nav)
                @if o.role != Role::Auditor {
                    form method="post" action=(format!("{here}/take")) {
                        input type="hidden" name="csrf" value=(o.csrf);
                        button type="submit" { (m.t("take_next")) }
                    }
                }
                (q.filter_form(&rule_ids))
                @if shown.is_empty() {
                    p role="status" { (m.f("queue_none_match", &[("count", &total)])) }
                } @else {
                    form method="post" action=(format!("{here}/bulk")) {
                        input type="hidden" name="csrf" value=(o.csrf);
                        (q.bulk_fieldset(&bulk_actions))
                        p role="status" {
                            (m.f("queue_range", &[("first", &((page_no - 1) * per + 1)), ("last", &((page_no - 1) * per + shown.len())), ("count", &matching)]))
                            @if matching < total { " " (m.f("queue_filtered", &[("total", &total)])) }
                        }
                        (q.table(at, &shown))
                    }
                    @if pages > 1 { (q.pager(page_no, pages)) }
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
        script src="/static/queue.js" {}
        @if shortcuts { script src="/static/shortcuts.js" {} }
    };
    Ok(html_response(StatusCode::OK, page(&state, Some(&o), &m.f("queue_title", &[("list", &list)]), body)))
}

/// What every part of a queue page reads: the list, its path, the filter
/// and sort asked for, the officer, and who holds which item.
struct QueuePage<'a> {
    state: &'a UiState,
    m: &'a Messages,
    o: &'a Officer,
    list: &'a str,
    here: &'a str,
    filter: &'a QueueFilter,
    held: &'a HashMap<String, Assignment>,
}

impl QueuePage<'_> {
    /// The queue's states, each with how many of its `entries` are in it,
    /// and the officer's own views (awaiting my approval, mine, unassigned).
    fn state_nav(&self, entries: &[Arc<QueueEntry>]) -> Markup {
        let QueuePage { m, o, here, filter, held, .. } = *self;
        let counts = state_counts(entries);
        let total = entries.len();
        let mine = entries.iter().filter(|e| awaiting_my_approval(e, o)).count();
        let my_items =
            entries.iter().filter(|e| held.get(&e.listing.entity_id).is_some_and(|a| a.officer == o.id)).count();
        let unassigned = entries.iter().filter(|e| !held.contains_key(&e.listing.entity_id)).count();
        html! {
            nav aria-label=(m.t("queue_states")) {
                ul class="states" {
                    li { a href=(here) aria-current=[filter.state.is_none().then_some("page")] { (m.t("state_all")) " (" (total) ")" } }
                    @for k in QueueState::KEYS {
                        li { a href=(format!("{here}?state={k}")) aria-current=[(filter.state.as_deref() == Some(k)).then_some("page")] {
                            (m.t(&format!("filter_{k}"))) " (" (counts.get(k).copied().unwrap_or(0)) ")"
                        } }
                    }
                    @if o.role == Role::Senior {
                        li { a href=(format!("{here}?state=mine")) aria-current=[(filter.state.as_deref() == Some("mine")).then_some("page")] {
                            (m.t("filter_mine")) " (" (mine) ")"
                        } }
                    }
                    li { a href=(format!("{here}?assigned=me")) aria-current=[(filter.assigned.as_deref() == Some("me")).then_some("page")] {
                        (m.t("my_queue")) " (" (my_items) ")"
                    } }
                    li { a href=(format!("{here}?assigned=none")) aria-current=[(filter.assigned.as_deref() == Some("none")).then_some("page")] {
                        (m.t("unassigned")) " (" (unassigned) ")"
                    } }
                }
            }
        }
    }

    /// The filter form: region, basis and rule (among `rule_ids`).
    fn filter_form(&self, rule_ids: &[String]) -> Markup {
        let QueuePage { m, here, filter, .. } = *self;
        html! {
            form method="get" action=(here) {
                fieldset {
                    legend { (m.t("filter")) }
                    @if let Some(s) = &filter.state { input type="hidden" name="state" value=(s); }
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
                        @for r in rule_ids { option value=(r) selected[filter.rule.as_deref() == Some(r.as_str())] { (r) } }
                    }
                    div { button type="submit" { (m.t("apply_filter")) } " " a href=(here) { (m.t("clear_filter")) } }
                }
            }
        }
    }

    /// The bulk decision's action and reason, for the items ticked (an
    /// auditor reads only).
    fn bulk_fieldset(&self, actions: &[Action]) -> Markup {
        let QueuePage { m, o, filter, .. } = *self;
        html! {
            @if o.role != Role::Auditor {
                fieldset class="actions" {
                    legend { (m.t("bulk_title")) }
                    label for="bulk-action" { (m.t("bulk_action")) }
                    select id="bulk-action" name="action" {
                        @for a in actions {
                            option value=(action_key(*a)) selected[filter.state.as_deref() == Some("mine") && *a == Action::Approve] { (m.t(action_key(*a))) }
                        }
                    }
                    label for="bulk-reason" { (m.t("reason")) }
                    textarea id="bulk-reason" name="reason" rows="2" cols="60" required minlength=(decide::MIN_REASON_CHARS) maxlength=(decide::MAX_REASON_CHARS) {}
                    div { button class="primary" type="submit" { (m.t("bulk_preview")) } }
                }
            } @else { p { (m.t("auditor_read_only")) } }
        }
    }

    /// The `shown` items as a table, its columns sortable, each item's age
    /// counted to the run `at`.
    fn table(&self, at: AsOf, shown: &[&QueueEntry]) -> Markup {
        let QueuePage { state, m, o, list, here, filter, held } = *self;
        html! {
            table {
                thead { tr {
                    th scope="col" {
                        input type="checkbox" id="select-all" aria-label=(m.t("select_all_on_page"));
                    }
                    @for (key, label) in [("entity", "entity_id"), ("name", "name"), ("state", "state"), ("age", "age"), ("grade", "grade")] {
                        @let active = filter.sort.as_deref().unwrap_or("age") == key;
                        @let desc = active && filter.dir.as_deref() == Some("desc");
                        th scope="col" aria-sort=[active.then_some(if desc { "descending" } else { "ascending" })] {
                            a href=(format!("{here}{}", filter.query(&[("sort", key), ("dir", if active && !desc { "desc" } else { "" }), ("page", "")]))) { (m.t(label)) }
                        }
                    }
                    th scope="col" { (m.t("basis")) }
                    th scope="col" { (m.t("top_reasons")) }
                    th scope="col" { (m.t("assigned_col")) }
                } }
                tbody { @for e in shown {
                    @let id = &e.listing.entity_id;
                    tr data-row {
                        td {
                            @if !matches!(e.state, QueueState::Decided { .. }) {
                                input type="checkbox" name="entity" value=(id) id=(format!("sel-{id}")) aria-label=(format!("{} {id}", m.t("select")));
                                input type="hidden" name=(format!("seen:{id}")) value=(e.seen);
                            }
                        }
                        td { a href=(format!("/entities/{id}?list={list}")) { (id) } }
                        td { (entity_name(e.registry.as_ref().map(|f| f.name.as_str()).unwrap_or(""))) }
                        td {
                            (state_words(m, &e.state))
                            @if e.exempt { " " span class="badge" { (m.t("badge_exempt")) } }
                        }
                        td { ((at.date() - e.in_review_since.date()).num_days()) }
                        td { (e.score.as_ref().map(|s| s.grade.as_str()).unwrap_or("")) }
                        td {
                            (e.listing.basis.as_str())
                            @if e.listing.depth > 0 {
                                " (" (e.listing.rules.join(", ")) ") " (m.t("queue_via")) " "
                                @for v in &e.listing.via { a href=(format!("/entities/{}", v.id)) { (v.id) } " " }
                            }
                        }
                        td { (e.score.as_ref().map(|s| s.reasons.iter().take(3).map(|r| r.rule_id.as_str()).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }
                        td {
                            (held.get(id).map(|a| a.officer.as_str()).unwrap_or("—"))
                            @if let Some((who, _)) = state.open_by_other(id, &o.id) { " " span class="badge" { (m.f("badge_open", &[("officer", &who)])) } }
                        }
                    }
                } }
            }
        }
    }

    /// Links to the previous and next of `pages` pages.
    fn pager(&self, page_no: usize, pages: usize) -> Markup {
        let QueuePage { m, here, filter, .. } = *self;
        html! {
            nav aria-label=(m.t("pages")) class="pages" {
                @if page_no > 1 { a rel="prev" href=(format!("{here}{}", filter.query(&[("page", &(page_no - 1).to_string())]))) { (m.t("previous_page")) } " " }
                span { (m.f("page_of", &[("page", &page_no), ("pages", &pages)])) }
                @if page_no < pages { " " a rel="next" href=(format!("{here}{}", filter.query(&[("page", &(page_no + 1).to_string())]))) { (m.t("next_page")) } }
            }
        }
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct Preferences {
    shortcuts: Option<String>,
    lang: Option<String>,
    back: String,
}

/// The officer's preferences, kept in cookies: keyboard shortcuts on or
/// off, and the pages' language.
pub(crate) async fn preferences(State(state): State<Arc<UiState>>, Query(p): Query<Preferences>) -> Response {
    let back = if crate::serve::officer_ui::auth::safe_next(&p.back) { p.back } else { "/".into() };
    let mut r = Redirect::to(&back).into_response();
    let year = Some(31_536_000);
    if let Some(s) = p.shortcuts {
        r.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(&state, SHORTCUTS_COOKIE, if s == "off" { "off" } else { "on" }, year),
        );
    }
    if let Some(lang) = p.lang.filter(|l| state.messages.languages().contains(&l.as_str())) {
        r.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(&state, crate::serve::officer_ui::auth::LANGUAGE_COOKIE, &lang, year),
        );
    }
    r
}

/// The form fields of a bulk decision: (entities, their seen states, action, reason, csrf).
pub(crate) struct Bulk {
    entities: Vec<String>,
    seen: HashMap<String, String>,
    action: String,
    reason: String,
    csrf: String,
}

pub(crate) fn bulk_of(fields: Vec<(String, String)>) -> Bulk {
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

/// The bulk form with the session's CSRF token, a notify, confirm, reject
/// or approve, and
/// the role to decide it; or the 403 page.
pub(crate) fn bulk_request(
    state: &UiState,
    o: &Officer,
    fields: Vec<(String, String)>,
) -> Result<(Bulk, Action), Box<Response>> {
    let b = bulk_of(fields);
    if b.csrf != o.csrf {
        return Err(Box::new(forbidden(state, "bad_form")));
    }
    let Some(action) = Action::parse(&b.action)
        .filter(|a| matches!(a, Action::Notify | Action::Confirm | Action::Reject | Action::Approve))
    else {
        return Err(Box::new(forbidden(state, "bad_form")));
    };
    if !o.role.may(action) {
        return Err(Box::new(forbidden(state, "forbidden")));
    }
    Ok((b, action))
}

/// The queue entries of the selected members, by entity id.
fn selected(
    state: &UiState,
    list: &str,
    ids: &[String],
) -> Result<HashMap<String, Arc<QueueEntry>>, crate::officer::member::MemberError> {
    let Some(spec) = state.policy.list(list) else { return Ok(HashMap::new()) };
    let Some((_, entries)) = state.queue(spec, today())? else {
        return Ok(HashMap::new());
    };
    Ok(entries
        .iter()
        .filter(|e| ids.contains(&e.listing.entity_id))
        .map(|e| (e.listing.entity_id.clone(), e.clone()))
        .collect())
}

pub(crate) async fn bulk_preview(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    Path(list): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let m = &state.messages;
    let (b, action) = match bulk_request(&state, &o, fields) {
        Ok(request) => request,
        Err(refused) => return Ok(*refused),
    };
    let problem = if b.entities.is_empty() {
        Some(m.t("nothing_selected").to_string())
    } else if !(decide::MIN_REASON_CHARS..=decide::MAX_REASON_CHARS).contains(&b.reason.trim().chars().count()) {
        Some(m.t("reason_hint").to_string())
    } else {
        None
    };
    let entries = selected(&state, &list, &b.entities)?;
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
                    thead { tr {
                        th scope="col" { (m.t("entity_id")) } th scope="col" { (m.t("name")) } th scope="col" { (m.t("grade")) }
                        th scope="col" { (m.t("state")) } th scope="col" { (m.t("reason")) }
                    } }
                    tbody { @for id in &b.entities {
                        @let e = entries.get(id);
                        tr {
                            td {
                                a href=(format!("/entities/{id}")) { (id) }
                                input type="hidden" name="entity" value=(id);
                                input type="hidden" name=(format!("seen:{id}")) value=(b.seen.get(id).cloned().unwrap_or_default());
                            }
                            td { (entity_name(e.and_then(|e| e.registry.as_ref()).map(|f| f.name.as_str()).unwrap_or(""))) }
                            td { (e.and_then(|e| e.score.as_ref()).map(|s| s.grade.as_str()).unwrap_or("")) }
                            td { (e.map(|e| state_words(m, &e.state)).unwrap_or_else(|| m.t("not_a_member").to_string())) }
                            td { (b.reason) }
                        }
                    } }
                }
                button class="primary" type="submit" { (m.f("bulk_apply", &[("count", &b.entities.len())])) }
            }
        }
    };
    let status = if problem.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(html_response(status, page(&state, Some(&o), &title, body)))
}

pub(crate) async fn bulk_apply(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    Path(list): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let m = &state.messages;
    let (b, action) = match bulk_request(&state, &o, fields) {
        Ok(request) => request,
        Err(refused) => return Ok(*refused),
    };
    let entries = selected(&state, &list, &b.entities)?;
    let (mut done, mut stale, mut ids) = (0, 0, Vec::new());
    let mut refused = Vec::new();
    for entity in &b.entities {
        let approves = match (action, entries.get(entity).map(|e| &e.state)) {
            (Action::Approve, Some(QueueState::AwaitingApproval { decision, .. })) => Some(*decision),
            _ => None,
        };
        let req = Request {
            action: Some(action),
            list: &list,
            entity,
            officer: &o.id,
            reason: &b.reason,
            approves,
            seen: Some(b.seen.get(entity).map(String::as_str).unwrap_or("")),
            ..Request::default()
        };
        match decide::decide(&desk(&state), &req) {
            Ok(r) => {
                done += 1;
                ids.push(r.id);
            }
            Err(DecideError::Refused(Refusal::Stale { .. })) => stale += 1,
            Err(DecideError::Refused(r)) => refused.push(format!("{entity}: {} — {}", r.zh(), r.en())),
            Err(e) => return Err(e.into()),
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
    Ok(with_detail(html_response(status, page(&state, Some(&o), m.t("bulk_title"), body)), detail))
}
