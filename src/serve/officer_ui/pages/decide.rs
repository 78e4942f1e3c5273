//! The decision POST (one call of the gate, [`crate::officer::decide`]),
//! which on a refusal draws the entity page again with the officer's
//! draft, and the due-process documents (notices, objection
//! attachments), served only after their SHA-256 matches the one their
//! decision recorded. The forms are [`super::decision_forms`].

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::{Extension, Form};
use maud::html;

use crate::base::ids::AsOf;
use crate::base::marts::scores;
use crate::base::store::Action;
use crate::officer::decide::{self, DecideError, Desk, Refusal, Request};
use crate::officer::notice::{self, Lang};
use crate::serve::officer_ui::layout::{forbidden, html_response, page, with_detail, PageResult};
use crate::serve::officer_ui::pages::decision_forms::action_key;
use crate::serve::officer_ui::pages::entity::render_entity;
use crate::serve::officer_ui::{Officer, UiState};

pub(crate) fn desk(state: &UiState) -> Desk<'_> {
    Desk {
        warehouse: &state.warehouse,
        policy: &state.policy,
        store: &state.store,
        notices: &state.notices,
        listings: state,
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
            scores::newest(&state.warehouse),
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
