//! Prometheus metrics of the scheduler daemon (served on `/metrics`): runs
//! by outcome, step durations, rows by dataset, rejected rows by code,
//! list sizes, and the time of the last success.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::run::RunReport;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    job: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    job: String,
    step: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DatasetLabels {
    job: String,
    dataset: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectLabels {
    job: String,
    dataset: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListLabels {
    job: String,
    list: String,
    status: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// The daemon's metrics.
pub struct Metrics {
    registry: Registry,
    runs: Family<OutcomeLabels, Counter>,
    retries: Family<JobLabels, Counter>,
    step_seconds: Family<StepLabels, Histogram, fn() -> Histogram>,
    rows_read: Family<DatasetLabels, Gauge>,
    rows_rejected: Family<RejectLabels, Gauge>,
    list_members: Family<ListLabels, Gauge>,
    last_success: Family<JobLabels, FloatGauge>,
    running: Family<JobLabels, Gauge>,
}

fn step_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.05, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("credence");
        let m = Metrics {
            runs: Family::default(),
            retries: Family::default(),
            step_seconds: Family::new_with_constructor(step_histogram as fn() -> Histogram),
            rows_read: Family::default(),
            rows_rejected: Family::default(),
            list_members: Family::default(),
            last_success: Family::default(),
            running: Family::default(),
            registry: Registry::default(),
        };
        registry.register("runs", "Runs by outcome", m.runs.clone());
        registry.register("run_retries", "Retries of runs that failed with a retryable error", m.retries.clone());
        registry.register("step_duration_seconds", "Duration of each step of a run", m.step_seconds.clone());
        registry.register("rows_read", "Rows read per dataset by the last successful run", m.rows_read.clone());
        registry.register(
            "rows_rejected",
            "Rejected rows per dataset and code in the last successful run",
            m.rows_rejected.clone(),
        );
        registry.register(
            "list_members",
            "Members of each list by review status after the last successful run",
            m.list_members.clone(),
        );
        registry.register(
            "last_success_timestamp_seconds",
            "Unix time the last successful run of the job finished",
            m.last_success.clone(),
        );
        registry.register("run_in_progress", "1 while a run of the job is under way", m.running.clone());
        Metrics { registry, ..m }
    }

    pub fn started(&self, job: &str) {
        self.running.get_or_create(&JobLabels { job: job.into() }).set(1);
    }

    pub fn retried(&self, job: &str) {
        self.retries.get_or_create(&JobLabels { job: job.into() }).inc();
    }

    pub fn failed(&self, job: &str) {
        self.running.get_or_create(&JobLabels { job: job.into() }).set(0);
        self.runs.get_or_create(&OutcomeLabels { job: job.into(), outcome: "failed".into() }).inc();
    }

    pub fn succeeded(&self, job: &str, report: &RunReport) {
        let j = || job.to_string();
        self.running.get_or_create(&JobLabels { job: j() }).set(0);
        self.runs.get_or_create(&OutcomeLabels { job: j(), outcome: "succeeded".into() }).inc();
        for s in &report.steps {
            self.step_seconds
                .get_or_create(&StepLabels { job: j(), step: s.step.clone() })
                .observe(s.duration.as_secs_f64());
        }
        for d in &report.quality.datasets {
            self.rows_read
                .get_or_create(&DatasetLabels { job: j(), dataset: d.dataset.clone() })
                .set(d.rows_read as i64);
            for (code, n) in &d.rejected_by_code {
                self.rows_rejected
                    .get_or_create(&RejectLabels { job: j(), dataset: d.dataset.clone(), code: code.clone() })
                    .set(*n as i64);
            }
        }
        for l in &report.lists {
            for (status, n) in [("published", l.published), ("pending", l.pending), ("rejected", l.rejected)] {
                self.list_members
                    .get_or_create(&ListLabels { job: j(), list: l.list_id.clone(), status: status.into() })
                    .set(n as i64);
            }
        }
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        self.last_success.get_or_create(&JobLabels { job: j() }).set(now);
    }

    /// The metrics in Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_appear_in_the_text_format() {
        let m = Metrics::new();
        m.started("nightly");
        m.failed("nightly");
        m.retried("nightly");
        let text = m.encode();
        assert!(text.contains("credence_runs_total{job=\"nightly\",outcome=\"failed\"} 1"), "{text}");
        assert!(text.contains("credence_run_retries_total{job=\"nightly\"} 1"), "{text}");
        assert!(text.contains("credence_run_in_progress{job=\"nightly\"} 0"), "{text}");
    }
}
