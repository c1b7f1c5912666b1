//! The `burn-edge rollout` subcommands as clap sees them, and what each runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn_edge_formats::rollout::{assign, parse_utc_millis, Arm, InterleaveArm, Namespace, Unit};
use burn_edge_formats::Channel;
use clap::{Args, Subcommand};

use super::edits::{self, Change, ExperimentSpec};
use super::error::RolloutError;
use super::folder::{Applied, ModelFolder};
use super::log::By;
use super::parse;

#[derive(Args)]
pub struct RolloutArgs {
    #[command(subcommand)]
    command: RolloutCommand,
}

/// What every channel-changing subcommand takes.
#[derive(Args)]
struct Target {
    /// The model: its folder under --models (e.g. mnist).
    model: String,
    /// Root of the CDN layout.
    #[arg(long, default_value = "models")]
    models: PathBuf,
    /// Private key (from `keygen`) to re-sign the channel with. Without one the channel is
    /// written unsigned and its old signature removed (loaders pinning a key will refuse it).
    #[arg(long, env = "BURN_EDGE_SIGNING_KEY", value_name = "PATH")]
    signing_key: Option<PathBuf>,
}

/// Where the collector is.
#[derive(Args)]
struct CollectorArgs {
    /// The collector's base URL (the `burn-edge serve` address).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    collector: String,
    /// The collector's read key (`serve --read-key`).
    #[arg(long, env = "BURN_EDGE_READ_KEY")]
    read_key: Option<String>,
}

impl CollectorArgs {
    fn client(self) -> super::guard::Collector {
        super::guard::Collector { url: self.collector, read_key: self.read_key }
    }
}

#[derive(Subcommand)]
enum RolloutCommand {
    /// Give VERSION to a sticky PERCENT of the pages loading --alias (optionally only those
    /// whose page attributes match --group).
    Canary {
        #[command(flatten)]
        target: Target,
        /// A published version.
        version: String,
        /// Share of the alias's pages (0..100), sticky per unit.
        #[arg(long)]
        percent: f64,
        /// The alias whose pages the canary applies to.
        #[arg(long, default_value = "stable")]
        alias: String,
        /// Rule key (default <model>-<version>-canary).
        #[arg(long)]
        key: Option<String>,
        /// Only pages with this attribute (repeatable: same attribute = any of the values).
        #[arg(long = "group", value_name = "ATTR=VALUE", value_parser = parse::key_value)]
        groups: Vec<(String, String)>,
    },
    /// Change a rule's coverage: a schedule starting now (--steps 5,25,50,100 --every 10m), or
    /// --percent N at once (lowering it takes units out again).
    Ramp {
        #[command(flatten)]
        target: Target,
        /// The rule (default: the only rule).
        #[arg(long)]
        rule: Option<String>,
        /// Coverage percentages, one per step, e.g. 5,25,50,100.
        #[arg(long, requires = "every", conflicts_with = "percent")]
        steps: Option<String>,
        /// Time between steps: 30s, 10m, 2h, 1d.
        #[arg(long, value_parser = parse::duration_ms, requires = "steps")]
        every: Option<i64>,
        /// Coverage now (0..100), replacing any schedule.
        #[arg(long, required_unless_present = "steps")]
        percent: Option<f64>,
    },
    /// Make the rule's version (an experiment's --arm) what its alias serves; remove the rule.
    Promote {
        #[command(flatten)]
        target: Target,
        /// The rule (default: the only rule).
        #[arg(long)]
        rule: Option<String>,
        /// An experiment's arm to promote.
        #[arg(long)]
        arm: Option<String>,
    },
    /// Remove the rule (the only one by default); with no rules, move --alias back to the
    /// version published before the one it serves.
    Rollback {
        #[command(flatten)]
        target: Target,
        /// The rule to remove (default: the only rule).
        #[arg(long)]
        rule: Option<String>,
        /// With no rules: the alias to move back.
        #[arg(long, default_value = "stable")]
        alias: String,
    },
    /// Kill switch: every page gets `stable`, rules, shadow and interleave off (--off: on again).
    Kill {
        #[command(flatten)]
        target: Target,
        /// Turn the kill switch off again.
        #[arg(long)]
        off: bool,
    },
    /// A/B (n-way) experiments.
    Experiment {
        #[command(subcommand)]
        command: ExperimentCommand,
    },
    /// Shadow runs: a challenger on a sample of real inputs, after the served answer.
    Shadow {
        #[command(subcommand)]
        command: ShadowCommand,
    },
    /// Team-draft interleaving of two versions' top-k lists.
    Interleave {
        #[command(subcommand)]
        command: InterleaveCommand,
    },
    /// The collector's view of the rollout: per arm users, predictions, p50/p95, error and
    /// fallback rates, drift and each metric against the control; split check, shadow
    /// agreement, interleave preference, hot swaps, the last changes.
    Status {
        /// The model (e.g. mnist).
        model: String,
        #[command(flatten)]
        collector: CollectorArgs,
        /// The rule (default: the channel's first rule with events).
        #[arg(long)]
        rule: Option<String>,
        /// Print the collector's JSON instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Watch a rule against its control and roll it back by itself when it is worse (error
    /// rate, fallback rate, share slower than control's p95, misprediction rate from feedback:
    /// an always-valid sequential test) or its split is broken (sample ratio mismatch).
    Guard {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        collector: CollectorArgs,
        /// The rule to guard.
        #[arg(long)]
        rule: String,
        /// An experiment's arm to judge (default: its first arm that is not the control).
        #[arg(long)]
        arm: Option<String>,
        /// Time between checks: 10s, 1m, ...
        #[arg(long, default_value = "10s", value_parser = parse::duration_ms)]
        interval: i64,
        /// One check, then exit.
        #[arg(long)]
        once: bool,
        /// Family-wise significance level over the four metrics.
        #[arg(long, default_value_t = 0.05)]
        alpha: f64,
        /// Attempted predictions each arm needs before the metrics are judged.
        #[arg(long, default_value_t = 500)]
        min_predictions: u64,
        /// Predictions with feedback each arm needs before the misprediction rate is judged.
        #[arg(long, default_value_t = 100)]
        min_feedback: u64,
        /// Variance multiplier for predictions of one user being correlated (>= 1).
        #[arg(long, default_value_t = 1.0)]
        design_effect: f64,
        /// Where the running state is kept (default .burn-edge/guard/<model>-<rule>.json, outside the
        /// model folder the CDN serves).
        #[arg(long)]
        state: Option<PathBuf>,
    },
    /// Which version a unit gets, by the shell's own assignment rule; prints the assignment JSON.
    Assign {
        /// The model: its folder under --models (e.g. mnist).
        model: String,
        /// Root of the CDN layout.
        #[arg(long, default_value = "models")]
        models: PathBuf,
        /// The install id (or the id the page gives).
        #[arg(long)]
        id: String,
        /// The alias the page loads.
        #[arg(long, default_value = "stable")]
        alias: String,
        /// A page attribute (repeatable).
        #[arg(long = "attr", value_name = "ATTR=VALUE", value_parser = parse::key_value)]
        attributes: Vec<(String, String)>,
        /// A stored sticky assignment (repeatable), e.g. mnist-ab__0=b.
        #[arg(long = "stored", value_name = "KEY__BUCKETVERSION=ARM", value_parser = parse::key_value)]
        stored: Vec<(String, String)>,
        /// Developer pin: this published version whatever the rules say.
        #[arg(long)]
        pin: Option<String>,
        /// Assign as of this RFC 3339 UTC time (default now), e.g. to see a ramp step.
        #[arg(long)]
        at: Option<String>,
    },
}

#[derive(Subcommand)]
enum ExperimentCommand {
    /// Start an experiment on --alias pages: arms name=version:weight, weights summing to 1.
    Start {
        #[command(flatten)]
        target: Target,
        /// Experiment key (unique; also the hash seed).
        #[arg(long)]
        key: String,
        /// An arm (repeat, 2 to 10): name=version:weight, weights summing to 1.
        #[arg(long = "arm", value_name = "NAME=VERSION:WEIGHT", value_parser = parse::weighted_arm, required = true)]
        arms: Vec<Arm>,
        /// Share of units included (0..1).
        #[arg(long, default_value_t = 1.0)]
        coverage: f64,
        /// Mutual exclusion: id:start:end (units whose namespace hash is in [start, end)).
        #[arg(long, value_parser = parse::namespace)]
        namespace: Option<Namespace>,
        /// The alias whose pages the experiment applies to.
        #[arg(long, default_value = "stable")]
        alias: String,
        /// Only pages with this attribute (repeatable).
        #[arg(long = "group", value_name = "ATTR=VALUE", value_parser = parse::key_value)]
        groups: Vec<(String, String)>,
    },
    /// End an experiment: its pages get their alias again.
    Stop {
        #[command(flatten)]
        target: Target,
        /// The experiment's key.
        #[arg(long)]
        key: String,
    },
}

#[derive(Subcommand)]
enum ShadowCommand {
    /// Run CHALLENGER in the shadow of --alias on --sample of the inputs.
    Start {
        #[command(flatten)]
        target: Target,
        /// A published version other than the alias's.
        challenger: String,
        /// Share of inputs (0..1) the challenger also runs on.
        #[arg(long)]
        sample: f64,
        /// The alias whose version is the champion.
        #[arg(long, default_value = "stable")]
        alias: String,
    },
    /// Stop the shadow runs on --alias (only --challenger's, if given).
    Stop {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value = "stable")]
        alias: String,
        /// Only this challenger's shadow.
        #[arg(long)]
        challenger: Option<String>,
    },
}

#[derive(Subcommand)]
enum InterleaveCommand {
    /// Interleave two versions' rankings on --alias pages: --arm a=1.0.0 --arm b=1.1.0.
    Start {
        #[command(flatten)]
        target: Target,
        /// Interleave key (unique among rule keys).
        #[arg(long)]
        key: String,
        /// An arm (exactly 2): name=version.
        #[arg(long = "arm", value_name = "NAME=VERSION", value_parser = parse::plain_arm, required = true)]
        arms: Vec<InterleaveArm>,
        #[arg(long, default_value = "stable")]
        alias: String,
    },
    /// Stop interleaving.
    Stop {
        #[command(flatten)]
        target: Target,
        /// The interleave's key.
        #[arg(long)]
        key: String,
    },
}

/// Applies `edit` to the target's channel as the CLI and says what happened.
fn change(target: &Target, edit: impl FnOnce(&mut Channel) -> Result<Change, RolloutError>) -> Result<()> {
    let folder = ModelFolder::open(&target.models, &target.model, target.signing_key.as_deref())?;
    let applied = folder.apply(By::Cli, edit)?;
    report(&folder, &applied);
    Ok(())
}

fn report(folder: &ModelFolder, applied: &Applied) {
    let rule = applied.change.rule.as_ref().map_or(String::new(), |r| format!(" (rule {r})"));
    if !applied.written {
        println!("{} {}: nothing to change{rule}", folder.model, applied.change.action);
        return;
    }
    println!(
        "{} {}{rule}: {}; channel updatedAt {}",
        folder.model, applied.change.action, applied.change.detail, applied.channel.updated_at
    );
    match &applied.signed_by {
        Some(key) => println!("signed the channel with key {key}"),
        None if applied.removed_signature => {
            eprintln!("warning: no --signing-key: the channel is unsigned now and its old signature was removed (loaders pinning a key will refuse it until `burn-edge sign`)")
        }
        None => eprintln!("warning: no --signing-key: the channel is unsigned"),
    }
}

/// Runs a `burn-edge rollout` subcommand.
pub fn run(args: RolloutArgs) -> Result<()> {
    match args.command {
        RolloutCommand::Canary { target, version, percent, alias, key, groups } => {
            change(&target, |c| edits::canary(c, &version, percent, &alias, key.as_deref(), &groups))
        }
        RolloutCommand::Ramp { target, rule, steps: Some(steps), every: Some(every), .. } => {
            let steps = parse::percents(&steps).map_err(RolloutError::Refused)?;
            change(&target, |c| edits::ramp_schedule(c, rule.as_deref(), &steps, every, chrono::Utc::now()))
        }
        RolloutCommand::Ramp { target, rule, percent: Some(percent), .. } => {
            change(&target, |c| edits::ramp_percent(c, rule.as_deref(), percent))
        }
        RolloutCommand::Ramp { .. } => Err(RolloutError::Refused("ramp needs --steps with --every, or --percent".into()).into()),
        RolloutCommand::Promote { target, rule, arm } => change(&target, |c| edits::promote(c, rule.as_deref(), arm.as_deref())),
        RolloutCommand::Rollback { target, rule, alias } => change(&target, |c| edits::rollback(c, rule.as_deref(), &alias)),
        RolloutCommand::Kill { target, off } => change(&target, |c| edits::kill(c, !off)),
        RolloutCommand::Experiment { command: ExperimentCommand::Start { target, key, arms, coverage, namespace, alias, groups } } => {
            change(&target, |c| {
                edits::experiment_start(c, ExperimentSpec { key: &key, alias: &alias, arms, coverage, namespace, groups: &groups })
            })
        }
        RolloutCommand::Experiment { command: ExperimentCommand::Stop { target, key } } => {
            change(&target, |c| edits::experiment_stop(c, &key))
        }
        RolloutCommand::Shadow { command: ShadowCommand::Start { target, challenger, sample, alias } } => {
            change(&target, |c| edits::shadow_start(c, &challenger, sample, &alias))
        }
        RolloutCommand::Shadow { command: ShadowCommand::Stop { target, alias, challenger } } => {
            change(&target, |c| edits::shadow_stop(c, &alias, challenger.as_deref()))
        }
        RolloutCommand::Interleave { command: InterleaveCommand::Start { target, key, arms, alias } } => {
            change(&target, |c| edits::interleave_start(c, &key, &alias, arms))
        }
        RolloutCommand::Interleave { command: InterleaveCommand::Stop { target, key } } => {
            change(&target, |c| edits::interleave_stop(c, &key))
        }
        RolloutCommand::Status { model, collector, rule, json } => {
            let report = collector.client().report(&model, rule.as_deref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{}", super::status::render(&report));
            }
            Ok(())
        }
        RolloutCommand::Guard {
            target,
            collector,
            rule,
            arm,
            interval,
            once,
            alpha,
            min_predictions,
            min_feedback,
            design_effect,
            state,
        } => {
            let folder = ModelFolder::open(&target.models, &target.model, target.signing_key.as_deref())?;
            let config = burn_edge_stats::GuardConfig { alpha, min_predictions, min_feedback, design_effect, ..Default::default() };
            let interval = std::time::Duration::from_millis(interval.max(100) as u64);
            let options = super::guard::GuardOptions { rule, arm, interval, once, config, state_file: state };
            super::guard::run(&folder, &collector.client(), &options)
        }
        RolloutCommand::Assign { model, models, id, alias, attributes, stored, pin, at } => print_assignment(
            &models,
            &model,
            &alias,
            Unit { id, attributes: into_map(attributes), stored: into_map(stored), pin },
            at.as_deref(),
        ),
    }
}

fn into_map(pairs: Vec<(String, String)>) -> BTreeMap<String, String> {
    pairs.into_iter().collect()
}

fn print_assignment(models: &Path, model: &str, alias: &str, unit: Unit, at: Option<&str>) -> Result<()> {
    let folder = ModelFolder::open(models, model, None)?;
    let channel = folder.read()?;
    let now = match at {
        Some(text) => {
            parse_utc_millis(text).with_context(|| format!("--at {text:?} is not an RFC 3339 UTC time (like 2026-12-01T15:00:00Z)"))?
        }
        None => chrono::Utc::now().timestamp_millis(),
    };
    let assignment = assign(&channel, alias, &unit, now)?;
    println!("{}", serde_json::to_string(&assignment)?);
    Ok(())
}
