//! Session settings a stage's plans are planned under while a guard
//! lives ([`Planned`]), then left as they were found: what suits one
//! stage's queries (validation's plans in one process, the hash joins of
//! a cluster) does not leak into the next stage's.

use datafusion::prelude::SessionContext;

/// The most rows of distinct keys a join's build side holds in one task
/// of a cluster (about 64 bytes a row once hashed: some 0.5 GiB, half the
/// pool the sizing guide gives an executor core).
pub const BUILD_ROWS_PER_TASK: u64 = 8 << 20;

/// The settings a [`Planned`] guard changes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    pub repartition_joins: bool,
    /// An aggregate's partial step passes its rows on unaggregated when
    /// its groups are more than this share of its rows.
    pub skip_partial_above: f64,
    pub prefer_hash_join: bool,
    pub target_partitions: usize,
}

impl Settings {
    /// A cluster's hash joins, partitioned by the key, instead of the
    /// sort-merge joins Ballista plans (which spill, but sort every row
    /// of both sides); with at least one partition per
    /// [`BUILD_ROWS_PER_TASK`] of `build_rows`, the most rows a build
    /// side of the plans may hold: hashed by a key held once, a build side
    /// spreads evenly, so that no task holds more than that. A build side
    /// an executor's pool cannot hold fails the query (resources
    /// exhausted), as it would in one process.
    pub fn cluster_hash_joins(self, build_rows: u64) -> Settings {
        let needed = build_rows.div_ceil(BUILD_ROWS_PER_TASK).max(1) as usize;
        Settings { prefer_hash_join: true, target_partitions: self.target_partitions.max(needed), ..self }
    }
}

/// While it lives, `ctx` plans with the settings it was given; dropped,
/// it restores those it found.
pub struct Planned {
    ctx: SessionContext,
    before: Settings,
}

impl Planned {
    /// Sets `to` of the session's current settings.
    pub fn set(ctx: &SessionContext, to: impl FnOnce(Settings) -> Settings) -> Planned {
        let before = Self::read(ctx);
        Self::write(ctx, to(before));
        Planned { ctx: ctx.clone(), before }
    }

    /// The session's current settings.
    pub fn read(ctx: &SessionContext) -> Settings {
        let options = ctx.state().config().options().clone();
        Settings {
            repartition_joins: options.optimizer.repartition_joins,
            skip_partial_above: options.execution.skip_partial_aggregation_probe_ratio_threshold,
            prefer_hash_join: options.optimizer.prefer_hash_join,
            target_partitions: options.execution.target_partitions,
        }
    }

    fn write(ctx: &SessionContext, to: Settings) {
        let state = ctx.state_ref();
        let mut state = state.write();
        let options = state.config_mut().options_mut();
        options.optimizer.repartition_joins = to.repartition_joins;
        options.execution.skip_partial_aggregation_probe_ratio_threshold = to.skip_partial_above;
        options.optimizer.prefer_hash_join = to.prefer_hash_join;
        options.execution.target_partitions = to.target_partitions;
    }
}

impl Drop for Planned {
    fn drop(&mut self) {
        Self::write(&self.ctx, self.before);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, RecordBatch};
    use datafusion::prelude::SessionConfig;

    use super::*;

    /// A session set as a Ballista client's: sort-merge joins, two
    /// partitions, build sides under 128 MB candidates for a broadcast.
    pub(crate) fn ballista_like() -> SessionContext {
        let mut config = SessionConfig::new().with_target_partitions(2);
        config.options_mut().optimizer.prefer_hash_join = false;
        config.options_mut().optimizer.hash_join_single_partition_threshold = 128 << 20;
        SessionContext::new_with_config(config)
    }

    /// The physical plan `ctx` makes of `sql`, as text.
    pub(crate) async fn plan_text(ctx: &SessionContext, sql: &str) -> String {
        let plan = ctx.sql(sql).await.unwrap().create_physical_plan().await.unwrap();
        let text = datafusion::physical_plan::displayable(plan.as_ref()).indent(false).to_string();
        text
    }

    #[test]
    fn a_cluster_hashes_its_joins_with_a_partition_per_eight_million_build_rows_at_least() {
        let ctx = ballista_like();
        let defaults = Planned::read(&ctx);
        for (rows, partitions) in [(0, 2), (15_100_000, 2), (16 << 20, 2), ((16 << 20) + 1, 3), (76_000_000, 10)] {
            let cluster = Planned::set(&ctx, |now| now.cluster_hash_joins(rows));
            assert_eq!(
                Planned::read(&ctx),
                Settings { prefer_hash_join: true, target_partitions: partitions, ..defaults },
                "{rows} rows"
            );
            drop(cluster);
            assert_eq!(Planned::read(&ctx), defaults, "the later plans are planned as before");
        }
    }

    #[tokio::test]
    async fn a_cluster_plans_a_partitioned_hash_join_where_ballista_would_sort_both_sides() {
        let ctx = ballista_like();
        for (name, n) in [("held", 10), ("rows", 1000)] {
            let keys = Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef;
            ctx.register_batch(name, RecordBatch::try_from_iter([("k", keys)]).unwrap()).unwrap();
        }
        // No build side is small enough to be collected whole into every task.
        {
            let state = ctx.state_ref();
            let mut state = state.write();
            let optimizer = &mut state.config_mut().options_mut().optimizer;
            optimizer.hash_join_single_partition_threshold = 0;
            optimizer.hash_join_single_partition_threshold_rows = 0;
        }
        let join = "SELECT * FROM held RIGHT JOIN rows ON held.k = rows.k";
        let ballista = plan_text(&ctx, join).await;
        assert!(ballista.contains("SortMergeJoin"), "{ballista}");
        let _cluster = Planned::set(&ctx, |now| now.cluster_hash_joins(1000));
        let ours = plan_text(&ctx, join).await;
        assert!(ours.contains("HashJoinExec: mode=Partitioned, join_type=Right"), "{ours}");
        assert!(!ours.contains("SortMergeJoin") && !ours.contains("SortExec"), "{ours}");
    }
}
