//! `burn-edge rollout guard`: watches one rule's arm against its control through the
//! collector's `/api/rollout` and takes the rule back by itself when it is worse: an
//! always-valid sequential test per metric (error rate, fallback rate, share slower than
//! control's p95, misprediction rate from feedback) and a sample-ratio-mismatch check
//! (`burn-edge-stats`). The running state (minimum p-values) is kept in a file, so a guard that
//! restarts keeps its guarantees; every decision that stops the rule is logged with its numbers
//! in `rollout-log.json` (`by: "guard"`), which the dashboard shows.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use burn_edge_stats::{check, Decision, GuardConfig, GuardState};
use serde_json::Value;

use super::folder::ModelFolder;
use super::log::By;
use super::ops;
use crate::collector::rollout_stats::guard_input;

/// Largest report read from the collector.
const MAX_REPORT_BYTES: u64 = 8 << 20;

/// Where the collector is and how to read it.
pub struct Collector {
    pub url: String,
    pub read_key: Option<String>,
}

impl Collector {
    /// `GET /api/rollout?model=&rule=` as JSON.
    pub fn report(&self, model: &str, rule: Option<&str>) -> Result<Value> {
        let config = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(30))).http_status_as_error(false).build();
        let agent = ureq::Agent::new_with_config(config);
        let base = self.url.trim_end_matches('/');
        let mut request = agent.get(format!("{base}/api/rollout")).query("model", model);
        if let Some(rule) = rule {
            request = request.query("rule", rule);
        }
        if let Some(key) = &self.read_key {
            request = request.header("x-burn-edge-read-key", key);
        }
        let mut response = request.call().with_context(|| format!("asking the collector at {base}"))?;
        let status = response.status();
        let text = response
            .body_mut()
            .with_config()
            .limit(MAX_REPORT_BYTES)
            .read_to_string()
            .with_context(|| format!("reading the collector's answer from {base}"))?;
        match status.as_u16() {
            200 => serde_json::from_str(&text).with_context(|| format!("the collector at {base} answered something that is not JSON")),
            401 | 403 => bail!("the collector at {base} refused the read key (HTTP {status}): pass --read-key or BURN_EDGE_READ_KEY"),
            _ => bail!("the collector at {base} answered HTTP {status}: {}", text.trim().chars().take(300).collect::<String>()),
        }
    }
}

/// What `rollout guard` was told.
pub struct GuardOptions {
    pub rule: String,
    pub arm: Option<String>,
    pub interval: Duration,
    pub once: bool,
    pub config: GuardConfig,
    pub state_file: Option<PathBuf>,
}

fn read_state(path: &Path) -> Result<GuardState> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).with_context(|| format!("{} is not a guard state file", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(GuardState::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_state(path: &Path, state: &GuardState) -> Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(state)?).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// Runs the guard until it stops the rule, the rule is gone, or (`once`) after one check.
pub fn run(folder: &ModelFolder, collector: &Collector, options: &GuardOptions) -> Result<()> {
    let rule = options.rule.as_str();
    // Not in the model folder: that is what the CDN serves.
    let state_file = match &options.state_file {
        Some(path) => path.clone(),
        None => {
            let dir = PathBuf::from(".burn-edge/guard");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            dir.join(format!("{}-{rule}.json", folder.model))
        }
    };
    let mut state = read_state(&state_file)?;
    loop {
        let in_channel = folder.read()?.rollout.as_ref().is_some_and(|r| r.rules.iter().any(|x| x.key == rule));
        if !in_channel {
            println!("rule {rule:?} is no longer in {}: nothing to guard", folder.channel_path().display());
            return Ok(());
        }
        let report = collector.report(&folder.model, Some(rule))?;
        let stamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        match guard_input(&report, rule, options.arm.as_deref()) {
            Err(why) => println!("{stamp} waiting: {why}"),
            Ok(input) => {
                let decision = check(&options.config, &mut state, &input).context("the guard's statistics")?;
                write_state(&state_file, &state)?;
                println!("{stamp} {}: {}", label(&decision), decision.reason());
                if decision.must_stop() {
                    let numbers = serde_json::to_value(&decision).ok();
                    let detail = format!("guard: {}", decision.reason());
                    let applied = ops::rollback(folder, Some(rule), By::Guard, Some(&detail), numbers)?;
                    println!("rolled back rule {rule:?}: {}", applied.change.detail);
                    std::fs::remove_file(&state_file).ok();
                    return Ok(());
                }
            }
        }
        if options.once {
            return Ok(());
        }
        std::thread::sleep(options.interval);
    }
}

fn label(decision: &Decision) -> &'static str {
    match decision {
        Decision::NotEnoughData { .. } => "not enough data",
        Decision::Continue { .. } => "continue",
        Decision::Rollback { .. } => "ROLLBACK",
        Decision::Halt { .. } => "HALT",
    }
}
