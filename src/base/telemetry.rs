//! Logs and progress: human-readable lines with progress bars on a
//! terminal, JSON lines otherwise (for journald and log shippers). Every
//! run step is a tracing span carrying its row count and duration.

use std::io::IsTerminal;

use indicatif::ProgressStyle;
use tracing::Span;
use tracing_indicatif::filter::IndicatifFilter;
use tracing_indicatif::span_ext::IndicatifSpanExt;
use tracing_indicatif::IndicatifLayer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// JSON unless stderr is a terminal; `CREDENCE_LOG_FORMAT=json|text` overrides.
    pub fn detect() -> LogFormat {
        match std::env::var("CREDENCE_LOG_FORMAT").as_deref() {
            Ok("json") => LogFormat::Json,
            Ok("text") => LogFormat::Text,
            _ if std::io::stderr().is_terminal() => LogFormat::Text,
            _ => LogFormat::Json,
        }
    }
}

/// Installs the global subscriber. `RUST_LOG` filters (default: info,
/// with the query engine's own chatter at warn).
pub fn init(format: LogFormat) {
    // One filter for the whole subscriber, not one per layer: a per-layer
    // filter keeps its verdict in a thread-local between `enabled` and the
    // event, and a `log` record from a dependency (asked `enabled` through
    // the log bridge, then never sent) left a stale verdict that silently
    // dropped the next event on that thread.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,datafusion=warn,sqlparser=warn"));
    match format {
        LogFormat::Json => {
            let _ = tracing_subscriber::registry()
                .with(filter)
                .with(
                    tracing_subscriber::fmt::layer()
                        .json()
                        .with_current_span(true)
                        .with_span_list(true)
                        .with_writer(std::io::stderr),
                )
                .try_init();
        }
        LogFormat::Text => {
            let bars: IndicatifLayer<_> = IndicatifLayer::new();
            let _ = tracing_subscriber::registry()
                .with(filter)
                .with(
                    tracing_subscriber::fmt::layer().compact().with_target(false).with_writer(bars.get_stderr_writer()),
                )
                .with(bars.with_filter(IndicatifFilter::new(false)))
                .try_init();
        }
    }
}

/// A span that shows a progress bar of `len` units on a terminal (and is
/// an ordinary span elsewhere).
pub fn progress_span(name: &'static str, len: u64, unit: &str) -> Span {
    let span = tracing::info_span!("progress", task = name, indicatif.pb_show = tracing::field::Empty);
    let template =
        format!("{{span_child_prefix}}{name} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{per_sec}}, {{eta}} left)");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        span.pb_set_style(&style.progress_chars("=> "));
    }
    span.pb_set_length(len);
    span.pb_start();
    span
}

/// Resident memory of this process (Linux `/proc/self/status`): now and
/// its peak since the start or the last [`reset_peak_memory`], in bytes.
/// Logged with steps and measured by the benchmark.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    pub resident: Option<u64>,
    pub peak: Option<u64>,
}

impl Memory {
    pub fn now() -> Memory {
        let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
            return Memory::default();
        };
        let field = |name: &str| -> Option<u64> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
        };
        Memory { resident: field("VmRSS:"), peak: field("VmHWM:") }
    }

    /// Mebibytes resident now (0 where unknown), for a log field.
    pub fn resident_mib(&self) -> u64 {
        self.resident.unwrap_or(0) >> 20
    }

    /// Mebibytes at the peak (0 where unknown), for a log field.
    pub fn peak_mib(&self) -> u64 {
        self.peak.unwrap_or(0) >> 20
    }
}

/// Starts a new peak of [`Memory`] (Linux: writing 5 to `clear_refs`).
pub fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Debug lines for the phases of one step: each line names the phase and
/// carries its duration and the memory resident at its end and at the peak
/// so far, so that a run's log shows where the memory goes.
pub struct Phases {
    step: &'static str,
    clock: std::time::Instant,
}

impl Phases {
    pub fn start(step: &'static str) -> Phases {
        Phases { step, clock: std::time::Instant::now() }
    }

    /// Logs the phase that ends now and starts the next one.
    pub fn done(&mut self, phase: &str) {
        let memory = Memory::now();
        tracing::debug!(
            step = self.step,
            phase,
            ms = self.clock.elapsed().as_millis() as u64,
            resident_mib = memory.resident_mib(),
            peak_mib = memory.peak_mib(),
            "phase"
        );
        self.clock = std::time::Instant::now();
    }
}
