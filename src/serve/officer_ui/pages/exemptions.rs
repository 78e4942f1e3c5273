//! Exemptions in force and proposed, with days left, who decided and who
//! approved; a senior revokes one from here.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Extension;
use maud::html;

use crate::base::store::{Action, Decision};
use crate::officer::accounts::Role;
use crate::serve::officer_ui::layout::{html_response, page, PageResult};
use crate::serve::officer_ui::today;
use crate::serve::officer_ui::{Officer, UiState};
use crate::stages::review::DecisionBook;

/// One exemption as the page shows it.
struct Row<'a> {
    list: &'a str,
    exempt: &'a Decision,
    approved_by: Option<&'a Decision>,
    in_force: bool,
}

pub(crate) async fn exemptions(State(state): State<Arc<UiState>>, Extension(o): Extension<Officer>) -> PageResult {
    let m = &state.messages;
    let decisions = state.store.decisions(state.store.last_decision_id()?, None, None)?;
    let book = DecisionBook::new(decisions.clone());
    let today = today();
    let mut rows: Vec<Row> = Vec::new();
    for l in &state.policy.lists {
        let mut entities: Vec<&str> = decisions
            .iter()
            .filter(|d| d.list_id == l.id && d.action == Action::Exempt)
            .map(|d| d.entity_id.as_str())
            .collect();
        entities.sort_unstable();
        entities.dedup();
        for e in entities {
            let (exempt, in_force) = match (book.exemption(l, e, today), book.exemption_awaiting(l, e)) {
                (Some(d), _) => (d, true),
                (None, Some(d)) => (d, false),
                (None, None) => continue,
            };
            let approved_by = book
                .exemption_decisions(&l.id, e)
                .iter()
                .find(|d| d.action == Action::Approve && d.approves == Some(exempt.id));
            rows.push(Row { list: &l.id, exempt, approved_by, in_force });
        }
    }
    let body = html! {
        h1 { (m.t("exemptions_title")) }
        @if rows.is_empty() { p { (m.t("no_exemptions")) } }
        @for l in &state.policy.lists {
            @let in_list: Vec<&Row> = rows.iter().filter(|r| r.list == l.id).collect();
            @if !in_list.is_empty() {
                h2 { (l.id) }
                table {
                    thead { tr {
                        th scope="col" { (m.t("entity_id")) } th scope="col" { (m.t("until")) } th scope="col" { (m.t("days_left")) }
                        th scope="col" { (m.t("officer")) } th scope="col" { (m.t("approved_by")) } th scope="col" { (m.t("reason")) }
                    } }
                    tbody { @for r in in_list {
                        @let d = r.exempt;
                        tr {
                            td { a href=(format!("/entities/{}", d.entity_id)) { (d.entity_id) } }
                            td { (d.until.map(|u| u.to_string()).unwrap_or_default()) }
                            td { (d.until.map(|u| (u.date() - today.date()).num_days().to_string()).unwrap_or_default()) }
                            td { (d.officer) " (#" (d.id) ")" }
                            td {
                                @match (r.approved_by, r.in_force) {
                                    (Some(a), _) => { (a.officer) " (#" (a.id) ")" }
                                    (None, true) => { (m.t("approval_not_needed")) }
                                    (None, false) => { strong { (m.t("state_awaiting_approval")) } }
                                }
                            }
                            td { (d.reason) }
                        }
                    } }
                }
            }
        }
        @if o.role == Role::Senior { p class="muted" { (m.t("revoke_from_entity_page")) } }
    };
    Ok(html_response(StatusCode::OK, page(&state, Some(&o), m.t("exemptions_title"), body)))
}
