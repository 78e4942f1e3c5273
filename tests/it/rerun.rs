//! Rerunning an old date after newer partitions landed gives the answer it
//! gave before they landed.

use crate::support::{ok, scores_text};

#[test]
fn rerunning_an_old_date_ignores_newer_partitions() {
    let full = tempfile::tempdir().unwrap();
    let root = full.path().to_str().unwrap();
    ok(&["gen", "--warehouse", root, "--entities", "400", "--days", "3", "--seed", "3", "--as-of", "2026-11-27"]);

    // The same warehouse as it was on 2026-11-26: without the last night.
    let before = tempfile::tempdir().unwrap();
    copy_without(full.path(), before.path(), "ingest_date=2026-11-27");
    ok(&["run", "--unsigned", "--warehouse", before.path().to_str().unwrap(), "--as-of", "2026-11-26"]);
    ok(&["run", "--unsigned", "--warehouse", root, "--as-of", "2026-11-26"]);
    let path = |d: &std::path::Path| d.join("marts/scores/as_of=2026-11-26/part-0.parquet");
    assert_eq!(scores_text(&path(full.path())), scores_text(&path(before.path())));
    assert_eq!(std::fs::read(path(full.path())).unwrap(), std::fs::read(path(before.path())).unwrap());

    ok(&["run", "--unsigned", "--warehouse", root, "--as-of", "2026-11-27"]);
    assert_ne!(
        scores_text(&path(full.path())),
        scores_text(&full.path().join("marts/scores/as_of=2026-11-27/part-0.parquet")),
        "the newer night does change the newer run"
    );
}

fn copy_without(from: &std::path::Path, to: &std::path::Path, skip: &str) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name.to_string_lossy() == skip {
            continue;
        }
        let target = to.join(&name);
        if e.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_without(&e.path(), &target, skip);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}
