//! The dashboard: the latest run, grades, list sizes, pending reviews,
//! rejected rows, recent runs.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Extension;
use maud::{html, Markup};

use crate::base::store::{RunRow, StepRow};
use crate::officer::queue::{self};
use crate::run::{ListSummary, RunSummary};
use crate::serve::officer_ui::layout::{html_response, page, PageError, PageResult};
use crate::serve::officer_ui::svg::BarColumn;
use crate::serve::officer_ui::{Messages, Officer, UiState};

pub(crate) async fn dashboard(State(state): State<Arc<UiState>>, Extension(o): Extension<Officer>) -> PageResult {
    let m = &state.messages;
    let runs = state.store.runs(10)?;
    let latest = runs.first();
    let steps = match latest {
        Some(r) => state.store.steps(crate::base::store::RunId(r.run_id))?,
        None => vec![],
    };
    let summary = match runs.iter().find(|r| r.outcome == "succeeded").and_then(|r| r.summary.as_deref()) {
        Some(text) => {
            RunSummary::from_json(text).map_err(|e| PageError::bug(format!("the ledger's run summary: {e}")))?
        }
        None => RunSummary::default(),
    };
    let by_grade = &summary.scores.by_grade;
    let lists = &summary.lists;
    let rejected = &summary.rejected_by_code;
    let Queues { pending, mine } = Queues::of(&state, &o)?;
    let (grades_over_runs, sizes) = over_runs(&state)?;
    let review_age = review_ages(&state)?;
    let dry_run = crate::run::dry_run::latest(&state.warehouse);
    let body = html! {
        h1 { (m.t("dashboard_title")) }
        @if let Some(id) = &dry_run {
            p { a href=(format!("/dry-runs/{id}")) { (m.f("dry_run_latest", &[("id", id)])) } }
        }
        (my_work(m, &mine))
        (latest_run_section(&state, latest, &steps))
        (grades_section(m, by_grade, &grades_over_runs))
        (list_sizes_section(m, lists, &sizes))
        (pending_reviews_section(m, &pending, &review_age))
        h2 { (m.t("rejected_input_rows")) }
        table {
            thead { tr { th scope="col" { (m.t("code")) } th scope="col" { (m.t("rows")) } } }
            tbody { @for (code, n) in rejected { tr { td { (code) } td { (n) } } } }
        }
        (recent_runs(&state, &runs))
    };
    Ok(html_response(StatusCode::OK, page(&state, Some(&o), m.t("dashboard_title"), body)))
}

/// Each list's queue, read once: the officer's own work, then what waits
/// and for how long.
struct Queues {
    /// Each list's members in review and the days the oldest has waited.
    pending: Vec<(String, usize, i64)>,
    /// Each list's items awaiting this officer's approval, ready to
    /// decide, and pending.
    mine: Vec<(String, usize, usize, usize)>,
}

impl Queues {
    fn of(state: &UiState, o: &Officer) -> Result<Queues, PageError> {
        let today = crate::serve::officer_ui::today();
        let mut pending: Vec<(String, usize, i64)> = Vec::new();
        let mut mine: Vec<(String, usize, usize, usize)> = Vec::new();
        for l in &state.policy.lists {
            let Some((at, entries)) = state.queue(l, today)? else {
                pending.push((l.id.clone(), 0, 0));
                continue;
            };
            let oldest = entries.iter().map(|e| (at.date() - e.in_review_since.date()).num_days()).max().unwrap_or(0);
            pending.push((l.id.clone(), entries.len(), oldest));
            let approve = entries
                .iter()
                .filter(|e| {
                    o.role == crate::officer::accounts::Role::Senior
                        && matches!(&e.state, queue::QueueState::AwaitingApproval { proposer, .. } if *proposer != o.id)
                })
                .count();
            let ready = entries
                .iter()
                .filter(|e| matches!(e.state, queue::QueueState::ReadyToDecide | queue::QueueState::Objected))
                .count();
            let waiting = entries.iter().filter(|e| matches!(e.state, queue::QueueState::Pending)).count();
            mine.push((l.id.clone(), approve, ready, waiting));
        }
        Ok(Queues { pending, mine })
    }
}

/// Over the past successful runs, oldest first: the entities by grade,
/// and each list's published members.
#[allow(clippy::type_complexity)]
fn over_runs(
    state: &UiState,
) -> Result<(Vec<(String, Vec<(String, u64)>)>, Vec<(String, Vec<(String, f64)>)>), PageError> {
    let history = state.store.runs(30)?;
    let grades_over_runs: Vec<(String, Vec<(String, u64)>)> = history
        .iter()
        .rev()
        .filter(|r| r.outcome == "succeeded")
        .filter_map(|r| {
            let summary = RunSummary::from_json(r.summary.as_deref()?).ok()?;
            Some((r.as_of.clone(), summary.scores.by_grade.iter().map(|(g, n)| (g.clone(), *n)).collect()))
        })
        .collect();
    let mut sizes: Vec<(String, Vec<(String, f64)>)> =
        state.policy.lists.iter().map(|l| (l.id.clone(), Vec::new())).collect();
    for r in history.iter().rev().filter(|r| r.outcome == "succeeded") {
        let Some(summary) = r.summary.as_deref().and_then(|t| RunSummary::from_json(t).ok()) else { continue };
        for (list, points) in sizes.iter_mut() {
            if let Some(l) = summary.lists.iter().find(|x| &x.list_id == list) {
                points.push((r.as_of.clone(), l.published as f64));
            }
        }
    }
    Ok((grades_over_runs, sizes))
}

/// Each list's members in review by how long they had waited, over the
/// past runs.
fn review_ages(state: &UiState) -> Result<Vec<(String, Vec<BarColumn>)>, PageError> {
    let m = &state.messages;
    let buckets = [m.t("age_under_3"), m.t("age_3_to_9"), m.t("age_10_plus")];
    let mut review_age: Vec<(String, Vec<BarColumn>)> = Vec::new();
    for l in &state.policy.lists {
        let runs = queue::review_age_over_runs(&state.warehouse, &l.id, 10)?;
        let columns = runs
            .into_iter()
            .map(|(at, counts)| (at.to_string(), buckets.iter().zip(counts).map(|(b, n)| (b.to_string(), n)).collect()))
            .collect();
        review_age.push((l.id.clone(), columns));
    }
    Ok(review_age)
}

/// The latest run, whatever its outcome, and its steps.
fn latest_run_section(state: &UiState, latest: Option<&RunRow>, steps: &[StepRow]) -> Markup {
    let m = &state.messages;
    html! {
        h2 { (m.t("latest_run")) }
        @match latest {
            None => p { (m.t("no_runs")) },
            Some(r) => {
                table {
                    tr { th scope="row" { (m.t("run_id")) } td { (r.run_id) } }
                    tr { th scope="row" { (m.t("as_of")) } td { (r.as_of) } }
                    tr { th scope="row" { (m.t("outcome")) } td { (r.outcome) @if let Some(e) = &r.error { " — " (e) } } }
                    tr { th scope="row" { (m.t("trigger")) } td { (r.trigger) } }
                    tr { th scope="row" { (m.t("started")) } td { (state.local_time(&r.started_at)) } }
                    tr { th scope="row" { (m.t("finished")) } td { (r.finished_at.as_deref().map(|t| state.local_time(t)).unwrap_or_default()) } }
                }
                table {
                    thead { tr { th scope="col" { (m.t("step")) } th scope="col" { (m.t("duration_s")) } th scope="col" { (m.t("rows")) } } }
                    tbody { @for s in steps { tr { td { (s.step) } td { (format!("{:.2}", s.duration_ms as f64 / 1000.0)) } td { (s.rows.unwrap_or(0)) } } } }
                }
            }
        }
    }
}

/// The officer's own work on each list: awaiting their approval, ready to
/// decide, pending.
fn my_work(m: &Messages, mine: &[(String, usize, usize, usize)]) -> Markup {
    html! {
    h2 { (m.t("my_work")) }
    table {
        thead { tr {
            th scope="col" { (m.t("list")) } th scope="col" { (m.t("filter_mine")) }
            th scope="col" { (m.t("my_ready")) } th scope="col" { (m.t("filter_pending")) }
        } }
        tbody { @for (l, approve, ready, waiting) in mine { tr {
            td { a href=(format!("/review/{l}")) { (l) } }
            td { a href=(format!("/review/{l}?state=mine")) { (approve) } }
            td { a href=(format!("/review/{l}?state=ready")) { (ready) } }
            td { a href=(format!("/review/{l}?state=pending")) { (waiting) } }
        } } }
    }
    }
}

/// The latest successful run's entities by grade, and the grades over the
/// recent runs.
fn grades_section(
    m: &Messages,
    by_grade: &[(String, u64)],
    grades_over_runs: &[(String, Vec<(String, u64)>)],
) -> Markup {
    html! {
    h2 { (m.t("entities_by_grade")) }
    table {
        thead { tr { th scope="col" { (m.t("grade")) } th scope="col" { (m.t("entities")) } } }
        tbody { @for (g, n) in by_grade { tr { td { (g) } td { a href=(format!("/search?{}", serde_urlencoded::to_string([("grade", g)]).unwrap_or_default())) { (n) } } } } }
    }
    @if grades_over_runs.len() > 1 {
        h3 { (m.t("grades_over_runs")) }
        (crate::serve::officer_ui::svg::stacked_bars(grades_over_runs, m.t("grades_over_runs")))
    }
    }
}

/// Each list's members by basis and status, and its published members over
/// the recent runs.
fn list_sizes_section(m: &Messages, lists: &[ListSummary], sizes: &[(String, Vec<(String, f64)>)]) -> Markup {
    html! {
    h2 { (m.t("list_sizes")) }
    table {
        thead { tr {
            th scope="col" { (m.t("list")) } th scope="col" { (m.t("members")) } th scope="col" { (m.t("joint")) }
            th scope="col" { (m.t("published")) } th scope="col" { (m.t("pending")) } th scope="col" { (m.t("rejected")) }
        } }
        tbody { @for l in lists { tr {
            td { (l.list_id) } td { (l.members) } td { (l.joint) }
            td { (l.published) } td { (l.pending) } td { (l.rejected) }
        } } }
    }
    @for (list, points) in sizes {
        @if points.len() > 1 {
            @let top = points.iter().map(|p| p.1).fold(1.0, f64::max);
            h3 { (m.f("published_over_runs", &[("list", list)])) }
            (crate::serve::officer_ui::svg::score_chart(points, top, &m.f("published_over_runs", &[("list", list)])))
        }
    }
    }
}

/// Each list's pending reviews and how long the oldest has waited, and the
/// reviews' ages over the recent runs.
fn pending_reviews_section(
    m: &Messages,
    pending: &[(String, usize, i64)],
    review_age: &[(String, Vec<BarColumn>)],
) -> Markup {
    html! {
    h2 { (m.t("pending_reviews")) }
    table {
        thead { tr { th scope="col" { (m.t("list")) } th scope="col" { (m.t("pending")) } th scope="col" { (m.t("oldest_pending_days")) } } }
        tbody { @for (l, n, age) in pending { tr { td { a href=(format!("/review/{l}")) { (l) } } td { (n) } td { (age) } } } }
    }
    @for (list, columns) in review_age {
        @if columns.len() > 1 {
            h3 { (m.f("review_age_over_runs", &[("list", list)])) }
            (crate::serve::officer_ui::svg::stacked_bars(columns, &m.f("review_age_over_runs", &[("list", list)])))
        }
    }
    }
}

/// The recent runs, newest first.
fn recent_runs(state: &UiState, runs: &[RunRow]) -> Markup {
    let m = &state.messages;
    html! {
    h2 { (m.t("recent_runs")) }
    table {
        thead { tr {
            th scope="col" { (m.t("run_id")) } th scope="col" { (m.t("as_of")) } th scope="col" { (m.t("outcome")) }
            th scope="col" { (m.t("trigger")) } th scope="col" { (m.t("started")) }
        } }
        tbody { @for r in runs { tr { td { (r.run_id) } td { (r.as_of) } td { (r.outcome) } td { (r.trigger) } td { (state.local_time(&r.started_at)) } } } }
    }
    }
}
