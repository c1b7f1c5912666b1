//! `burn-edge compress`: compressed weights variants (`int8`, `f16`) of a published version,
//! for any architecture of this build. Each variant is evaluated on the version's evaluation
//! set next to the reference weights (accuracy where labels are known, top-1 agreement with the
//! reference on every example), then all of them are published together as a new version:
//! published manifests are immutable, and a loader downloads only the variant it selects. Every
//! variant is made and evaluated before anything is written, so a failure publishes nothing.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use burn::prelude::*;
use burn_edge_formats::{FileEntry, Manifest, VariantEvaluation};
use burn_edge_model::weight_variants::{self, Variant};
use burn_edge_model::{ImageSpec, Network};
use indicatif::{ProgressBar, ProgressStyle};

use crate::dataset;
use crate::publish::{self, sha256_hex};
use crate::spec_release::{self, argmax, image_spec, ModelSpec, SplitMix};

/// Examples per forward pass while evaluating.
const EVAL_BATCH: usize = 64;

#[derive(clap::Args)]
pub struct CompressArgs {
    /// The published version to compress: MODELS/<name>/<version>/manifest.json.
    #[arg(long)]
    pub manifest: PathBuf,
    /// Semantic version to publish the variants as (with the reference weights first).
    #[arg(long)]
    pub version: String,
    /// Variants to make, comma-separated.
    #[arg(long = "variants", value_enum, value_delimiter = ',', default_values_t = [VariantArg::Int8, VariantArg::F16])]
    pub variants: Vec<VariantArg>,
    /// Alias to point at the new version (repeatable); none leaves the channel's aliases alone.
    #[arg(long = "alias")]
    pub aliases: Vec<String>,
    /// MNIST's IDX files, for a version evaluated on mnist-t10k.
    #[arg(long, default_value = "../shared/datasets/mnist")]
    pub data: PathBuf,
    /// The model spec the version was published from, for its evaluation images.
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Generated views of each evaluation image (seeded crops, half of them mirrored) that
    /// the agreement is measured over too.
    #[arg(long, default_value_t = 50)]
    pub views: usize,
    /// Private key (from `keygen`) to sign the new manifest and the channel with.
    #[arg(long, env = "BURN_EDGE_SIGNING_KEY", value_name = "PATH")]
    pub signing_key: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum VariantArg {
    Int8,
    F16,
}

impl From<VariantArg> for Variant {
    fn from(v: VariantArg) -> Self {
        match v {
            VariantArg::Int8 => Variant::Int8,
            VariantArg::F16 => Variant::F16,
        }
    }
}

/// What one variant came to.
pub struct VariantReport {
    pub variant: String,
    pub bytes: usize,
    pub brotli: usize,
    /// On the labelled examples.
    pub accuracy: f64,
    /// Top-1 equal to the reference's, over every example.
    pub agreement: f64,
}

/// The evaluation examples: flat inputs, and a label where one is known.
struct Examples {
    what: String,
    inputs: Vec<f32>,
    labels: Vec<Option<usize>>,
}

pub fn run(args: &CompressArgs) -> Result<Vec<VariantReport>> {
    burn_edge_formats::parse_version("--version", &args.version)?;
    if args.variants.is_empty() {
        bail!("--variants names no variant (use int8, f16 or both)");
    }
    let key = args.signing_key.as_deref().map(crate::signing::read_signing_key).transpose()?;
    let text = std::fs::read_to_string(&args.manifest).with_context(|| format!("reading {}", args.manifest.display()))?;
    let source = Manifest::from_json(&text).with_context(|| format!("{} is not a valid manifest", args.manifest.display()))?;
    if source.version == args.version {
        bail!("--version {} is the version being compressed; published versions are immutable, give a new one", args.version);
    }
    let not_published = || format!("{} is not at MODELS/<name>/<version>/manifest.json", args.manifest.display());
    let version_dir = args.manifest.parent().with_context(not_published)?;
    let models = version_dir.parent().and_then(Path::parent).with_context(not_published)?;
    let entry = source.weights()?;
    // A plain relative path (the manifest is validated), from the version's folder.
    let weights_path = version_dir.join(&entry.path);
    let reference = std::fs::read(&weights_path).with_context(|| format!("reading {}", weights_path.display()))?;
    if sha256_hex(&reference) != entry.sha256 {
        bail!("{} does not match its manifest's sha256; refusing to compress unverified weights", weights_path.display());
    }
    let device = Device::flex();
    let architecture = spec_release::find_architecture(&source.architecture)?;
    let examples = examples(args, &source, architecture.input_len())?;
    eprintln!("evaluating on {}", examples.what);
    let reference_net = architecture.load(&reference, &device)?;
    let reference_top = top1(reference_net.as_ref(), &examples, "f32 (reference)", &device)?;
    drop(reference_net);

    let mut files = vec![(entry.clone(), reference.clone())];
    let mut reports = vec![report(entry, &reference, &examples, &reference_top, &reference_top)];
    for &variant in &args.variants {
        let variant = Variant::from(variant);
        let bytes = weight_variants::compress(&reference, variant)?;
        let network = architecture.load(&bytes, &device).with_context(|| format!("loading the {} variant back", variant.name()))?;
        let top = top1(network.as_ref(), &examples, variant.name(), &device)?;
        let mut file = publish::weights_entry(&bytes);
        (file.variant, file.dtype) = (variant.name().into(), variant.name().into());
        let r = report(&file, &bytes, &examples, &top, &reference_top);
        let samples = examples.labels.len() as u64;
        file.evaluation = Some(VariantEvaluation { accuracy: r.accuracy, agreement: r.agreement, samples });
        reports.push(r);
        files.push((file, bytes));
    }
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let manifest = Manifest {
        version: args.version.clone(),
        created_at: now.clone(),
        files: files.iter().map(|(f, _)| f.clone()).collect(),
        ..source
    };
    manifest.validate().context("building the manifest")?;
    let contents: Vec<&[u8]> = files.iter().map(|(_, b)| b.as_slice()).collect();
    let outcome = publish::publish(models, &manifest, &contents, &args.aliases, &now, key.as_ref())?;
    crate::report_publish(&outcome, &manifest, reference.len(), &args.aliases, key.as_ref());
    Ok(reports)
}

/// The version's evaluation set: MNIST's test digits, or the spec's images and views of them.
fn examples(args: &CompressArgs, manifest: &Manifest, input_len: usize) -> Result<Examples> {
    if manifest.metrics.dataset == "mnist-t10k" {
        let split = dataset::load_split(&args.data, "t10k")?;
        let labels = split.labels.iter().map(|&l| Some(l as usize)).collect();
        return Ok(Examples { what: format!("{} MNIST test digits", split.len()), inputs: split.pixels, labels });
    }
    let Some(spec_path) = &args.spec else {
        bail!(
            "{}@{} is evaluated on {:?}: pass --spec with the model spec that names its images",
            manifest.name,
            manifest.version,
            manifest.metrics.dataset
        );
    };
    let spec = ModelSpec::read(spec_path)?;
    let (Some(evaluation), Some(prep)) = (&spec.evaluation, image_spec(&manifest.input)?) else {
        bail!("{} has no evaluation images (and a model without image input has none to generate views of)", spec_path.display());
    };
    let mut inputs = Vec::new();
    let mut labels = Vec::new();
    let mut random = SplitMix(0xc0ffee);
    for (file, want) in &evaluation.expected {
        let label =
            manifest.labels.iter().position(|l| l == want).with_context(|| format!("expected label {want:?} for {file} is not a label"))?;
        let path = evaluation.images.join(file);
        let image = image::open(&path).with_context(|| format!("{}: cannot decode image", path.display()))?.to_rgba8();
        inputs.extend(prepare(&prep, &image, None)?);
        labels.push(Some(label));
        for _ in 0..args.views {
            inputs.extend(prepare(&prep, &image, Some(&mut random))?);
            labels.push(None);
        }
    }
    if inputs.len() != labels.len() * input_len {
        bail!("the evaluation examples do not have the model's input size {input_len}");
    }
    let photos = evaluation.expected.len();
    Ok(Examples {
        what: format!(
            "{photos} labelled photos of {:?} and {} generated views of them (seeded crops, half mirrored)",
            evaluation.dataset,
            photos * args.views
        ),
        inputs,
        labels,
    })
}

/// The image as the model takes it: whole, or a seeded crop of 60-100% of its short side (`unit` is in `(0, 1]`),
/// mirrored half of the time.
fn prepare(prep: &ImageSpec, image: &image::RgbaImage, random: Option<&mut SplitMix>) -> Result<Vec<f32>> {
    let Some(random) = random else { return Ok(prep.prepare(image.as_raw(), image.width() as usize, image.height() as usize)?) };
    let (w, h) = image.dimensions();
    let side = ((w.min(h) as f64) * (0.6 + 0.4 * random.unit())).max(1.0) as u32;
    let side = side.min(w).min(h);
    let x = ((w - side) as f64 * random.unit()) as u32;
    let y = ((h - side) as f64 * random.unit()) as u32;
    let mut view = image::imageops::crop_imm(image, x, y, side, side).to_image();
    if random.unit() < 0.5 {
        image::imageops::flip_horizontal_in_place(&mut view);
    }
    Ok(prep.prepare(view.as_raw(), side as usize, side as usize)?)
}

/// Top-1 class of every example, with a progress bar.
fn top1(network: &dyn Network, examples: &Examples, what: &str, device: &Device) -> Result<Vec<usize>> {
    let len = network.architecture().input_len();
    let bar = ProgressBar::new(examples.labels.len() as u64)
        .with_style(ProgressStyle::with_template("{msg:>18} [{bar:40}] {pos}/{len} examples ({eta})").expect("a valid template"))
        .with_message(what.to_string());
    let mut top = Vec::with_capacity(examples.labels.len());
    for batch in examples.inputs.chunks(EVAL_BATCH * len) {
        for row in spec_release::predict(network, batch, device)? {
            top.push(argmax(&row));
        }
        bar.inc((batch.len() / len) as u64);
    }
    bar.finish_and_clear();
    Ok(top)
}

fn report(file: &FileEntry, bytes: &[u8], examples: &Examples, top: &[usize], reference: &[usize]) -> VariantReport {
    let labelled: Vec<(usize, usize)> = examples.labels.iter().zip(top).filter_map(|(l, &t)| l.map(|l| (l, t))).collect();
    let correct = labelled.iter().filter(|(l, t)| l == t).count();
    let agree = top.iter().zip(reference).filter(|(a, b)| a == b).count();
    VariantReport {
        variant: file.variant.clone(),
        bytes: bytes.len(),
        brotli: brotli_len(bytes),
        accuracy: correct as f64 / labelled.len().max(1) as f64,
        agreement: agree as f64 / top.len().max(1) as f64,
    }
}

/// Bytes after brotli at quality 11, as a CDN serves it.
fn brotli_len(bytes: &[u8]) -> usize {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 24, ..Default::default() };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).map_or(0, |_| out.len())
}

/// The table `compress` prints.
pub fn print_table(reports: &[VariantReport]) {
    let reference = reports.first().map_or(1, |r| r.bytes).max(1);
    println!("\n| variant | bytes | of f32 | brotli -q 11 | accuracy (labelled) | top-1 agreement with f32 |");
    println!("|---|---|---|---|---|---|");
    for r in reports {
        println!(
            "| {} | {} | {:.1}% | {} | {:.2}% | {:.2}% |",
            r.variant,
            r.bytes,
            100.0 * r.bytes as f64 / reference as f64,
            r.brotli,
            100.0 * r.accuracy,
            100.0 * r.agreement
        );
    }
}
