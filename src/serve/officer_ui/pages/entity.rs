//! The entity page: registry facts, score and grade with their history,
//! reasons with the records behind them, memberships with their path,
//! restrictions, decisions, and each list's due-process section with the
//! decision forms ([`super::decide`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Extension;
use maud::{html, Markup};

use crate::base::ids::{AsOf, EntityId};
use crate::base::marts::mart_error;
use crate::base::marts::scores;
use crate::base::warehouse::Mart;
use crate::config::policy::ListSpec;
use crate::officer::explain::{self, ExplainError, Explanation};
use crate::officer::queue::QueueState;
use crate::serve::officer_ui::layout::{entity_name, html_response, page, with_detail, PageError, PageResult};
use crate::serve::officer_ui::pages::decision_forms;
use crate::serve::officer_ui::{svg, today, Messages, Officer, UiState};
use parquet::errors::ParquetError;

#[derive(serde::Deserialize, Default)]
pub(crate) struct EntityQuery {
    as_of: Option<String>,
    list: Option<String>,
    decided: Option<i64>,
}

pub(crate) async fn entity_page(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<EntityQuery>,
) -> PageResult {
    // A decision form posted after the session ended comes back filled in.
    let draft = crate::serve::officer_ui::auth::cookie(&state, &headers, crate::serve::officer_ui::auth::DRAFT_COOKIE)
        .and_then(|d| state.take_draft(&d))
        .filter(|d| d.entity == id);
    let as_of = q.as_of.as_deref().and_then(|d| d.parse().ok()).or_else(|| scores::newest(&state.warehouse));
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
    let notice = match &draft {
        Some(_) => Some(state.messages.t("draft_kept").to_string()),
        None => notice,
    };
    let mut r = render_entity(&state, &o, &id, as_of, q.list.as_deref(), notice, None, StatusCode::OK, draft.as_ref())?;
    if r.status() == StatusCode::OK {
        state.mark_open(&id, &o.id);
    }
    if draft.is_some() {
        let gone = crate::serve::officer_ui::auth::set_cookie(
            &state,
            crate::serve::officer_ui::auth::DRAFT_COOKIE,
            "",
            Some(0),
        );
        r.headers_mut().append(axum::http::header::SET_COOKIE, gone);
    }
    Ok(r)
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
    draft: Option<&crate::serve::officer_ui::Draft>,
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
    let mut forms = Vec::new();
    if let Some((who, minutes)) = state.open_by_other(id, &o.id) {
        let text = match minutes {
            0 => m.f("soft_lock_now", &[("officer", &who)]),
            _ => m.f("soft_lock", &[("officer", &who), ("minutes", &minutes)]),
        };
        forms.push(html! { p class="banner" role="status" { (text) } });
    }
    for l in &state.policy.lists {
        let next = if from_list == Some(l.id.as_str()) { next_in_queue(state, l, id)? } else { None };
        forms.push(decision_forms::list_section(state, o, l, id, next.as_deref(), draft.filter(|d| d.list == l.id))?);
    }
    let body = entity_body(state, &e, &history, previous, &previous_reasons, &forms, notice, error);
    let r = html_response(status, page(state, Some(o), &m.f("entity_title", &[("entity", &id)]), body));
    Ok(with_detail(r, format!("viewed entity {id} as of {as_of}")))
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn entity_body(
    state: &UiState,
    e: &Explanation,
    history: &[(String, f64)],
    previous: Option<AsOf>,
    previous_reasons: &[crate::base::marts::scores::Reason],
    forms: &[Markup],
    notice: Option<String>,
    error: Option<String>,
) -> Markup {
    let m = &state.messages;
    html! {
        @if let Some(err) = &error {
            div class="error-summary" role="alert" tabindex="-1" { h2 { (m.t("error_summary")) } ul { li { a href="#decide" { (err) } } } }
        }
        @if let Some(n) = &notice { div class="notice" role="status" { (n) } }
        @let name = e.registry.as_ref().map(|f| f.name.clone());
        h1 {
            @match &name {
                Some(n) => { (entity_name(n)) br; small class="muted" { (e.entity_id) } }
                None => { (m.f("entity_title", &[("entity", &e.entity_id)])) }
            }
        }
        @for banner in status_banners(state, e) { p class="banner" role="status" { (banner) } }
        h2 id="decide" { (m.t("decide_title")) }
        @if !forms.is_empty() { p class="muted" { (m.t("decide_keys")) } }
        @for f in forms { (f) }
        script src="/static/decide.js" {}
        (registry_section(m, e))
        (score_section(state, e, history, previous, previous_reasons))
        (memberships_section(state, e))
        (restrictions_section(m, e))
        (decisions_section(state, e))
    }
}

/// The entity's registry facts, from the registry mart of the run.
fn registry_section(m: &Messages, e: &Explanation) -> Markup {
    html! {
        h2 { (m.t("registry_facts")) }
        @if let Some(f) = &e.registry {
            table {
                tr { th scope="row" { (m.t("name")) } td { (entity_name(&f.name)) } }
                tr { th scope="row" { (m.t("entity_type")) } td { (f.entity_type) } }
                tr { th scope="row" { (m.t("region")) } td { (f.region) } }
                tr { th scope="row" { (m.t("status")) } td { (f.status) } }
                tr { th scope="row" { (m.t("legal_rep")) } td { (f.legal_rep_id.clone().unwrap_or_default()) } }
                tr { th scope="row" { (m.t("parent")) } td { @if let Some(p) = &f.parent_id { a href=(format!("/entities/{p}")) { (p) } } } }
                tr { th scope="row" { (m.t("industry")) } td { (f.industry.as_deref().map(|i| industry_label(m, i)).unwrap_or_default()) } }
                tr { th scope="row" { (m.t("online_store")) } td { (f.online_store.clone().unwrap_or_default()) } }
                tr { th scope="row" { (m.t("established_on")) } td { (f.established_on.clone().unwrap_or_default()) } }
                tr { th scope="row" { (m.t("registered_capital")) } td { (f.registered_capital.clone().unwrap_or_default()) } }
                tr { th scope="row" { (m.t("snapshot")) } td { (f.snapshot) } }
            }
        }
    }
}

/// The entity's score and grade with their history, its reasons with the
/// records behind them, and what changed since the `previous` run.
fn score_section(
    state: &UiState,
    e: &Explanation,
    history: &[(String, f64)],
    previous: Option<AsOf>,
    previous_reasons: &[scores::Reason],
) -> Markup {
    let m = &state.messages;
    html! {
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
                        details class="card" {
                        summary { (m.t("record")) " " (c.record_id) " · " (c.date) }
                        section id=(format!("record-{}", c.record_id)) aria-labelledby=(format!("record-{}-title", c.record_id)) {
                            h3 id=(format!("record-{}-title", c.record_id)) { (m.t("record")) " " (c.record_id) }
                            table {
                                tr { th scope="row" { (m.t("date")) } td { (c.date) } }
                                tr { th scope="row" { (m.t("age_days")) } td { (c.age_days) } }
                                @for (k, v) in &c.fields { tr { th scope="row" { (column_label(m, k)) } td { (v) } } }
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
    }
}

/// The entity's memberships of the lists, and for each extended one the
/// path from its roots, drawn and as a table.
fn memberships_section(state: &UiState, e: &Explanation) -> Markup {
    let m = &state.messages;
    // Names on the paths to this entity, from the registry mart of the run.
    let on_paths: BTreeSet<String> = e
        .memberships
        .iter()
        .filter(|l| l.depth > 0)
        .flat_map(|l| {
            l.roots.iter().take(svg::MAX_NODES).cloned().chain(l.via.iter().take(svg::MAX_NODES).map(|v| v.id.clone()))
        })
        .chain([e.entity_id.clone()])
        .collect();
    let names: std::collections::HashMap<String, String> = if on_paths.len() > 1 {
        crate::base::marts::registry::facts(&state.warehouse, e.as_of, &on_paths)
            .map(|f| f.into_iter().map(|(id, f)| (id, f.name)).collect())
            .unwrap_or_default()
    } else {
        Default::default()
    };
    html! {
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
                @let name = |id: &str| names.get(id).cloned().unwrap_or_default();
                @let roots: Vec<svg::Node> = l.roots.iter().map(|r| svg::Node { id: r.clone(), name: name(r), role: m.t("graph_root").to_string() }).collect();
                @let via: Vec<svg::Node> = l.via.iter().map(|v| svg::Node {
                    id: v.id.clone(),
                    name: name(&v.id),
                    role: match v.share_pct { Some(p) => m.f("graph_via_share", &[("relation", &v.relation), ("share", &p)]), None => m.f("graph_via", &[("relation", &v.relation)]) },
                }).collect();
                @let me = svg::Node { id: e.entity_id.clone(), name: name(&e.entity_id), role: m.f("graph_this", &[("status", &l.review_status.as_str()), ("rules", &l.rules.join(", "))]) };
                @let label = m.f("path_graph_label", &[("entity", &e.entity_id), ("list", &l.list_id)]);
                h3 { (m.t("path_graph")) " (" (l.list_id) ")" }
                (svg::path_graph(&roots, &via, &me, &label, &|n| m.f("more_nodes", &[("count", &n)])))
                details {
                    summary { (m.t("graph_table")) }
                    table {
                        caption { (label) }
                        thead { tr { th scope="col" { (m.t("graph_step")) } th scope="col" { (m.t("entity_id")) } th scope="col" { (m.t("name")) } th scope="col" { (m.t("graph_role")) } } }
                        tbody {
                            @for (step, nodes) in [(m.t("graph_step_root"), &roots), (m.t("graph_step_via"), &via)] {
                                @for n in nodes.iter().take(svg::MAX_NODES) {
                                    tr { td { (step) } td { a href=(format!("/entities/{}", n.id)) { (n.id) } } td { (entity_name(&n.name)) } td { (n.role) } }
                                }
                                @if nodes.len() > svg::MAX_NODES { tr { td { (step) } td colspan="3" { (m.f("more_nodes", &[("count", &(nodes.len() - svg::MAX_NODES))])) } } }
                            }
                            tr { td { (m.t("graph_step_this")) } td { (me.id) } td { (entity_name(&me.name)) } td { (me.role) } }
                        }
                    }
                }
            }
        }
    }
}

/// The restrictions on the entity's legal representative and on the
/// entity itself.
fn restrictions_section(m: &Messages, e: &Explanation) -> Markup {
    html! {
        h2 { (m.t("restrictions")) }
        @if e.representative.is_empty() && e.flagged.is_empty() { p { (m.t("no_restrictions")) } }
        ul {
            @for r in &e.representative { li { (m.f("restricted_person", &[("person", &r.subject_id), ("list", &r.list_id), ("rule", &r.rule_id), ("measures", &r.measures.join(", ")), ("roots", &r.roots.join(", "))])) } }
            @for r in &e.flagged { li { (m.f("flagged_entity", &[("list", &r.list_id), ("rule", &r.rule_id), ("measures", &r.measures.join(", ")), ("roots", &r.roots.join(", "))])) } }
        }
    }
}

/// The decisions taken on the entity, oldest first.
fn decisions_section(state: &UiState, e: &Explanation) -> Markup {
    let m = &state.messages;
    html! {
        h2 { (m.t("decisions")) }
        @if e.decisions.is_empty() { p { (m.t("no_decisions")) } } @else {
            table {
                thead { tr {
                    th scope="col" { "#" } th scope="col" { (m.t("decided_at")) } th scope="col" { (m.t("decision_action")) } th scope="col" { (m.t("list")) }
                    th scope="col" { (m.t("officer")) } th scope="col" { (m.t("decision_details")) } th scope="col" { (m.t("reason")) }
                } }
                tbody { @for d in &e.decisions { tr {
                    td { (d.id) } td { (state.local_time(&d.decided_at)) } td { (d.action.as_str()) } td { (d.list_id) } td { (d.officer) }
                    td {
                        @if let Some(u) = d.until { (m.f("detail_until", &[("until", &u)])) " " }
                        @if let Some(a) = d.approves { (m.f("detail_approves", &[("id", &a)])) " " }
                        @if let Some(x) = d.deadline { (m.f("detail_deadline", &[("deadline", &x)])) " " }
                        @if let Some(x) = d.received_on { (m.f("detail_received", &[("received", &x)])) " " }
                        @if d.document.is_some() { a href=(format!("/documents/{}", d.id)) { (m.t("open_document")) } }
                    }
                    td { (d.reason) }
                } } }
            }
        }
    }
}

/// The entity's standing on each list, in plain words, for the top of its page.
fn status_banners(state: &UiState, e: &Explanation) -> Vec<String> {
    let m = &state.messages;
    e.memberships
        .iter()
        .map(|l| {
            let status = m.t(&format!("state_{}", l.review_status.as_str())).to_string();
            let how = match l.basis {
                crate::base::marts::listings::Basis::Direct => {
                    let rules: Vec<&str> = e.reasons.iter().map(|r| r.rule_id.as_str()).collect();
                    m.f("banner_direct", &[("rules", &rules.join(", "))])
                }
                crate::base::marts::listings::Basis::Joint => {
                    let via: Vec<String> = l.via.iter().map(|v| format!("{} ({})", v.id, v.relation)).collect();
                    m.f(
                        "banner_joint",
                        &[("via", &via.join(", ")), ("roots", &l.roots.join(", ")), ("rules", &l.rules.join(", "))],
                    )
                }
            };
            let deadline = l.notice_deadline.map(|d| m.f("banner_deadline", &[("deadline", &d)])).unwrap_or_default();
            m.f("banner", &[("list", &l.list_id), ("status", &status), ("how", &how), ("deadline", &deadline)])
        })
        .collect()
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

/// How the entity's reasons changed since the previous run: each reason
/// that is new, whose points or records changed (the same points from
/// other records is other evidence), then each that is gone.
pub(crate) fn reason_changes(
    before: &[crate::base::marts::scores::Reason],
    after: &[crate::base::marts::scores::Reason],
    m: &Messages,
) -> Vec<String> {
    let mut out = Vec::new();
    for a in after {
        let Some(b) = before.iter().find(|b| b.rule_id == a.rule_id) else {
            out.push(format!("{}: {}", a.rule_id, m.t("change_new")));
            continue;
        };
        let mut what = Vec::new();
        if (b.points - a.points).abs() > 1e-9 {
            let (before, after) = (format!("{:.2}", b.points), format!("{:.2}", a.points));
            what.push(m.f("change_points", &[("before", &before), ("after", &after)]));
        }
        if b.records != a.records {
            let (before, after) = (b.records.join(", "), a.records.join(", "));
            what.push(m.f("change_records", &[("before", &before), ("after", &after)]));
        }
        if !what.is_empty() {
            out.push(format!("{}: {}", a.rule_id, what.join("; ")));
        }
    }
    for b in before.iter().filter(|b| !after.iter().any(|a| a.rule_id == b.rule_id)) {
        out.push(format!("{}: {}", b.rule_id, m.t("change_gone")));
    }
    out
}

/// The entity page of the queue member after `entity` that still needs a
/// decision (members decided since the run are skipped).
pub(crate) fn next_in_queue(state: &UiState, list: &ListSpec, entity: &str) -> Result<Option<String>, PageError> {
    let Some((_, entries)) = state.queue(list, today())? else {
        return Ok(None);
    };
    let Some(here) = entries.iter().position(|e| e.listing.entity_id == entity) else { return Ok(None) };
    Ok(entries[here + 1..]
        .iter()
        .find(|e| !matches!(e.state, QueueState::Decided { .. } | QueueState::AwaitingApproval { .. }))
        .map(|e| format!("/entities/{}?list={}", e.listing.entity_id, list.id)))
}

/// A record column's label from the catalogue (`column_<name>`), else its name.
pub(crate) fn column_label(m: &Messages, column: &str) -> String {
    let key = format!("column_{column}");
    match m.t(&key) {
        t if t == key => column.to_string(),
        t => t.to_string(),
    }
}

/// An industry section code (GB/T 4754, A to T) with its name.
pub(crate) fn industry_label(m: &Messages, code: &str) -> String {
    let key = format!("industry_{code}");
    match m.t(&key) {
        t if t == key => code.to_string(),
        t => format!("{code} {t}"),
    }
}
