//! Labelled data for training and measuring the model: which lines are TRAIN and which are
//! HOLD-OUT, and the body of `saring policy train`.
//!
//! The split is by a hash of each line's `source` (the Indonesian set gives every comment one):
//! HOLD-OUT when the first byte of SHA-256(`source`) is below 51 (about 20%), else TRAIN. Lines
//! without a `source` (the English CSV files) are in every split; they are kept apart by file
//! instead (see [`super::eval`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::PolicyError;
use super::cli::{Case, Label, read_cases};
use super::model::{Example, Model, Progress, TrainConfig, train};

/// Which part of the labelled data to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    /// Every line.
    All,
    /// Lines whose `source` hashes to TRAIN (and lines without a source).
    Train,
    /// Lines whose `source` hashes to HOLD-OUT (and lines without a source).
    Holdout,
}

/// Whether a `source` is in the HOLD-OUT part: the first byte of its SHA-256 is below 51.
pub fn is_holdout(source: &str) -> bool {
    Sha256::digest(source.as_bytes())[0] < 51
}

impl Split {
    /// Whether a case belongs to this split.
    pub fn keeps(self, c: &Case) -> bool {
        match (self, c.source.as_deref()) {
            (Split::All, _) | (_, None) => true,
            (Split::Train, Some(s)) => !is_holdout(s),
            (Split::Holdout, Some(s)) => is_holdout(s),
        }
    }
}

/// A labelled file, read.
#[derive(Clone, Debug)]
pub struct LabelledFile {
    /// The file.
    pub path: PathBuf,
    /// Its labelled cases (lines without a label, or labelled `hold`, are left out: the model
    /// learns spam against ham only).
    pub cases: Vec<Case>,
}

/// Reads labelled files (CSV or JSON lines).
pub fn read_labelled(files: &[PathBuf]) -> Result<Vec<LabelledFile>, PolicyError> {
    files
        .iter()
        .map(|f| {
            let cases = read_cases(f)?
                .into_iter()
                .filter(|c| matches!(c.label, Some(Label::Spam | Label::Ham)))
                .collect();
            Ok(LabelledFile {
                path: f.clone(),
                cases,
            })
        })
        .collect()
}

/// The training examples of some cases.
pub fn examples<'a>(cases: impl IntoIterator<Item = &'a Case>) -> Vec<Example<'a>> {
    cases
        .into_iter()
        .map(|c| Example {
            body: &c.body,
            author: &c.author_name,
            spam: c.label == Some(Label::Spam),
        })
        .collect()
}

/// `saring policy train DATA... --out FILE [--split ...]`: trains on the chosen split of the
/// files, writes the model (through a temporary file, so a policy watcher never sees half a
/// model) and prints what it did to `log`.
pub fn train_files(
    files: &[PathBuf],
    out: &Path,
    split: Split,
    config: &TrainConfig,
    log: &mut dyn Write,
) -> Result<Model, PolicyError> {
    let w = |log: &mut dyn Write, s: String| writeln!(log, "{s}").map_err(PolicyError::Output);
    let sets = read_labelled(files)?;
    let mut cases: Vec<&Case> = Vec::new();
    for set in &sets {
        let before = cases.len();
        cases.extend(set.cases.iter().filter(|c| split.keeps(c)));
        w(
            log,
            format!(
                "{}: {} labelled lines in the {split:?} split",
                set.path.display(),
                cases.len() - before
            ),
        )?;
    }
    let ex = examples(cases.iter().copied());
    let spam = ex.iter().filter(|e| e.spam).count();
    w(
        log,
        format!(
            "training on {} comments ({spam} spam, {} ham), {} epochs",
            ex.len(),
            ex.len() - spam,
            config.epochs
        ),
    )?;
    let mut failed = None;
    let model = train(&ex, config, &mut |p: Progress| {
        let line = if p.epoch == 0 {
            "  features read".to_string()
        } else {
            format!(
                "  epoch {}/{}: mean log loss {:.4}",
                p.epoch, p.epochs, p.loss
            )
        };
        if let Err(e) = writeln!(log, "{line}") {
            failed.get_or_insert(e);
        }
    });
    if let Some(e) = failed {
        return Err(PolicyError::Output(e));
    }
    let bytes = model.to_bytes();
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| PolicyError::io(dir, e))?;
    }
    let tmp = out.with_extension("bin.tmp");
    std::fs::write(&tmp, &bytes).map_err(|e| PolicyError::io(&tmp, e))?;
    std::fs::rename(&tmp, out).map_err(|e| PolicyError::io(out, e))?;
    w(
        log,
        format!(
            "wrote {} ({} bytes, {} non-zero weights, sha256 {})",
            out.display(),
            bytes.len(),
            model.nonzero_weights(),
            hex::encode(Sha256::digest(&bytes))
        ),
    )?;
    Ok(model)
}
