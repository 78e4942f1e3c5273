//! Running a range of as-of dates in order (`credence backfill`). A date
//! the ledger shows as run successfully with the same policy is skipped,
//! so an interrupted backfill resumes where it stopped. The first failure
//! stops the backfill: later dates would publish over a gap.

use tracing::info;

use crate::base::ids::AsOf;
use crate::base::store::Store;
use crate::run::{self, RunError, RunOptions};

/// What happened to one date.
#[derive(Clone, Debug, PartialEq)]
pub enum DateOutcome {
    AlreadyDone,
    Ran { run_id: i64, publications: Vec<String> },
}

/// Runs `from..=to` in order with `template` (its `as_of` is replaced).
pub async fn backfill(
    template: &RunOptions,
    from: AsOf,
    to: AsOf,
    mut report: impl FnMut(AsOf, &DateOutcome),
) -> Result<(), (AsOf, RunError)> {
    let mut date = from;
    while date <= to {
        let db = template.warehouse.database();
        let done = db.exists()
            && Store::open(&db)
                .and_then(|s| s.succeeded(date, &template.policy.sha256))
                .map_err(|e| (date, e.into()))?;
        let outcome = if done {
            info!(%date, "backfill: already done, skipped");
            DateOutcome::AlreadyDone
        } else {
            let mut opts = template.clone();
            opts.as_of = date;
            let r = run::run(&opts).await.map_err(|e| (date, e))?;
            DateOutcome::Ran {
                run_id: r.run_id.0,
                publications: r.publications.iter().map(|p| format!("{}: {}", p.list_id, p.outcome)).collect(),
            }
        };
        report(date, &outcome);
        date = date.plus_days(1);
    }
    Ok(())
}
