//! Rollout edits applied to a model folder, as functions other commands reuse: `rollout guard`
//! rolls a rule back with `rollback(&folder, Some(rule), By::Guard, Some(detail), Some(numbers))`.

use serde_json::Value;

use super::edits::{self, Change};
use super::error::RolloutError;
use super::folder::{Applied, ModelFolder};
use super::log::By;

/// Runs `edit` on the folder's channel; `detail` (prefixed to the edit's own) and `numbers`
/// go into the log entry.
pub fn apply_with(
    folder: &ModelFolder,
    by: By,
    detail: Option<&str>,
    numbers: Option<Value>,
    edit: impl FnOnce(&mut burn_edge_formats::Channel) -> Result<Change, RolloutError>,
) -> Result<Applied, RolloutError> {
    folder.apply(by, |channel| {
        let mut change = edit(channel)?;
        if let Some(detail) = detail {
            change.detail = format!("{detail}; {}", change.detail);
        }
        change.numbers = numbers;
        Ok(change)
    })
}

/// Removes rule `rule` (the only rule when None; with no rules, moves `stable` back to the
/// version published before it).
pub fn rollback(
    folder: &ModelFolder,
    rule: Option<&str>,
    by: By,
    detail: Option<&str>,
    numbers: Option<Value>,
) -> Result<Applied, RolloutError> {
    apply_with(folder, by, detail, numbers, |c| edits::rollback(c, rule, "stable"))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// A copy of the committed MNIST CDN folder (two published versions) under `root`.
    fn copy_mnist(root: &Path) {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/mnist");
        for entry in ["channel.json", "1.0.0/manifest.json", "1.1.0/manifest.json"] {
            std::fs::create_dir_all(root.join("mnist").join(entry).parent().unwrap()).unwrap();
            std::fs::copy(from.join(entry), root.join("mnist").join(entry)).unwrap();
        }
        std::fs::create_dir_all(root.join("mnist/files")).unwrap();
        for file in std::fs::read_dir(from.join("files")).unwrap() {
            let file = file.unwrap();
            std::fs::copy(file.path(), root.join("mnist/files").join(file.file_name())).unwrap();
        }
    }

    #[test]
    fn the_guard_rolls_a_canary_back_and_logs_its_numbers() {
        let dir = tempfile::tempdir().unwrap();
        copy_mnist(dir.path());
        let folder = ModelFolder::open(dir.path(), "mnist", None).unwrap();
        folder.apply(By::Cli, |c| edits::canary(c, "1.1.0", 50.0, "stable", Some("c"), &[])).unwrap();
        let numbers = serde_json::json!({ "errorRate": 0.2, "controlErrorRate": 0.01, "pValue": 0.0001 });
        let applied = rollback(&folder, Some("c"), By::Guard, Some("error rate 20% vs 1%"), Some(numbers.clone())).unwrap();
        assert!(applied.written);
        assert_eq!(applied.channel.rollout, None, "no rules left: written as schemaVersion 1");
        let log = super::super::log::read_log(&folder.dir).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!((log[0]["by"].as_str(), log[0]["action"].as_str()), (Some("cli"), Some("canary")));
        assert_eq!((log[1]["by"].as_str(), log[1]["rule"].as_str()), (Some("guard"), Some("c")));
        assert_eq!(log[1]["numbers"], numbers);
        assert!(log[1]["detail"].as_str().unwrap().starts_with("error rate 20% vs 1%; rule removed"), "{}", log[1]["detail"]);
        // Nothing left to roll back: refused, nothing written.
        let err = rollback(&folder, Some("c"), By::Guard, None, None).unwrap_err().to_string();
        assert!(err.contains("has no rollout rule \"c\""), "{err}");
        assert_eq!(super::super::log::read_log(&folder.dir).unwrap().len(), 2);
    }
}
