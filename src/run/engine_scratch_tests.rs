//! A run's engine scratch folder outside the warehouse (`--engine-scratch`):
//! a run clears what a crashed run of its warehouse left there, leaves
//! other warehouses' folders alone, and removes its own folder when done.

use crate::base::contract::Contracts;
use crate::base::engine::EngineLimits;
use crate::base::warehouse::Warehouse;
use crate::config::policy::Policy;
use crate::run::{run, RunOptions};
use crate::tools::gen::{generate, GenOptions};

#[test]
fn a_run_clears_its_warehouses_engine_scratch_and_leaves_it_empty() {
    let dir = tempfile::tempdir().unwrap();
    let wh = Warehouse::new(dir.path().join("wh"));
    let as_of = "2026-11-27".parse().unwrap();
    let mut gen = GenOptions::new(300, 3, 5, as_of);
    gen.chunk = 100;
    generate(&wh, &gen, &|_| {}).unwrap();
    let scratch = dir.path().join("scratch");
    let mine = wh.engine_scratch(&scratch).unwrap();
    let crashed = mine.join("run-left-by-a-crash").join("engine");
    std::fs::create_dir_all(&crashed).unwrap();
    std::fs::write(crashed.join("part-0.arrow"), b"stale").unwrap();
    let theirs = scratch.join("credence-0123456789abcdef").join("run-under-way");
    std::fs::create_dir_all(&theirs).unwrap();

    let policy = Policy::default_policy(&Contracts::load().unwrap());
    let limits = EngineLimits { threads: 2, memory_limit: 1 << 30 };
    let mut opts = RunOptions::unsigned_for_test(wh.clone(), as_of, policy, limits);
    opts.engine_scratch = Some(scratch.clone());
    opts.validation_plans = true;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let report = rt.block_on(run(&opts)).unwrap();
    assert!(report.scores.entities_scored > 0);

    let left: Vec<_> = std::fs::read_dir(&mine).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "the crashed run's folder is cleared and the run's own removed: {left:?}");
    assert!(theirs.exists(), "another warehouse's run may be under way");
    let staged: Vec<_> = std::fs::read_dir(wh.staging_root()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(staged.is_empty(), "nothing left in the warehouse's staging: {staged:?}");
}
