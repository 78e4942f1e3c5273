//! Policy impact reports and dry runs: the list of impact reports for
//! seniors and auditors, one report (its summary, then its self-contained
//! page in a frame, with its own strict policy), its changed entities as
//! CSV, and a dry run's figures. The files are read as credence wrote them
//! but checked like anything on disk: a safe id, a regular file, JSON that
//! parses.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use maud::html;

use crate::officer::accounts::Role;
use crate::run::dry_run::{self, DryRunReport};
use crate::run::impact::{self, report::is_id, ImpactReport};
use crate::serve::officer_ui::layout::{forbidden, html_response, page, PageError, PageResult};
use crate::serve::officer_ui::{Officer, UiState};

/// The policy of a report's page: inline styles (the page is one file),
/// nothing else, framed only by the officer pages.
const REPORT_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'";

/// The officer pages' policy, letting this page frame the report.
const FRAMING_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A file of a report folder, if `id` is a report id and the file a regular one (no link).
fn report_file(root: PathBuf, id: &str, name: &str) -> Option<PathBuf> {
    if !is_id(id) {
        return None;
    }
    let path = root.join(id).join(name);
    let meta = std::fs::symlink_metadata(&path).ok()?;
    meta.file_type().is_file().then_some(path)
}

fn impact_root(state: &UiState) -> PathBuf {
    state.warehouse.root().join("reports/impact")
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, PageError> {
    std::fs::read(path).map_err(|e| PageError::from(std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))))
}

fn not_found(state: &UiState) -> Response {
    let m = &state.messages;
    (StatusCode::NOT_FOUND, m.t("impact_not_found").to_string()).into_response()
}

/// The impact reports, newest first, and the dry runs: seniors and auditors.
pub(crate) async fn impact_reports(State(state): State<Arc<UiState>>, Extension(o): Extension<Officer>) -> PageResult {
    if o.role == Role::Officer {
        return Ok(forbidden(&state, "forbidden"));
    }
    let m = &state.messages;
    let mut rows = Vec::new();
    for id in impact::reports(&state.warehouse).into_iter().take(100) {
        let Some(path) = report_file(impact_root(&state), &id, "report.json") else { continue };
        let r: ImpactReport = serde_json::from_slice(&read(&path)?)
            .map_err(|e| PageError::bug(format!("{}: not an impact report: {e}", path.display())))?;
        rows.push(r);
    }
    let body = html! {
        h1 { (m.t("impact_title")) }
        p { (m.t("impact_intro")) }
        @if let Some(id) = dry_run::latest(&state.warehouse) {
            p { a href=(format!("/dry-runs/{id}")) { (m.f("dry_run_latest", &[("id", &id)])) } }
        }
        @if rows.is_empty() {
            p { (m.t("impact_none")) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (m.t("impact_report")) } th scope="col" { (m.t("as_of")) }
                    th scope="col" { (m.t("impact_baseline")) } th scope="col" { (m.t("impact_policy")) }
                    th scope="col" { (m.t("impact_grade_changed")) }
                } }
                tbody { @for r in &rows { tr {
                    td { a href=(format!("/impact/{}", r.id)) { (r.id) } }
                    td { (r.as_of) }
                    td { (r.baseline.id) " " (r.baseline.version) }
                    td { (r.policy.id) " " (r.policy.version) }
                    td { (r.grade_changed) " / " (r.entities) }
                } } }
            }
        }
    };
    Ok(html_response(StatusCode::OK, page(&state, Some(&o), m.t("impact_title"), body)))
}

/// One impact report: its summary and its page, framed.
pub(crate) async fn impact_report(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    Path(id): Path<String>,
) -> PageResult {
    if o.role == Role::Officer {
        return Ok(forbidden(&state, "forbidden"));
    }
    let Some(path) = report_file(impact_root(&state), &id, "report.json") else { return Ok(not_found(&state)) };
    let r: ImpactReport = serde_json::from_slice(&read(&path)?)
        .map_err(|e| PageError::bug(format!("{}: not an impact report: {e}", path.display())))?;
    let m = &state.messages;
    let body = html! {
        h1 { (m.t("impact_title")) " " (r.id) }
        p lang="zh-CN" { (r.summary_zh) }
        p lang="en" { (r.summary_en) }
        p {
            a href=(format!("/impact/{id}/changed.csv")) download { (m.t("impact_changed_csv")) }
            " · "
            a href=(format!("/impact/{id}/report.html")) { (m.t("impact_open_alone")) }
        }
        iframe class="report" src=(format!("/impact/{id}/report.html")) title=(m.t("impact_title")) {}
    };
    let mut resp = html_response(StatusCode::OK, page(&state, Some(&o), m.t("impact_title"), body));
    resp.headers_mut().insert(header::CONTENT_SECURITY_POLICY, header::HeaderValue::from_static(FRAMING_CSP));
    Ok(resp)
}

/// A report's own page or its changed entities, as written.
pub(crate) async fn impact_file(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    Path((id, file)): Path<(String, String)>,
) -> PageResult {
    if o.role == Role::Officer {
        return Ok(forbidden(&state, "forbidden"));
    }
    let kind = match file.as_str() {
        "report.html" => "text/html; charset=utf-8",
        "changed.csv" => "text/csv; charset=utf-8",
        _ => return Ok(not_found(&state)),
    };
    let Some(path) = report_file(impact_root(&state), &id, &file) else { return Ok(not_found(&state)) };
    let bytes = read(&path)?;
    let mut resp =
        (StatusCode::OK, [(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "no-store")], bytes).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, header::HeaderValue::from_static(REPORT_CSP));
    h.insert(header::X_FRAME_OPTIONS, header::HeaderValue::from_static("SAMEORIGIN"));
    if file == "changed.csv" {
        let name = format!("attachment; filename=\"impact-{id}-changed.csv\"");
        h.insert(header::CONTENT_DISPOSITION, header::HeaderValue::from_str(&name).expect("a report id is ASCII"));
    }
    Ok(resp)
}

/// A dry run's figures: what each list's publication would be.
pub(crate) async fn dry_run_page(
    State(state): State<Arc<UiState>>,
    Extension(o): Extension<Officer>,
    Path(id): Path<String>,
) -> PageResult {
    let Some(path) = report_file(dry_run::dry_runs(&state.warehouse), &id, "summary.json") else {
        return Ok(not_found(&state));
    };
    let r: DryRunReport = serde_json::from_slice(&read(&path)?)
        .map_err(|e| PageError::bug(format!("{}: not a dry-run record: {e}", path.display())))?;
    let m = &state.messages;
    let body = html! {
        h1 { (m.t("dry_run_title")) " " (r.as_of) }
        p { (m.f("dry_run_intro", &[("id", &r.id), ("policy", &format!("{} {}", r.policy.id, r.policy.version))])) }
        @if let Some(why) = &r.would_fail {
            p class="banner" { (m.t("dry_run_would_fail")) " " (why) }
        }
        table {
            thead { tr {
                th scope="col" { (m.t("list")) } th scope="col" { (m.t("dry_run_outcome")) } th scope="col" { (m.t("dry_run_entries")) }
                th scope="col" { (m.t("dry_run_added")) } th scope="col" { (m.t("dry_run_removed")) } th scope="col" { (m.t("dry_run_changed")) }
                th scope="col" { (m.t("dry_run_awaiting")) }
            } }
            tbody { @for l in &r.lists { tr {
                td { (l.list) } td { (l.outcome) } td { (l.entries) } td { (l.added) }
                td { (l.removed) @for (why, n) in &l.removed_by_reason { br; small { (why) " " (n) } } }
                td { (l.changed) } td { (l.awaiting_review) }
            } } }
        }
        table {
            thead { tr { th scope="col" { (m.t("dry_run_dataset")) } th scope="col" { (m.t("dry_run_rows_read")) } th scope="col" { (m.t("rejected")) } } }
            tbody { @for d in &r.datasets { tr { td { (d.dataset) } td { (d.rows_read) } td { (d.rows_rejected) } } } }
        }
    };
    Ok(html_response(StatusCode::OK, page(&state, Some(&o), m.t("dry_run_title"), body)))
}
