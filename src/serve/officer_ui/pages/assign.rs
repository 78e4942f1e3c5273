//! Who works on which queue item: "assign to me" and "release" on an
//! entity's list section, and "take the next unassigned" on the queue,
//! which assigns the oldest undecided item nobody holds and opens it.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::{Extension, Form};
use maud::{html, Markup};

use crate::base::ids::EntityId;
use crate::base::store::StoreError;
use crate::officer::accounts::Role;
use crate::officer::queue::QueueState;
use crate::serve::officer_ui::layout::{forbidden, html_response, page, with_detail, PageResult};
use crate::serve::officer_ui::today;
use crate::serve::officer_ui::{Officer, UiState};

/// The assignment line of a list section: who holds the item, and the
/// button to take or release it.
pub(crate) fn panel(state: &UiState, o: &Officer, list: &str, entity: &str) -> Result<Markup, StoreError> {
    let m = &state.messages;
    let holder = state.store.assignment(list, entity)?;
    Ok(html! {
        form method="post" action="/assignments" class="assignment" {
            input type="hidden" name="csrf" value=(o.csrf);
            input type="hidden" name="list" value=(list);
            input type="hidden" name="entity" value=(entity);
            @match &holder {
                None => {
                    span { (m.t("unassigned")) }
                    @if o.role != Role::Auditor { " " button type="submit" name="action" value="assign" { (m.t("assign_to_me")) } }
                }
                Some(a) if a.officer == o.id => {
                    span { (m.f("assigned_to_you", &[("since", &state.local_time(&a.since))])) }
                    " " button type="submit" name="action" value="release" { (m.t("release")) }
                }
                Some(a) => span { (m.f("assigned_to", &[("officer", &a.officer), ("since", &state.local_time(&a.since))])) },
            }
        }
    })
}

#[derive(serde::Deserialize)]
pub(crate) struct AssignmentForm {
    csrf: String,
    list: String,
    entity: String,
    action: String,
}

/// Takes or releases one item, then returns to its page.
pub(crate) async fn assignment(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    Form(f): Form<AssignmentForm>,
) -> PageResult {
    if f.csrf != o.csrf {
        return Ok(forbidden(&state, "bad_form"));
    }
    if o.role == Role::Auditor {
        return Ok(forbidden(&state, "auditor_read_only"));
    }
    let m = &state.messages;
    if state.policy.list(&f.list).is_none() || EntityId::parse(&f.entity).is_none() {
        return Ok(html_response(
            StatusCode::NOT_FOUND,
            page(&state, Some(&o), m.t("not_found"), html! { h1 { (m.t("not_found")) } }),
        ));
    }
    let back = format!("/entities/{}?list={}", f.entity, f.list);
    let detail = match f.action.as_str() {
        "assign" => {
            let holder = state.store.assign(&f.list, &f.entity, &o.id)?;
            if holder.officer != o.id {
                let body = html! {
                    h1 { (m.t("assign_to_me")) }
                    p role="alert" { (m.f("assigned_to", &[("officer", &holder.officer), ("since", &state.local_time(&holder.since))])) }
                    p { a href=(back) { (f.entity) } }
                };
                return Ok(html_response(StatusCode::CONFLICT, page(&state, Some(&o), m.t("assign_to_me"), body)));
            }
            format!("assigned {} on {} to {}", f.entity, f.list, o.id)
        }
        "release" => {
            state.store.release(&f.list, &f.entity, &o.id)?;
            format!("released {} on {}", f.entity, f.list)
        }
        _ => return Ok(forbidden(&state, "bad_form")),
    };
    Ok(with_detail(Redirect::to(&back).into_response(), detail))
}

#[derive(serde::Deserialize)]
pub(crate) struct TakeForm {
    csrf: String,
}

/// Assigns the oldest undecided item of the queue that nobody holds to the
/// officer and opens it, the cursor in its first reason.
pub(crate) async fn take_next(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    Path(list): Path<String>,
    Form(f): Form<TakeForm>,
) -> PageResult {
    if f.csrf != o.csrf {
        return Ok(forbidden(&state, "bad_form"));
    }
    if o.role == Role::Auditor {
        return Ok(forbidden(&state, "auditor_read_only"));
    }
    let Some(spec) = state.policy.list(&list) else {
        let m = &state.messages;
        return Ok(html_response(
            StatusCode::NOT_FOUND,
            page(&state, Some(&o), m.t("not_found"), html! { h1 { (m.t("not_found")) } }),
        ));
    };
    let entries = state.queue(spec, today())?.map(|(_, e)| e).unwrap_or_default();
    let held = state.store.assignments(&list)?;
    let open = entries.iter().filter(|e| {
        !held.contains_key(&e.listing.entity_id)
            && !matches!(e.state, QueueState::Decided { .. } | QueueState::AwaitingApproval { .. })
    });
    for e in open {
        let id = &e.listing.entity_id;
        // Another officer may take it between the read and the write: then the next one.
        if state.store.assign(&list, id, &o.id)?.officer == o.id {
            let to = format!("/entities/{id}?list={list}#decide");
            return Ok(with_detail(Redirect::to(&to).into_response(), format!("took {id} on {list}")));
        }
    }
    Ok(Redirect::to(&format!("/review/{list}?assigned=none")).into_response())
}
