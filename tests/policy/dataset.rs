//! The bars on the YouTube Spam Collection (skipped with a message when the data is absent).

use std::path::PathBuf;

use saring::policy::cli::{metrics, read_cases, screen_all};

use crate::{default_policy, root};

const FILES: [&str; 3] = [
    "Youtube01-Psy.csv",
    "Youtube02-KatyPerry.csv",
    "Youtube03-LMFAO.csv",
];

/// The dataset lives beside the repository (`../shared/datasets`), or where
/// `SARING_DATASETS` points.
fn dataset_dir() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(d) = std::env::var("SARING_DATASETS") {
        candidates.push(PathBuf::from(d).join("youtube-spam-collection"));
    }
    candidates.push(root().join("../shared/datasets/youtube-spam-collection"));
    candidates.push(root().join("../../shared/datasets/youtube-spam-collection"));
    candidates.into_iter().find(|d| d.join(FILES[0]).is_file())
}

#[test]
fn youtube_precision_and_recall_bars_per_video_and_pooled() {
    let Some(dir) = dataset_dir() else {
        println!("YouTube Spam Collection not found beside the repository; skipping");
        return;
    };
    let p = default_policy();
    let hold = p.thresholds().hold;
    let mut pooled = Vec::new();
    for f in FILES {
        let cases = read_cases(&dir.join(f)).expect("dataset reads");
        assert!(
            cases.iter().all(|c| c.label.is_some()),
            "{f}: every row labelled"
        );
        let scored = screen_all(p, &cases);
        let m = metrics(&scored, hold);
        println!("{f}: precision {:.3} recall {:.3}", m.precision, m.recall);
        assert!(m.precision >= 0.97, "{f}: precision {:.3}", m.precision);
        assert!(m.recall >= 0.85, "{f}: recall {:.3}", m.recall);
        pooled.extend(scored);
    }
    let m = metrics(&pooled, hold);
    assert!(m.precision >= 0.97 && m.recall >= 0.85, "pooled {m:?}");
}
