//! What was decided and who downloaded what: the decision history with
//! filters (officer, list, kind, dates) and a CSV export, and the partner
//! API's access log for auditors and seniors.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Extension;
use maud::{html, Markup};

use crate::base::ids::AsOf;
use crate::base::store::{Action, Decision};
use crate::officer::accounts::Role;
use crate::serve::officer_ui::layout::{forbidden, html_response, page, with_detail, PageResult};
use crate::serve::officer_ui::{Officer, UiState};

/// Rows of the history shown at most (the CSV has them all).
const SHOWN: usize = 500;

#[derive(serde::Deserialize, Default)]
pub(crate) struct HistoryFilter {
    officer: Option<String>,
    list: Option<String>,
    action: Option<String>,
    from: Option<String>,
    to: Option<String>,
    format: Option<String>,
}

impl HistoryFilter {
    fn keeps(&self, d: &Decision) -> bool {
        let some = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        let day = d.day();
        some(&self.officer).is_none_or(|o| d.officer == o)
            && some(&self.list).is_none_or(|l| d.list_id == l)
            && some(&self.action).is_none_or(|a| Action::parse(&a) == Some(d.action))
            && some(&self.from).and_then(|f| f.parse::<AsOf>().ok()).is_none_or(|f| day.is_some_and(|x| x >= f))
            && some(&self.to).and_then(|t| t.parse::<AsOf>().ok()).is_none_or(|t| day.is_some_and(|x| x <= t))
    }
}

/// A CSV cell a spreadsheet will not run as a formula.
fn cell(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{v}") } else { v.to_string() };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

/// The decisions the filter keeps, newest first: a page (the first
/// [`SHOWN`]) or, with `format=csv`, every one as a CSV file.
pub(crate) async fn decision_history(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    Query(f): Query<HistoryFilter>,
) -> PageResult {
    let m = &state.messages;
    let all = state.store.decisions(state.store.last_decision_id()?, None, None)?;
    let mut rows: Vec<&Decision> = all.iter().filter(|d| f.keeps(d)).collect();
    rows.reverse();
    if f.format.as_deref() == Some("csv") {
        let r = (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"decisions.csv\""),
                (header::CACHE_CONTROL, "no-store"),
            ],
            decisions_csv(&rows),
        )
            .into_response();
        return Ok(with_detail(r, format!("exported {} decisions as CSV", rows.len())));
    }
    let mut officers: Vec<&str> = all.iter().map(|d| d.officer.as_str()).collect();
    officers.sort_unstable();
    officers.dedup();
    let query = serde_urlencoded::to_string([
        ("officer", f.officer.clone().unwrap_or_default()),
        ("list", f.list.clone().unwrap_or_default()),
        ("action", f.action.clone().unwrap_or_default()),
        ("from", f.from.clone().unwrap_or_default()),
        ("to", f.to.clone().unwrap_or_default()),
        ("format", "csv".into()),
    ])
    .unwrap_or_default();
    let body = html! {
        h1 { (m.t("history_title")) }
        (history_filter(&state, &f, &officers))
        p role="status" {
            (m.f("history_count", &[("count", &rows.len())]))
            " " a href=(format!("/history?{query}")) { (m.t("export_csv")) }
        }
        (history_table(&state, &rows))
    };
    Ok(html_response(StatusCode::OK, page(&state, Some(&o), m.t("history_title"), body)))
}

/// The decisions as CSV, every stored field but the documents, each cell
/// one a spreadsheet will not run as a formula.
fn decisions_csv(rows: &[&Decision]) -> String {
    let mut out = String::from(
        "decision_id,decided_at,action,list_id,entity_id,officer,reason,until,approves,deadline,received_on\r\n",
    );
    for d in rows {
        let opt = |v: Option<String>| v.unwrap_or_default();
        let fields = [
            d.id.to_string(),
            d.decided_at.clone(),
            d.action.as_str().to_string(),
            d.list_id.clone(),
            d.entity_id.clone(),
            d.officer.clone(),
            d.reason.clone(),
            opt(d.until.map(|x| x.to_string())),
            opt(d.approves.map(|x| x.to_string())),
            opt(d.deadline.map(|x| x.to_string())),
            opt(d.received_on.map(|x| x.to_string())),
        ];
        out.push_str(&fields.iter().map(|v| cell(v)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

/// The history's filter form, showing the filter `f` in force.
fn history_filter(state: &UiState, f: &HistoryFilter, officers: &[&str]) -> Markup {
    let m = &state.messages;
    html! {
        form method="get" action="/history" {
            fieldset {
                legend { (m.t("filter")) }
                label for="h-officer" { (m.t("officer")) }
                select id="h-officer" name="officer" {
                    option value="" { (m.t("any")) }
                    @for x in officers { option value=(x) selected[f.officer.as_deref() == Some(*x)] { (x) } }
                }
                label for="h-list" { (m.t("list")) }
                select id="h-list" name="list" {
                    option value="" { (m.t("any")) }
                    @for l in &state.policy.lists { option value=(l.id) selected[f.list.as_deref() == Some(l.id.as_str())] { (l.id) } }
                }
                label for="h-action" { (m.t("decision_action")) }
                select id="h-action" name="action" {
                    option value="" { (m.t("any")) }
                    @for a in Action::ALL { option value=(a.as_str()) selected[f.action.as_deref() == Some(a.as_str())] { (m.t(a.as_str())) } }
                }
                label for="h-from" { (m.t("history_from")) }
                input type="date" id="h-from" name="from" value=(f.from.clone().unwrap_or_default());
                label for="h-to" { (m.t("history_to")) }
                input type="date" id="h-to" name="to" value=(f.to.clone().unwrap_or_default());
                div { button type="submit" { (m.t("apply_filter")) } " " a href="/history" { (m.t("clear_filter")) } }
            }
        }
    }
}

/// The first [`SHOWN`] decisions of `rows` as a table.
fn history_table(state: &UiState, rows: &[&Decision]) -> Markup {
    let m = &state.messages;
    html! {
        table {
            thead { tr {
                th scope="col" { "#" } th scope="col" { (m.t("decided_at")) } th scope="col" { (m.t("decision_action")) }
                th scope="col" { (m.t("list")) } th scope="col" { (m.t("entity_id")) } th scope="col" { (m.t("officer")) }
                th scope="col" { (m.t("reason")) }
            } }
            tbody { @for d in rows.iter().take(SHOWN) { tr {
                td { (d.id) } td { (state.local_time(&d.decided_at)) } td { (m.t(d.action.as_str())) }
                td { (d.list_id) } td { a href=(format!("/entities/{}", d.entity_id)) { (d.entity_id) } } td { (d.officer) }
                td { (d.reason) }
            } } }
        }
    }
}

/// The partner API's requests, newest first: for auditors and seniors.
pub(crate) async fn access_log(State(state): State<Arc<UiState>>, Extension(o): Extension<Officer>) -> PageResult {
    if o.role == Role::Officer {
        return Ok(forbidden(&state, "forbidden"));
    }
    let m = &state.messages;
    let rows = state.store.partner_access(SHOWN)?;
    let body = html! {
        h1 { (m.t("access_title")) }
        p { (m.f("access_count", &[("count", &rows.len())])) }
        table {
            thead { tr {
                th scope="col" { (m.t("access_time")) } th scope="col" { (m.t("access_partner")) } th scope="col" { (m.t("access_request")) }
                th scope="col" { (m.t("access_status")) } th scope="col" { (m.t("access_bytes")) } th scope="col" { (m.t("decision_details")) }
            } }
            tbody { @for r in &rows { tr {
                td { (state.local_time(&r.at)) } td { (r.actor.clone().unwrap_or_else(|| "—".into())) }
                td { (r.method) " " (r.path) } td { (r.status) } td { (r.bytes) } td { (r.detail.clone().unwrap_or_default()) }
            } } }
        }
    };
    Ok(html_response(StatusCode::OK, page(&state, Some(&o), m.t("access_title"), body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decided_at(at: &str) -> Decision {
        Decision {
            id: 1,
            list_id: "l".into(),
            entity_id: "e".into(),
            action: Action::Reject,
            officer: "olga".into(),
            reason: "the case file was read in full".into(),
            until: None,
            basis: None,
            rules: None,
            decided_at: at.into(),
            approves: None,
            deadline: None,
            document: None,
            document_sha256: None,
            received_on: None,
        }
    }

    /// `from` and `to` are days, both kept: a decision made on either day is in.
    #[test]
    fn the_history_filter_keeps_both_of_its_days() {
        let between = |from: &str, to: &str| HistoryFilter {
            from: Some(from.into()),
            to: Some(to.into()),
            ..HistoryFilter::default()
        };
        let d = decided_at("2026-11-27T09:15:00+08:00");
        assert!(between("2026-11-27", "2026-11-27").keeps(&d));
        assert!(!between("2026-11-28", "2026-11-30").keeps(&d));
        assert!(!between("2026-11-20", "2026-11-26").keeps(&d));
    }

    /// Each character a spreadsheet starts a formula with is defused by a
    /// quote; a cell with a comma, quote or line break is quoted.
    #[test]
    fn a_csv_cell_a_spreadsheet_would_run_is_defused() {
        for c in ['=', '+', '-', '@', '\t', '\r'] {
            let v = format!("{c}SUM(A1)");
            assert!(cell(&v).trim_start_matches('"').starts_with('\''), "{v:?} gave {:?}", cell(&v));
        }
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a, \"b\""), "\"a, \"\"b\"\"\"");
    }
}
