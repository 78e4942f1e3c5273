//! The review queue of a list: pending members with filters, keyboard
//! shortcuts, and bulk decisions with a preview.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::html;

use crate::base::store::Action;
use crate::officer::accounts::Role;
use crate::officer::decide;
use crate::officer::queue::{self, QueueEntry};
use crate::serve::officer_ui::auth::{cookie, set_cookie, SHORTCUTS_COOKIE};
use crate::serve::officer_ui::layout::{forbidden, html_response, page, with_detail, PageResult};
use crate::serve::officer_ui::pages::entity::{action_key, awaiting, fingerprint, parse_action, MemberNow};
use crate::serve::officer_ui::{Officer, UiState};

#[derive(serde::Deserialize, Default, Clone)]
pub(crate) struct QueueFilter {
    region: Option<String>,
    basis: Option<String>,
    rule: Option<String>,
}

pub(crate) fn filtered(entries: Vec<QueueEntry>, f: &QueueFilter) -> Vec<QueueEntry> {
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

pub(crate) async fn review_queue(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    headers: HeaderMap,
    Path(list): Path<String>,
    Query(filter): Query<QueueFilter>,
) -> PageResult {
    let m = &state.messages;
    if state.policy.list(&list).is_none() {
        return Ok(html_response(
            StatusCode::NOT_FOUND,
            page(&state, Some(&o), m.t("not_found"), html! { h1 { (m.t("not_found")) } }),
        ));
    }
    let shortcuts = cookie(&headers, SHORTCUTS_COOKIE).as_deref() != Some("off");
    let queue = queue::pending(&state.warehouse, &list, None)?;
    let decided = match &queue {
        Some((at, _)) => awaiting(&state, &list, *at, None)?,
        None => Default::default(),
    };
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
    Ok(html_response(StatusCode::OK, page(&state, Some(&o), &m.f("queue_title", &[("list", &list)]), body)))
}

#[derive(serde::Deserialize)]
pub(crate) struct Preferences {
    shortcuts: String,
    back: String,
}

pub(crate) async fn preferences(Query(p): Query<Preferences>) -> Response {
    let back = if p.back.starts_with("/review/") { p.back } else { "/".into() };
    let mut r = Redirect::to(&back).into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SHORTCUTS_COOKIE, if p.shortcuts == "off" { "off" } else { "on" }, Some(31_536_000)),
    );
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

/// The bulk form with the session's CSRF token, a confirm or reject, and
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
    let Some(action) = parse_action(&b.action).filter(|a| matches!(a, Action::Confirm | Action::Reject)) else {
        return Err(Box::new(forbidden(state, "bad_form")));
    };
    if !o.role.may(action) {
        return Err(Box::new(forbidden(state, "forbidden")));
    }
    Ok((b, action))
}

pub(crate) async fn bulk_preview(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    Path(list): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let m = &state.messages;
    let (b, action) = match bulk_request(&state, &o, fields) {
        Ok(request) => request,
        Err(refused) => return *refused,
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
    let (mut done, mut stale, mut ids) = (0, 0, Vec::new());
    let mut refused = Vec::new();
    for entity in &b.entities {
        let now = MemberNow::read(&state, &list, entity)?.map(|n| n.fingerprint());
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
            Err(failed @ (decide::Refusal::Read(_) | decide::Refusal::Store(_))) => return Err(failed.into()),
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
    Ok(with_detail(html_response(status, page(&state, Some(&o), m.t("bulk_title"), body)), detail))
}
