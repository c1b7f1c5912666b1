//! `burn-edge`: the developer commands (train, eval, predict, publish, rollout, serve) around the shared
//! model crate.

mod batch_predict;
mod collector;
mod collector_args;
mod compress;
mod dataset;
mod degrade;
mod evaluate;
#[cfg(feature = "onnx")]
mod export_onnx;
#[cfg(test)]
mod fuzz_support;
mod idx;
#[cfg(feature = "onnx")]
mod import_onnx;
mod mnist_release;
mod model_catalog;
mod native_session;
mod page_policy;
mod predict;
mod predict_api;
mod publish;
mod rollout;
mod rows;
mod serve;
mod serve_args;
mod server;
mod signing;
mod spec_release;
mod train;

use std::path::PathBuf;

use anyhow::{Context, Result};
use burn::prelude::*;
use burn_edge_model::{load_mnist, save_to_bytes, MnistConfig};
use clap::{Parser, Subcommand};
use serde_json::json;

/// burn-edge developer commands.
#[derive(Parser)]
#[command(name = "burn-edge", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train the MNIST CNN on the full training set and write weights + metrics.
    Train {
        /// Folder with the four MNIST IDX .gz files.
        #[arg(long, default_value = "../shared/datasets/mnist")]
        data: PathBuf,
        /// Output folder for model.bpk and metrics.json.
        #[arg(long, default_value = "models/mnist")]
        out: PathBuf,
        #[arg(long, default_value_t = 4)]
        epochs: usize,
        #[arg(long, default_value_t = 64)]
        batch_size: usize,
        #[arg(long, default_value_t = 1e-3)]
        learning_rate: f64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Train on only the first N images (quick runs).
        #[arg(long)]
        limit: Option<usize>,
        /// Channels of the two convolutions and width of the hidden layer.
        #[arg(long, num_args = 3, value_names = ["CONV1", "CONV2", "HIDDEN"], default_values_t = [32, 64, 128])]
        size: Vec<usize>,
    },
    /// Report the accuracy of weights on the 10,000 MNIST test digits.
    Eval {
        #[arg(long, default_value = "models/mnist/model.bpk")]
        model: PathBuf,
        #[arg(long, default_value = "../shared/datasets/mnist")]
        data: PathBuf,
    },
    /// Classify image files (PNG/JPEG, any size), or rows of values (--input), and print the
    /// top classes.
    Predict {
        /// Image files.
        #[arg(required_unless_present_any = ["input", "batch"])]
        images: Vec<PathBuf>,
        /// Classify many examples in batches through the browser runtime's CPU session (the
        /// server's path): a folder of images, an MNIST IDX image file (*-ubyte.gz) or a JSON /
        /// CSV file of rows; --model names the version's manifest.json. Prints examples/s.
        #[arg(long, value_name = "PATH", conflicts_with_all = ["images", "input", "json"])]
        batch: Option<PathBuf>,
        /// Examples per inference with --batch.
        #[arg(long, default_value_t = 32, requires = "batch")]
        batch_size: usize,
        /// Where --batch writes one result per example: a .csv or .jsonl file.
        #[arg(long, value_name = "FILE", requires = "batch")]
        out: Option<PathBuf>,
        /// Where --batch writes its numbers as JSON: {examples, batchSize, seconds, perSecond, ...}.
        #[arg(long, value_name = "FILE", requires = "batch")]
        summary_json: Option<PathBuf>,
        /// A JSON array of values (one example, e.g. a tabular model's features), an array of
        /// such arrays, or CSV with one example per line (with --manifest).
        #[arg(long, requires = "manifest", conflicts_with = "images")]
        input: Option<PathBuf>,
        #[arg(long, default_value = "models/mnist/model.bpk")]
        model: PathBuf,
        /// How many classes to print per image.
        #[arg(long, default_value_t = 3)]
        top: usize,
        /// Use a published version instead of --model: its manifest gives the architecture,
        /// the input preprocessing, the labels and the (verified) weights.
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// Print every image's full probability vector as one JSON line instead (with --manifest).
        #[arg(long, requires = "manifest")]
        json: bool,
    },
    /// Publish weights as an immutable model version in the CDN layout under models/<name>/,
    /// evaluating them on the test digits for the manifest's metrics and drift reference.
    Publish {
        /// Semantic version of this model build, e.g. 1.1.0.
        #[arg(long)]
        version: String,
        #[arg(long, default_value = "models/mnist/model.bpk")]
        weights: PathBuf,
        /// Model name: the folder under --models.
        #[arg(long, default_value = "mnist")]
        name: String,
        /// Alias to point at this version (repeatable), e.g. --alias stable --alias canary.
        #[arg(long = "alias")]
        aliases: Vec<String>,
        /// Root of the CDN layout.
        #[arg(long, default_value = "models")]
        models: PathBuf,
        #[arg(long, default_value = "../shared/datasets/mnist")]
        data: PathBuf,
        /// Publish any architecture of this build described by this model spec (name,
        /// architecture, input schema, labels, optional evaluation images) instead of MNIST.
        #[arg(long)]
        spec: Option<PathBuf>,
        /// Private key (from `keygen`) to sign the manifest and the channel with. Without
        /// one the release is unsigned, which loaders pinning a public key refuse.
        #[arg(long, env = "BURN_EDGE_SIGNING_KEY", value_name = "PATH")]
        signing_key: Option<PathBuf>,
    },
    /// Publish compressed weights variants (int8, f16) of a published version as a new version,
    /// each evaluated against the reference weights; a loader downloads only the one it selects.
    Compress(compress::CompressArgs),
    /// Create an Ed25519 release-signing key: writes DIR/signing.key (mode 0600; never put it
    /// under models/) and DIR/signing.pub, and prints the public key for `loadModel({ publicKey })`.
    Keygen {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// (Re)sign a published model folder (e.g. models/mnist): every manifest its channel lists,
    /// once each manifest's files verify, then the channel.
    Sign {
        /// The model folder holding channel.json.
        folder: PathBuf,
        /// Private key from `keygen`.
        #[arg(long, env = "BURN_EDGE_SIGNING_KEY", value_name = "PATH")]
        key: PathBuf,
    },
    /// Check a model folder as a loader pinning this public key would: every manifest's files,
    /// and the channel's and every manifest's signature.
    Verify {
        /// The model folder holding channel.json.
        folder: PathBuf,
        /// The public key: signing.pub, or its base64.
        #[arg(long, value_name = "PATH_OR_BASE64")]
        public_key: String,
    },
    /// Import an ONNX model: its architecture as Burn code (to commit into crates/model) and
    /// its weights as a Burnpack file (to publish).
    ImportOnnx {
        /// The .onnx file (opset 16 or later works best).
        onnx: PathBuf,
        /// Where the generated Rust module goes.
        #[arg(long)]
        code: PathBuf,
        /// Where the weights go.
        #[arg(long)]
        weights: PathBuf,
    },
    /// Export published weights as an ONNX file (class probabilities out, dynamic batch), to
    /// run the same model in other runtimes.
    ExportOnnx {
        /// A Burnpack weights file (e.g. models/mnist/model.bpk).
        weights: PathBuf,
        /// Where the .onnx file goes.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a copy of MNIST weights with Gaussian noise added (relative to each layer's spread),
    /// to publish as a deliberately worse release: a drill for `rollout guard`.
    Degrade {
        /// MNIST weights (e.g. models/mnist/model.bpk).
        weights: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Noise standard deviation, as a multiple of each tensor's standard deviation.
        /// (2 takes the committed model from 99% to about 37% on the test digits.)
        #[arg(long, default_value_t = 2.0)]
        noise: f32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Roll a new version out through the channel file: canary, ramp, promote, rollback, kill,
    /// experiment, shadow, interleave; `assign` says which version a unit gets.
    Rollout(rollout::RolloutArgs),
    /// Serve the demo page (www/), the wasm builds (pkg/), models/ and the telemetry collector
    /// on a local port.
    Serve(serve_args::ServeArgs),
    /// Back up or restore the SQLite telemetry store.
    Collector(collector_args::CollectorArgs),
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Train { data, out, epochs, batch_size, learning_rate, seed, limit, size } => {
            let config = MnistConfig::new().with_conv1_channels(size[0]).with_conv2_channels(size[1]).with_hidden(size[2]);
            let opts = train::TrainOptions { epochs, batch_size, learning_rate, seed, limit };
            let train_set = dataset::load_split(&data, "train")?;
            let test_set = dataset::load_split(&data, "t10k")?;
            eprintln!("training on {} images, {} epochs, seed {seed}", opts.limit.unwrap_or(train_set.len()).min(train_set.len()), epochs);
            let (model, report) = train::train(&config, &train_set, &opts, true)?;
            let accuracy = evaluate::evaluate(&model, &test_set, &Device::flex())?;
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let weights = out.join("model.bpk");
            std::fs::write(&weights, save_to_bytes(&model.valid(), &config)?).with_context(|| format!("writing {}", weights.display()))?;
            let metrics = json!({
                "model": "mnist-cnn",
                "config": { "conv1_channels": config.conv1_channels, "conv2_channels": config.conv2_channels, "hidden": config.hidden },
                "training": opts,
                "report": report,
                "test": accuracy,
            });
            let metrics_path = out.join("metrics.json");
            std::fs::write(&metrics_path, serde_json::to_string_pretty(&metrics)? + "\n")
                .with_context(|| format!("writing {}", metrics_path.display()))?;
            println!(
                "trained in {:.0} s; test accuracy {:.2}% ({}/{}); wrote {} and {}",
                report.seconds,
                accuracy.accuracy * 100.0,
                accuracy.correct,
                accuracy.total,
                weights.display(),
                metrics_path.display()
            );
        }
        Command::Eval { model, data } => {
            let device = Device::flex();
            let net = load_weights(&model, &device)?;
            let test_set = dataset::load_split(&data, "t10k")?;
            let accuracy = evaluate::evaluate(&net, &test_set, &device)?;
            println!(
                "{}: test accuracy {:.2}% ({}/{} digits)",
                model.display(),
                accuracy.accuracy * 100.0,
                accuracy.correct,
                accuracy.total
            );
            for (digit, acc) in accuracy.per_class.iter().enumerate() {
                println!("  digit {digit}: {:.2}%", acc * 100.0);
            }
        }
        Command::Predict { batch: Some(input), model, manifest, batch_size, out, summary_json, .. } => {
            let manifest = manifest.unwrap_or(model);
            if manifest.extension().is_none_or(|e| e != "json") {
                anyhow::bail!("--batch runs a published version: pass --model <version>/manifest.json (got {})", manifest.display());
            }
            let args = batch_predict::BatchArgs { input, manifest, batch_size, out, summary_json };
            let s = batch_predict::run(&args)?;
            println!(
                "{} examples of {}@{} in batches of {}: {:.3} s of inference, {:.1} examples/s ({} kernels)",
                s.examples, s.model, s.version, s.batch_size, s.seconds, s.per_second, s.kernels
            );
        }
        Command::Predict { input: Some(input), manifest: Some(manifest), top, json, .. } => {
            let device = Device::flex();
            let published = predict::Published::open(&manifest, &device)?;
            for (i, probs) in published.classify_rows(&input, &device)?.iter().enumerate() {
                if json {
                    println!("{}", json!({ "row": i + 1, "probabilities": probs }));
                    continue;
                }
                println!("{} row {}: {}", input.display(), i + 1, published.describe(probs, top).join(", "));
            }
        }
        Command::Predict { images, manifest: Some(manifest), top, json, .. } => {
            let device = Device::flex();
            let published = predict::Published::open(&manifest, &device)?;
            for path in images {
                let probs = published.classify(&path, &device)?;
                if json {
                    println!("{}", json!({ "image": path, "probabilities": probs }));
                    continue;
                }
                println!("{}: {}", path.display(), published.describe(&probs, top).join(", "));
            }
        }
        Command::Predict { images, model, top, .. } => {
            let device = Device::flex();
            let net = load_weights(&model, &device)?;
            for path in images {
                let ranked = predict::classify_file(&net, &path, &device)?;
                let shown: Vec<String> = ranked.iter().take(top).map(|(c, p)| format!("{c} ({:.1}%)", p * 100.0)).collect();
                println!("{}: {}", path.display(), shown.join(", "));
            }
        }
        Command::Publish { version, weights, aliases, models, spec: Some(spec), signing_key, .. } => {
            burn_edge_formats::parse_version("--version", &version)?;
            let key = signing_key.as_deref().map(signing::read_signing_key).transpose()?;
            let device = Device::flex();
            let spec = spec_release::ModelSpec::read(&spec)?;
            let raw = std::fs::read(&weights).with_context(|| format!("reading weights {}", weights.display()))?;
            let network = spec.architecture()?.load(&raw, &device).with_context(|| format!("loading weights {}", weights.display()))?;
            // Re-encoded reproducibly, with the architecture id (import-onnx's output has none).
            let bytes = network.save()?;
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let manifest = spec_release::spec_manifest(&spec, &version, network.as_ref(), &bytes, &now, &device)?;
            manifest.validate().context("building the manifest")?;
            let outcome = publish::publish(&models, &manifest, &[&bytes], &aliases, &now, key.as_ref())?;
            report_publish(&outcome, &manifest, bytes.len(), &aliases, key.as_ref());
        }
        Command::Publish { version, weights, name, aliases, models, data, spec: None, signing_key } => {
            burn_edge_formats::parse_version("--version", &version)?;
            let key = signing_key.as_deref().map(signing::read_signing_key).transpose()?;
            let device = Device::flex();
            let (bytes, net) = read_weights(&weights, &device)?;
            let accuracy = evaluate::evaluate(&net, &dataset::load_split(&data, "t10k")?, &device)?;
            let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let manifest = mnist_release::mnist_manifest(&name, &version, &bytes, &accuracy, &now);
            manifest.validate().context("building the manifest")?;
            let outcome = publish::publish(&models, &manifest, &[&bytes], &aliases, &now, key.as_ref())?;
            report_publish(&outcome, &manifest, bytes.len(), &aliases, key.as_ref());
        }
        Command::Compress(args) => compress::print_table(&compress::run(&args)?),
        Command::Keygen { out } => {
            let key = signing::generate().context("reading the system's random source")?;
            let (private, public) = signing::write_keypair(&out, &key)?;
            eprintln!("wrote {} (keep it secret, never on the CDN) and {}", private.display(), public.display());
            println!("{}", signing::public_key_base64(&key.verifying_key()));
        }
        Command::Sign { folder, key } => {
            let key = signing::read_signing_key(&key)?;
            let signed = signing::sign_folder(&folder, &key)?;
            println!("signed {} (channel and manifests {}) with key {}", folder.display(), signed.versions.join(", "), signed.key_id);
        }
        Command::Verify { folder, public_key } => {
            let verified = signing::verify_folder(&folder, &signing::read_public_key(&public_key)?)?;
            println!(
                "{}: channel and manifests {} verify, signed by key {}",
                folder.display(),
                verified.versions.join(", "),
                verified.key_id
            );
        }
        #[cfg(feature = "onnx")]
        Command::ImportOnnx { onnx, code, weights } => {
            let imported = import_onnx::import(&onnx, &code, &weights)?;
            println!(
                "imported {} (sha256 {}): architecture -> {}, weights -> {}",
                onnx.display(),
                &imported.onnx_sha256[..12],
                imported.code.display(),
                imported.weights.display()
            );
        }
        #[cfg(feature = "onnx")]
        Command::ExportOnnx { weights, out } => {
            let (architecture, size) = export_onnx::export(&weights, &out)?;
            println!("exported {} ({architecture}) -> {} ({size} bytes)", weights.display(), out.display());
        }
        #[cfg(not(feature = "onnx"))]
        Command::ImportOnnx { .. } | Command::ExportOnnx { .. } => anyhow::bail!(
            "this burn-edge was built without burn-onnx (`--no-default-features`, as `npm start` builds it first to \
             serve sooner): build the full CLI with `cargo build -p burn-edge-cli`"
        ),
        Command::Degrade { weights, out, noise, seed } => {
            degrade::degrade(&weights, &out, noise, seed)?;
            println!("wrote {} ({} with noise {noise} x each tensor's standard deviation, seed {seed})", out.display(), weights.display());
        }
        Command::Rollout(args) => rollout::run(args)?,
        Command::Serve(args) => serve_args::run(args)?,
        Command::Collector(args) => collector_args::run(args)?,
    }
    Ok(())
}

fn load_weights(path: &std::path::Path, device: &Device) -> Result<burn_edge_model::MnistCnn> {
    read_weights(path, device).map(|(_, net)| net)
}

/// Says what a publish did, and whether the release is signed.
fn report_publish(
    outcome: &publish::Outcome,
    manifest: &burn_edge_formats::Manifest,
    size: usize,
    aliases: &[String],
    key: Option<&ed25519_dalek::SigningKey>,
) {
    let what = match outcome {
        publish::Outcome::Published => "published",
        publish::Outcome::AlreadyPublished => "already published with these weights; aliases applied to",
    };
    let version = &manifest.version;
    println!(
        "{what} {}@{version} (sha256 {}, {size} bytes, accuracy {:.2}% on {} ({} samples)){}",
        manifest.name,
        &manifest.files[0].sha256[..12],
        manifest.metrics.accuracy * 100.0,
        manifest.metrics.dataset,
        manifest.metrics.samples,
        if aliases.is_empty() { String::new() } else { format!("; {} -> {version}", aliases.join(", ")) }
    );
    match key {
        Some(key) => println!("signed the manifest and the channel with key {}", signing::key_id(&key.verifying_key())),
        None => println!("unsigned release (no --signing-key): loaders that pin a public key will refuse it"),
    }
}

/// The weight file's bytes and the model they decode to.
fn read_weights(path: &std::path::Path, device: &Device) -> Result<(Vec<u8>, burn_edge_model::MnistCnn)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading weights {}", path.display()))?;
    let net = load_mnist(&bytes, device).with_context(|| format!("loading weights {}", path.display()))?;
    Ok((bytes, net))
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks over every subcommand (rollout's flag relations included).
    #[test]
    fn the_command_line_definition_with_rollout_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
