//! Search by entity id (prefix) or name (anywhere in it), with a region
//! prefix: the first 50 with their grade and lists, and how many match.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Extension;
use maud::html;

use std::collections::{BTreeSet, HashMap};

use crate::base::marts::mart_error;
use crate::base::marts::registry::RegistryFacts;
use crate::base::marts::{listings, registry, scores};
use crate::base::warehouse::Mart;
use crate::officer::search::Search;
use crate::serve::officer_ui::layout::{entity_name, html_response, page, PageResult};
use crate::serve::officer_ui::{Officer, UiState};

/// Results shown at most; the page says how many matched in all.
const SHOWN: usize = 50;

#[derive(serde::Deserialize, Default)]
pub(crate) struct SearchQuery {
    q: Option<String>,
    region: Option<String>,
    /// Only entities with this grade in the newest scores.
    grade: Option<String>,
}

pub(crate) async fn search(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    Query(q): Query<SearchQuery>,
) -> PageResult {
    let m = &state.messages;
    let query = q.q.clone().unwrap_or_default();
    let region = q.region.clone().unwrap_or_default();
    let grade = q.grade.clone().filter(|g| state.policy.grades.iter().any(|x| &x.grade == g));
    let asked = !(query.trim().is_empty() && region.trim().is_empty() && grade.is_none());
    let index = if asked { state.search_index()? } else { None };
    let results = match index {
        Some(ix) => {
            let d = ix.at;
            let (shown, total) = ix.find(&Search { query: &query, region: &region, grade: grade.as_deref() }, SHOWN);
            let ids: BTreeSet<String> = shown.into_iter().collect();
            let mut found: Vec<RegistryFacts> = registry::facts(&state.warehouse, d, &ids)
                .map_err(mart_error("the registry mart"))?
                .into_values()
                .collect();
            found.sort_by(|a, b| a.entity_id.cmp(&b.entity_id));
            let grades: HashMap<String, String> =
                match state.warehouse.mart(Mart::Scores, d).join("part-0.parquet").exists() {
                    true => scores::read(&state.warehouse, d, &ids)
                        .map_err(mart_error("the scores mart"))?
                        .into_iter()
                        .map(|(e, s)| (e, s.grade))
                        .collect(),
                    false => HashMap::new(),
                };
            let mut lists: HashMap<String, Vec<String>> = HashMap::new();
            for l in &state.policy.lists {
                if let Some(at) = state.warehouse.list_mart_dates(Mart::Listings, &l.id).pop() {
                    let rows = listings::read_listings_of(&state.warehouse.list_mart(Mart::Listings, &l.id, at), &ids)
                        .map_err(mart_error("the listings mart"))?;
                    for r in rows {
                        lists.entry(r.entity_id).or_default().push(format!("{} ({})", l.id, r.review_status.as_str()));
                    }
                }
            }
            Some((found, total, grades, lists))
        }
        None if asked => Some((vec![], 0, HashMap::new(), HashMap::new())),
        None => None,
    };
    let body = html! {
        h1 { (m.t("search_title")) }
        form method="get" action="/search" role="search" {
            label for="q" { (m.t("search_query")) }
            input type="search" id="q" name="q" value=(query);
            label for="region" { (m.t("region")) }
            input type="text" id="region" name="region" value=(region) inputmode="numeric";
            label for="grade" { (m.t("grade")) }
            select id="grade" name="grade" {
                option value="" { (m.t("any")) }
                @for g in &state.policy.grades { option value=(g.grade) selected[grade.as_deref() == Some(g.grade.as_str())] { (g.grade) } }
            }
            div { button class="primary" type="submit" { (m.t("search_button")) } }
        }
        @if let Some((rs, total, grades, lists)) = &results {
            @if rs.is_empty() { p role="status" { (m.t("no_results")) } } @else {
                p role="status" {
                    @if *total > rs.len() { (m.f("results_first", &[("shown", &rs.len()), ("count", total)])) }
                    @else { (m.f("results", &[("count", total)])) }
                }
                table {
                    thead { tr {
                        th scope="col" { (m.t("entity_id")) } th scope="col" { (m.t("name")) } th scope="col" { (m.t("region")) }
                        th scope="col" { (m.t("entity_type")) } th scope="col" { (m.t("status")) } th scope="col" { (m.t("grade")) }
                        th scope="col" { (m.t("memberships")) }
                    } }
                    tbody { @for f in rs { tr {
                        td { a href=(format!("/entities/{}", f.entity_id)) { (f.entity_id) } } td { (entity_name(&f.name)) } td { (f.region) }
                        td { (f.entity_type) } td { (f.status) }
                        td { (grades.get(&f.entity_id).map(String::as_str).unwrap_or("")) }
                        td { (lists.get(&f.entity_id).map(|l| l.join(", ")).unwrap_or_default()) }
                    } } }
                }
            }
        }
    };
    Ok(html_response(StatusCode::OK, page(&state, Some(&o), m.t("search_title"), body)))
}
