//! Exemptions in force, with the form to revoke one.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Extension;
use maud::html;

use crate::base::ids::AsOf;
use crate::base::store::Action;
use crate::officer::accounts::Role;
use crate::serve::officer_ui::layout::{html_response, page, PageResult};
use crate::serve::officer_ui::pages::entity::decision_form;
use crate::serve::officer_ui::{Officer, UiState};
use crate::stages::review::DecisionBook;

pub(crate) async fn exemptions(State(state): State<Arc<UiState>>, Extension(o): Extension<Officer>) -> PageResult {
    let m = &state.messages;
    let decisions = state.store.decisions(state.store.last_decision_id()?, None, None)?;
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
    Ok(html_response(StatusCode::OK, page(&state, Some(&o), m.t("exemptions_title"), body)))
}
