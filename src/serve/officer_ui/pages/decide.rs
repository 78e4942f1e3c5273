//! The decision forms of one entity on each list, the decision POST (one
//! call of the gate, [`crate::officer::decide`]), and the due-process
//! documents (notices, objection attachments), served only after their
//! SHA-256 matches the one their decision recorded.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::{Extension, Form};
use maud::{html, Markup};

use crate::base::ids::AsOf;
use crate::base::store::{Action, Decision};
use crate::config::policy::{Approval, ListSpec, Review};
use crate::officer::accounts::Role;
use crate::officer::decide::{self, DecideError, Desk, Refusal, Request};
use crate::officer::notice::{self, Lang};
use crate::serve::officer_ui::layout::{forbidden, html_response, page, with_detail, PageResult};
use crate::serve::officer_ui::pages::dashboard::latest_scores;
use crate::serve::officer_ui::pages::entity::render_entity;
use crate::serve::officer_ui::{Draft, Messages, Officer, UiState};
use crate::stages::review::DecisionBook;

pub(crate) fn today() -> AsOf {
    AsOf::new(chrono::Utc::now().date_naive())
}

pub(crate) fn desk(state: &UiState) -> Desk<'_> {
    Desk {
        warehouse: &state.warehouse,
        policy: &state.policy,
        store: &state.store,
        notices: &state.notices,
        listings: state,
    }
}

pub(crate) fn action_key(a: Action) -> &'static str {
    a.as_str()
}

/// The due-process section of one list on the entity page: the member's
/// state now, its notices and objections, and the forms the officer may use.
pub(crate) fn list_section(
    state: &UiState,
    o: &Officer,
    list: &ListSpec,
    entity: &str,
    next: Option<&str>,
    draft: Option<&Draft>,
) -> Result<Markup, DecideError> {
    let m = &state.messages;
    let today = today();
    let book =
        DecisionBook::new(state.store.decisions(state.store.last_decision_id()?, Some(&list.id), Some(entity))?);
    let base = state.queue_base(list)?;
    let listing = base.as_ref().map(|b| &**b.listing());
    let member = listing.and_then(|l| l.member(list, &book, entity, today));
    let seen = decide::fingerprint_with(&book, listing, list, entity, today);
    let exempt = book.exemption(list, entity, today);
    let exemption_awaiting = book.exemption_awaiting(list, entity);
    let senior = o.role == Role::Senior;
    let review = book.review_decisions(&list.id, entity);
    let notices: Vec<&Decision> =
        review.iter().filter(|d| d.action == Action::Notify || d.action == Action::Object).collect();
    let kept = |action: Action| draft.filter(|d| Action::parse(&d.action) == Some(action));
    let f = |action: Action, extra: Markup| {
        decision_form(m, o, action, &list.id, entity, &seen, next, extra, kept(action).map(|d| d.reason.as_str()))
    };
    let assignment = match &member {
        Some(mm) if mm.now.status != crate::base::marts::listings::ReviewStatus::Published => {
            Some(super::assign::panel(state, o, &list.id, entity)?)
        }
        _ => None,
    };
    Ok(html! {
        section class="card" aria-labelledby=(format!("decide-{}", list.id)) {
            h3 id=(format!("decide-{}", list.id)) { (list.title) " (" (list.id) ")" }
            @if let Some(mm) = &member {
                p { strong { (m.t("status_now")) ": " } (status_text(m, &mm.now.status, mm.now.notice_deadline, today, mm.ready_to_decide())) }
                @if let Some(p) = &assignment { (p) }
                @if let Some(d) = mm.standing().last.filter(|d| d.id > mm.used && matches!(d.action, Action::Confirm | Action::Reject)) {
                    p class="notice" { (m.f("awaiting_decision", &[("action", &d.action.as_str()), ("officer", &d.officer), ("id", &d.id)])) }
                }
            } @else {
                p class="muted" { (m.t("not_a_member")) }
            }
            @if list.notice_days > 0 || list.approval == Approval::TwoOfficers {
                p class="muted" { (m.f("due_process_rules", &[("days", &list.notice_days), ("approval", &m.t(match list.approval { Approval::Single => "approval_single", Approval::TwoOfficers => "approval_two" }))])) }
            }
            @if !notices.is_empty() {
                ul {
                    @for d in &notices {
                        li {
                            @match d.action {
                                Action::Notify => {
                                    (m.f("notice_line", &[("id", &d.id), ("officer", &d.officer), ("day", &d.day().map(|x| x.to_string()).unwrap_or_default()), ("deadline", &d.deadline.map(|x| x.to_string()).unwrap_or_default())]))
                                    @if d.document.is_some() { " " a href=(format!("/documents/{}", d.id)) { (m.t("open_notice")) } }
                                }
                                _ => {
                                    (m.f("objection_line", &[("id", &d.id), ("received", &d.received_on.map(|x| x.to_string()).unwrap_or_default()), ("summary", &d.reason)]))
                                    @if d.document.is_some() { " " a href=(format!("/documents/{}", d.id)) { (m.t("open_attachment")) } }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(e) = exempt {
                p { (m.f("exempt_until", &[("until", &e.until.map(|u| u.to_string()).unwrap_or_default()), ("id", &e.id), ("officer", &e.officer)])) }
            }
            @if o.role == Role::Auditor { p { (m.t("auditor_read_only")) } } @else {
                @if let Some(mm) = member.as_ref().filter(|mm| !mm.now.status.on_list() && list.review == Review::Additions) {
                    @let s = mm.standing();
                    @let awaiting = s.confirm.filter(|(_, approved)| !approved && list.approval == Approval::TwoOfficers).map(|(c, _)| c);
                    @if let Some(c) = awaiting {
                        p class="notice" { (m.f("awaiting_approval_of", &[("id", &c.id), ("officer", &c.officer), ("reason", &c.reason)])) }
                        @if senior && c.officer != o.id {
                            (f(Action::Approve, approves(c.id)))
                            (f(Action::SendBack, approves(c.id)))
                        }
                    } @else {
                        @let open_notice = s.notice.is_some_and(|n| n.deadline.is_some_and(|d| d >= today) && s.objection.is_none());
                        @if !open_notice {
                            (f(Action::Notify, lang_select(m, &list.id, entity)))
                        }
                        @if s.notice.is_some() {
                            (f(Action::Object, received_input(m, &list.id, entity, today, kept(Action::Object).map(|d| d.received.as_str()))))
                        }
                        (f(Action::Confirm, html! {}))
                        (f(Action::Reject, html! {}))
                    }
                }
                @if senior {
                    @if let Some(x) = exemption_awaiting {
                        p class="notice" { (m.f("awaiting_approval_of", &[("id", &x.id), ("officer", &x.officer), ("reason", &x.reason)])) }
                        @if x.officer != o.id {
                            (f(Action::Approve, approves(x.id)))
                            (f(Action::SendBack, approves(x.id)))
                        }
                    } @else if exempt.is_some() {
                        (f(Action::RevokeExemption, html! {}))
                    } @else {
                        (f(Action::Exempt, until_input(m, list, entity, today, kept(Action::Exempt).map(|d| d.until.as_str()))))
                    }
                } @else { p class="muted" { (m.t("senior_only")) } }
            }
        }
    })
}

/// A member's state now, in words.
pub(crate) fn status_text(
    m: &Messages,
    status: &crate::base::marts::listings::ReviewStatus,
    deadline: Option<AsOf>,
    today: AsOf,
    ready: bool,
) -> String {
    use crate::base::marts::listings::ReviewStatus as S;
    match (status, deadline) {
        (S::Noticed, Some(d)) => {
            m.f("state_noticed", &[("deadline", &d), ("days", &(d.date() - today.date()).num_days())])
        }
        (S::Pending, _) if ready => m.t("state_ready").to_string(),
        (s, _) => m.t(&format!("state_{}", s.as_str())).to_string(),
    }
}

fn approves(id: i64) -> Markup {
    html! { input type="hidden" name="approves" value=(id); }
}

fn lang_select(m: &Messages, list: &str, entity: &str) -> Markup {
    let id = format!("lang-{list}-{entity}");
    html! {
        label for=(id) { (m.t("notice_language")) }
        select id=(id) name="lang" {
            option value="zh-CN" selected { "中文 (zh-CN)" }
            option value="en" { "English (en)" }
        }
    }
}

fn received_input(m: &Messages, list: &str, entity: &str, today: AsOf, value: Option<&str>) -> Markup {
    let id = format!("received-{list}-{entity}");
    let file = format!("attachment-{list}-{entity}");
    html! {
        label for=(id) { (m.t("received_on")) }
        input type="date" id=(id) name="received" required max=(today.to_string()) pattern="\\d{4}-\\d{2}-\\d{2}" value=[value];
        label for=(file) { (m.t("objection_attachment")) }
        input type="file" id=(file) name="attachment" aria-describedby=(format!("{file}-hint"));
        div id=(format!("{file}-hint")) class="muted" {
            (m.f("objection_attachment_hint", &[("mib", &(notice::MAX_ATTACHMENT_BYTES / (1024 * 1024)))]))
        }
    }
}

fn until_input(m: &Messages, list: &ListSpec, entity: &str, today: AsOf, value: Option<&str>) -> Markup {
    let id = format!("until-{}-{entity}", list.id);
    let latest = today.plus_days(list.max_exemption_days);
    html! {
        label for=(id) { (m.t("until")) }
        input type="date" id=(id) name="until" required min=(today.plus_days(1).to_string()) max=(latest.to_string()) pattern="\\d{4}-\\d{2}-\\d{2}" aria-describedby=(format!("{id}-hint")) value=[value];
        div id=(format!("{id}-hint")) class="muted" { (m.f("until_hint", &[("days", &list.max_exemption_days), ("latest", &latest)])) }
    }
}

#[allow(clippy::too_many_arguments)]
fn decision_form(
    m: &Messages,
    o: &Officer,
    action: Action,
    list: &str,
    entity: &str,
    seen: &str,
    next: Option<&str>,
    extra: Markup,
    draft: Option<&str>,
) -> Markup {
    let key = action_key(action);
    let field = format!("reason-{key}-{list}-{entity}");
    let reason_label = if action == Action::Object { m.t("objection_summary") } else { m.t("reason") };
    html! {
        form method="post" action=(if action == Action::Object { "/objections" } else { "/decisions" })
            enctype=[(action == Action::Object).then_some("multipart/form-data")] class="card" {
            h4 { (m.t(key)) }
            input type="hidden" name="csrf" value=(o.csrf);
            input type="hidden" name="action" value=(key);
            input type="hidden" name="list" value=(list);
            input type="hidden" name="entity" value=(entity);
            input type="hidden" name="seen" value=(seen);
            (extra)
            label for=(field) { (reason_label) }
            textarea id=(field) name="reason" rows="2" cols="60" required minlength="10" aria-describedby=(format!("{field}-hint")) { (draft.unwrap_or("")) }
            div id=(format!("{field}-hint")) class="muted" { (m.t("reason_hint")) }
            div {
                button class="primary" type="submit" name="go" value="stay" { (m.t(key)) }
                @if let Some(n) = next.filter(|_| matches!(action, Action::Confirm | Action::Reject | Action::Notify)) {
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
    #[serde(default)]
    list: String,
    #[serde(default)]
    entity: String,
    reason: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    received: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    approves: String,
    #[serde(default)]
    seen: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    go: String,
}

/// A date field that is not `YYYY-MM-DD`: what was typed.
#[derive(Debug, PartialEq)]
pub(crate) struct BadDate(pub(crate) String);

/// A date field as an officer typed it: empty, or `YYYY-MM-DD` exactly.
/// Anything else (`31/03/2027`) is refused, never read as "no date".
pub(crate) fn date_field(text: &str) -> Result<Option<AsOf>, BadDate> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let ok = t.len() == 10 && t.as_bytes()[4] == b'-' && t.as_bytes()[7] == b'-';
    match t.parse::<AsOf>() {
        Ok(d) if ok => Ok(Some(d)),
        _ => Err(BadDate(t.to_string())),
    }
}

pub(crate) async fn decision(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    Form(f): Form<DecisionForm>,
) -> PageResult {
    decide_form(&state, &o, f, None)
}

/// The party's statement with its optional attachment
/// (`multipart/form-data`): the same form fields as [`decision`], action
/// `object` only, and one file field `attachment` of at most
/// [`notice::MAX_ATTACHMENT_BYTES`], stored by the gate beside the notice
/// under credence's own name with its SHA-256.
pub(crate) async fn objection(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    mut parts: axum::extract::Multipart,
) -> PageResult {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut attachment = None;
    let bad = |detail: String| Ok(with_detail(forbidden(&state, "bad_form"), detail));
    loop {
        let field = match parts.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return bad(format!("refused object: {}", e.body_text())),
        };
        let name = field.name().unwrap_or("").to_string();
        if name == "attachment" {
            let file_name = field.file_name().unwrap_or("").to_string();
            let bytes = match field.bytes().await {
                Ok(b) => b,
                Err(e) => return bad(format!("refused object: {}", e.body_text())),
            };
            if bytes.len() as u64 > notice::MAX_ATTACHMENT_BYTES {
                return bad(format!("refused object: an attachment of {} bytes", bytes.len()));
            }
            // A file input left empty still sends a part, with no name and no bytes.
            if !(file_name.is_empty() && bytes.is_empty()) {
                attachment = Some((bytes.to_vec(), notice::attachment_extension(&file_name)));
            }
        } else {
            match field.text().await {
                Ok(t) if fields.len() < 32 => fields.push((name, t)),
                _ => return bad("refused object: a form field that is not text, or too many".into()),
            }
        }
    }
    let form = serde_urlencoded::to_string(&fields).ok().and_then(|t| serde_urlencoded::from_str(&t).ok());
    let Some(f): Option<DecisionForm> = form else { return bad("refused object: a form without its fields".into()) };
    if f.action != action_key(Action::Object) {
        return bad(format!("refused {}: only objections are posted with a file", f.action));
    }
    decide_form(&state, &o, f, attachment)
}

/// One decision form through the gate: the role and the form token first,
/// dates as typed, then [`decide::decide`]; a refusal shows the entity
/// page again with the reason in both languages.
fn decide_form(state: &UiState, o: &Officer, f: DecisionForm, attachment: Option<(Vec<u8>, String)>) -> PageResult {
    if f.csrf != o.csrf {
        return Ok(forbidden(state, "bad_form"));
    }
    let Some(action) = Action::parse(&f.action) else { return Ok(forbidden(state, "bad_form")) };
    if !o.role.may(action) {
        return Ok(with_detail(
            forbidden(state, "forbidden"),
            format!("refused {} by role {}", f.action, o.role.as_str()),
        ));
    }
    let m = &state.messages;
    let refused = |error: String, status: StatusCode, detail: String| -> PageResult {
        let r = render_entity(
            state,
            o,
            &f.entity,
            latest_scores(&state.warehouse),
            Some(&f.list),
            None,
            Some(error),
            status,
            None,
        )?;
        Ok(with_detail(r, detail))
    };
    let (until, received) = match (date_field(&f.until), date_field(&f.received)) {
        (Ok(u), Ok(r)) => (u, r),
        (Err(BadDate(bad)), _) | (_, Err(BadDate(bad))) => {
            let error = m.f("bad_date", &[("found", &bad)]);
            return refused(error, StatusCode::UNPROCESSABLE_ENTITY, format!("refused {}: bad date '{bad}'", f.action));
        }
    };
    let req = Request {
        action: Some(action),
        list: &f.list,
        entity: &f.entity,
        officer: &o.id,
        reason: &f.reason,
        until,
        approves: f.approves.trim().parse().ok(),
        received_on: received,
        lang: Lang::parse(&f.lang).unwrap_or_default(),
        seen: Some(&f.seen),
        attachment,
        ..Request::default()
    };
    match decide::decide(&desk(state), &req) {
        Ok(r) => {
            let next = if f.go == "next" && f.next.starts_with("/entities/") {
                f.next.clone()
            } else {
                format!("/entities/{}?list={}", r.entity, r.list)
            };
            let sep = if next.contains('?') { '&' } else { '?' };
            // After "decide and open the next", the cursor waits in the next entity's first reason.
            let anchor = if f.go == "next" { "#decide" } else { "" };
            let resp = Redirect::to(&format!("{next}{sep}decided={}{anchor}", r.id)).into_response();
            Ok(with_detail(resp, format!("decision #{}: {} {} on {}", r.id, r.action.as_str(), r.entity, r.list)))
        }
        Err(DecideError::Refused(refusal)) => {
            let status = if matches!(refusal, Refusal::Stale { .. }) {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let error = m.f("decision_refused", &[("why", &format!("{} — {}", refusal.zh(), refusal.en()))]);
            refused(error, status, format!("refused {} of {} on {}: {}", f.action, f.entity, f.list, refusal.en()))
        }
        Err(e) => Err(e.into()),
    }
}

/// A stored notice (HTML, shown with its print stylesheet and nothing
/// else allowed to run) or objection attachment (downloaded), after its
/// hash is checked against its decision.
pub(crate) async fn document(
    State(state): State<Arc<UiState>>,
    Extension(_o): Extension<Officer>,
    Path(id): Path<String>,
) -> PageResult {
    let m = &state.messages;
    let not_found = || {
        html_response(StatusCode::NOT_FOUND, page(&state, None, m.t("not_found"), html! { h1 { (m.t("not_found")) } }))
    };
    let Ok(id) = id.parse::<i64>() else { return Ok(not_found()) };
    let Some(d) = state.store.decisions_between(id - 1, id, None, None)?.pop() else { return Ok(not_found()) };
    let (Some(path), Some(sha)) = (d.document.as_deref(), d.document_sha256.as_deref()) else { return Ok(not_found()) };
    let bytes = notice::read_document(&state.warehouse, path, sha)?;
    let mut r = match d.action {
        Action::Notify => (StatusCode::OK, bytes).into_response(),
        _ => {
            let name =
                std::path::Path::new(path).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let mut r = (StatusCode::OK, bytes).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
                r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            r
        }
    };
    let h = r.headers_mut();
    let kind = if d.action == Action::Notify { "text/html; charset=utf-8" } else { "application/octet-stream" };
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(with_detail(r, format!("viewed document of decision #{id} ({path})")))
}
