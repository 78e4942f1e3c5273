//! The entity page: registry facts, score and grade with their history,
//! reasons with the records behind them, memberships with their path,
//! restrictions, decisions, and the decision forms (with the stale-state
//! fingerprint that refuses a decision on a member that changed).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::{Extension, Form};
use maud::{html, Markup};

use crate::base::ids::{AsOf, EntityId};
use crate::base::marts::listings::{self, ListingRow, ReviewStatus};
use crate::base::marts::scores;
use crate::base::marts::{mart_error, MartError};
use crate::base::store::{Action, Decision};
use crate::base::warehouse::{Mart, Warehouse};
use crate::officer::accounts::Role;
use crate::officer::decide;
use crate::officer::explain::{self, ExplainError, Explanation};
use crate::officer::queue::{self};
use crate::serve::officer_ui::layout::{forbidden, html_response, page, with_detail, PageError, PageResult};
use crate::serve::officer_ui::pages::dashboard::latest_scores;
use crate::serve::officer_ui::{svg, Messages, Officer, UiState};
use crate::stages::review::DecisionBook;
use parquet::errors::ParquetError;

/// The state of a member as a decision form saw it: a decision is refused
/// (409) when the newest listing says something else.
pub(crate) fn fingerprint(as_of: AsOf, row: Option<&ListingRow>, awaiting: Option<&Decision>) -> String {
    let decided = awaiting.map(|d| format!("|#{}", d.id)).unwrap_or_default();
    match row {
        None => format!("{as_of}|none{decided}"),
        Some(r) => format!("{as_of}|{}|{}|{}{decided}", r.review_status.as_str(), r.basis.as_str(), r.rules.join(",")),
    }
}

/// The newest confirm or reject of each member of `list` (or of `entity`
/// only) recorded after the run that made the listing as of `at`: it takes
/// effect in the next run.
pub(crate) fn awaiting(
    state: &UiState,
    list: &str,
    at: AsOf,
    entity: Option<&str>,
) -> Result<HashMap<String, Decision>, PageError> {
    let used = state.store.decisions_used(at)?.unwrap_or(0);
    let last = state.store.last_decision_id()?;
    let mut newest: HashMap<String, Decision> = HashMap::new();
    for d in state.store.decisions_between(used, last, Some(list), entity)? {
        if matches!(d.action, Action::Confirm | Action::Reject) {
            newest.insert(d.entity_id.clone(), d);
        }
    }
    Ok(newest)
}

/// The state of `entity` on `list` a confirm or reject is decided against:
/// the newest listing row and any decision awaiting the next run.
pub(crate) struct MemberNow {
    at: AsOf,
    row: Option<ListingRow>,
    awaiting: Option<Decision>,
}

impl MemberNow {
    /// `None` when the list has no listing yet.
    pub(crate) fn read(state: &UiState, list: &str, entity: &str) -> Result<Option<MemberNow>, PageError> {
        let Some((at, row)) = newest_member(&state.warehouse, list, entity)? else { return Ok(None) };
        let awaiting = awaiting(state, list, at, Some(entity))?.remove(entity);
        Ok(Some(MemberNow { at, row, awaiting }))
    }

    pub(crate) fn fingerprint(&self) -> String {
        fingerprint(self.at, self.row.as_ref(), self.awaiting.as_ref())
    }

    pub(crate) fn describe(&self, m: &Messages) -> String {
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

pub(crate) fn awaiting_text(m: &Messages, d: &Decision) -> String {
    m.f("awaiting_decision", &[("action", &d.action.as_str()), ("officer", &d.officer), ("id", &d.id)])
}

/// The newest listing of `list` and the entity's row in it.
pub(crate) fn newest_member(
    wh: &Warehouse,
    list: &str,
    entity: &str,
) -> Result<Option<(AsOf, Option<ListingRow>)>, MartError> {
    let Some(at) = wh.list_mart_dates(Mart::Listings, list).pop() else { return Ok(None) };
    let rows =
        listings::read_listings(&wh.list_mart(Mart::Listings, list, at)).map_err(mart_error("the listings mart"))?;
    Ok(Some((at, rows.into_iter().find(|r| r.entity_id == entity))))
}

#[derive(serde::Deserialize, Default)]
pub(crate) struct EntityQuery {
    as_of: Option<String>,
    list: Option<String>,
    decided: Option<i64>,
}

pub(crate) async fn entity_page(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    Path(id): Path<String>,
    Query(q): Query<EntityQuery>,
) -> PageResult {
    let as_of = q.as_of.as_deref().and_then(|d| d.parse().ok()).or_else(|| latest_scores(&state.warehouse));
    let notice = match q.decided {
        None => None,
        Some(d) => Some(match state.store.decisions_between(d - 1, d, None, None)?.pop() {
            Some(x) => state.messages.f(
                "decision_recorded",
                &[("id", &d), ("action", &x.action.as_str()), ("entity", &x.entity_id), ("list", &x.list_id)],
            ),
            None => state.messages.f("decision_recorded_plain", &[("id", &d)]),
        }),
    };
    render_entity(&state, &o, &id, as_of, q.list.as_deref(), notice, None, StatusCode::OK)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn render_entity(
    state: &UiState,
    o: &Officer,
    id: &str,
    as_of: Option<AsOf>,
    from_list: Option<&str>,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    let m = &state.messages;
    let not_found = || {
        html_response(
            StatusCode::NOT_FOUND,
            page(state, Some(o), m.t("not_found"), html! { h1 { (m.t("not_found")) } }),
        )
    };
    let Some(as_of) = as_of else {
        return Ok(html_response(
            StatusCode::NOT_FOUND,
            page(state, Some(o), m.t("not_found"), html! { h1 { (m.t("not_found")) } p { (m.t("no_runs")) } }),
        ));
    };
    if EntityId::parse(id).is_none() {
        return Ok(not_found());
    }
    let e = match explain::explain(&state.warehouse, &state.policy, Some(&state.store), id, as_of) {
        Ok(e) if e.registry.is_some() || e.score.is_some() => e,
        Ok(_) | Err(ExplainError::NoRun(_)) => return Ok(not_found()),
        Err(e) => return Err(e.into()),
    };
    let ids: BTreeSet<String> = [id.to_string()].into();
    let dates = state.warehouse.mart_dates(Mart::Scores);
    let history: Vec<(String, f64)> = dates
        .iter()
        .filter(|d| **d <= as_of)
        .rev()
        .take(30)
        .map(|d| Ok(scores::read(&state.warehouse, *d, &ids)?.remove(id).map(|s| (d.to_string(), s.score))))
        .collect::<Result<Vec<_>, ParquetError>>()
        .map_err(mart_error("the scores mart"))?
        .into_iter()
        .flatten()
        .rev()
        .collect();
    let previous = dates.iter().rfind(|d| **d < as_of).copied();
    let previous_reasons = match previous {
        Some(d) => scores::read(&state.warehouse, d, &ids)
            .map_err(mart_error("the scores mart"))?
            .remove(id)
            .map(|s| s.reasons)
            .unwrap_or_default(),
        None => vec![],
    };
    let book = DecisionBook::new(state.store.decisions(state.store.last_decision_id()?, None, Some(id))?);
    let mut forms = Vec::new();
    for l in &state.policy.lists {
        let now = MemberNow::read(state, &l.id, id)?;
        let pending =
            now.as_ref().is_some_and(|n| n.row.as_ref().is_some_and(|r| r.review_status == ReviewStatus::Pending));
        let next = if pending && from_list == Some(l.id.as_str()) { next_pending(state, &l.id, id)? } else { None };
        forms.push(ListForms { list: l.id.clone(), now: now.filter(|_| pending), next });
    }
    let body = entity_body(state, o, &e, &history, previous, &previous_reasons, &book, &forms, notice, error);
    let r = html_response(status, page(state, Some(o), &m.f("entity_title", &[("entity", &id)]), body));
    Ok(with_detail(r, format!("viewed entity {id} as of {as_of}")))
}

/// What the decision forms of one list show: the pending member's state
/// (absent when it is not pending) and the next pending member of the queue.
pub(crate) struct ListForms {
    list: String,
    now: Option<MemberNow>,
    next: Option<String>,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn entity_body(
    state: &UiState,
    o: &Officer,
    e: &Explanation,
    history: &[(String, f64)],
    previous: Option<AsOf>,
    previous_reasons: &[crate::base::marts::scores::Reason],
    book: &DecisionBook,
    forms: &[ListForms],
    notice: Option<String>,
    error: Option<String>,
) -> Markup {
    let m = &state.messages;
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
            @for l in forms {
                @if let Some(now) = &l.now {
                    @if let Some(d) = &now.awaiting { p class="notice" { (l.list) ": " (awaiting_text(m, d)) } }
                    (decision_form(state, o, Action::Confirm, &l.list, &e.entity_id, &now.fingerprint(), l.next.as_deref()))
                    (decision_form(state, o, Action::Reject, &l.list, &e.entity_id, &now.fingerprint(), l.next.as_deref()))
                }
                @if o.role == Role::Senior {
                    @if book.exempt(&l.list, &e.entity_id, today) {
                        (decision_form(state, o, Action::RevokeExemption, &l.list, &e.entity_id, "", None))
                    } @else {
                        (decision_form(state, o, Action::Exempt, &l.list, &e.entity_id, "", None))
                    }
                } @else { p class="muted" { (m.t("senior_only")) } }
            }
        }
    }
}

/// Each record behind the reasons once (a record can support several rules),
/// in order of first mention, with the rules it supports.
pub(crate) fn record_cards(
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

pub(crate) fn reason_changes(
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
pub(crate) fn next_pending(state: &UiState, list: &str, entity: &str) -> Result<Option<String>, PageError> {
    let Some((at, entries)) = queue::pending(&state.warehouse, list, None)? else { return Ok(None) };
    let decided = awaiting(state, list, at, None)?;
    let Some(here) = entries.iter().position(|e| e.listing.entity_id == entity) else { return Ok(None) };
    Ok(entries[here + 1..]
        .iter()
        .find(|e| !decided.contains_key(&e.listing.entity_id))
        .map(|e| format!("/entities/{}?list={list}", e.listing.entity_id)))
}

pub(crate) fn action_key(a: Action) -> &'static str {
    match a {
        Action::Confirm => "confirm",
        Action::Reject => "reject",
        Action::Exempt => "exempt",
        Action::RevokeExemption => "revoke_exemption",
    }
}

pub(crate) fn decision_form(
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
pub(crate) struct DecisionForm {
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

pub(crate) fn parse_action(s: &str) -> Option<Action> {
    Action::parse(s)
}

pub(crate) async fn decision(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    Form(f): Form<DecisionForm>,
) -> PageResult {
    if f.csrf != o.csrf {
        return Ok(forbidden(&state, "bad_form"));
    }
    let Some(action) = parse_action(&f.action) else { return Ok(forbidden(&state, "bad_form")) };
    if !o.role.may(action) {
        return Ok(with_detail(
            forbidden(&state, "forbidden"),
            format!("refused {} by role {}", f.action, o.role.as_str()),
        ));
    }
    let m = &state.messages;
    if matches!(action, Action::Confirm | Action::Reject) {
        let now = MemberNow::read(&state, &f.list, &f.entity)?;
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
            )?;
            return Ok(with_detail(r, format!("stale {} of {} on {}", f.action, f.entity, f.list)));
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
            Ok(with_detail(r, format!("decision #{id}: {} {} on {}", f.action, f.entity, f.list)))
        }
        Err(failed @ (decide::Refusal::Read(_) | decide::Refusal::Store(_))) => Err(failed.into()),
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
            )?;
            Ok(with_detail(r, format!("refused {} of {} on {}: {refusal}", f.action, f.entity, f.list)))
        }
    }
}
