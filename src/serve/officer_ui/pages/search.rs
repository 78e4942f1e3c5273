//! Search by entity id or name, with a region prefix.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Extension;
use maud::html;

use crate::base::marts::mart_error;
use crate::base::marts::registry;
use crate::base::warehouse::Mart;
use crate::serve::officer_ui::layout::{html_response, page, PageResult};
use crate::serve::officer_ui::{Officer, UiState};

#[derive(serde::Deserialize, Default)]
pub(crate) struct SearchQuery {
    q: Option<String>,
    region: Option<String>,
}

pub(crate) async fn search(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    Query(q): Query<SearchQuery>,
) -> PageResult {
    let m = &state.messages;
    let query = q.q.clone().unwrap_or_default();
    let region = q.region.clone().unwrap_or_default();
    let results = if query.trim().is_empty() && region.trim().is_empty() {
        None
    } else {
        let newest = state.warehouse.mart_dates(Mart::Registry).pop();
        Some(match newest {
            Some(d) => registry::search(&state.warehouse, d, query.trim(), region.trim(), 50)
                .map_err(mart_error("the registry mart"))?,
            None => vec![],
        })
    };
    let body = html! {
        h1 { (m.t("search_title")) }
        form method="get" action="/search" role="search" {
            label for="q" { (m.t("search_query")) }
            input type="search" id="q" name="q" value=(query);
            label for="region" { (m.t("region")) }
            input type="text" id="region" name="region" value=(region) inputmode="numeric";
            div { button class="primary" type="submit" { (m.t("search_button")) } }
        }
        @if let Some(rs) = &results {
            @if rs.is_empty() { p { (m.t("no_results")) } } @else {
                p { (m.f("results", &[("count", &rs.len())])) }
                table {
                    thead { tr {
                        th scope="col" { (m.t("entity_id")) } th scope="col" { (m.t("name")) } th scope="col" { (m.t("region")) }
                        th scope="col" { (m.t("entity_type")) } th scope="col" { (m.t("status")) }
                    } }
                    tbody { @for f in rs { tr {
                        td { a href=(format!("/entities/{}", f.entity_id)) { (f.entity_id) } } td { (f.name) } td { (f.region) }
                        td { (f.entity_type) } td { (f.status) }
                    } } }
                }
            }
        }
    };
    Ok(html_response(StatusCode::OK, page(&state, Some(&o), m.t("search_title"), body)))
}
