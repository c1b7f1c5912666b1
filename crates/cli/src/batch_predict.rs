//! `burn-edge predict --batch`: many examples through the same native session as the server's
//! `/v1/predict` (the browser runtime's CPU path), in batches of `--batch-size`. Inputs: a
//! folder of images (prepared per the manifest's input schema, as the browser prepares them),
//! an MNIST IDX image file, or rows of values (JSON / CSV). Results go to CSV or JSON lines;
//! throughput (examples/s, counting inference only) is printed, and written with
//! `--summary-json` for the benchmark script. A file that cannot be read is named.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use burn_edge_model::ImageSpec;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::native_session::NativeModel;

/// What `predict --batch` was asked to do.
pub struct BatchArgs {
    pub input: PathBuf,
    pub manifest: PathBuf,
    pub batch_size: usize,
    pub out: Option<PathBuf>,
    pub summary_json: Option<PathBuf>,
}

/// The run's numbers (`--summary-json`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub examples: usize,
    pub batch_size: usize,
    /// Seconds spent in inference.
    pub seconds: f64,
    pub per_second: f64,
    pub model: String,
    pub version: String,
    pub architecture: String,
    pub kernels: String,
}

/// Where the examples come from.
enum Source {
    /// Image files, prepared batch by batch (a folder of photos does not fit in memory), as
    /// the browser's `prepareImage` does (MNIST's `mnist-digit` framing included).
    Images { files: Vec<PathBuf>, prep: ImageSpec },
    /// Examples already as values (IDX pixels / 255, or rows), with their names.
    Values { rows: Vec<Vec<f32>>, name: String },
}

impl Source {
    fn len(&self) -> usize {
        match self {
            Source::Images { files, .. } => files.len(),
            Source::Values { rows, .. } => rows.len(),
        }
    }

    /// Example `i` as values, and its name in the results.
    fn example(&self, i: usize) -> Result<(Vec<f32>, String)> {
        match self {
            Source::Images { files, prep } => {
                let path = &files[i];
                let image = image::open(path).with_context(|| format!("{}: cannot decode image", path.display()))?.to_rgba8();
                let (w, h) = (image.width() as usize, image.height() as usize);
                let values = prep.prepare(image.as_raw(), w, h).with_context(|| format!("{}: cannot prepare image", path.display()))?;
                Ok((values, path.display().to_string()))
            }
            Source::Values { rows, name } => Ok((rows[i].clone(), format!("{name}#{}", i + 1))),
        }
    }
}

fn is_image(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    matches!(ext.as_str(), "png" | "jpg" | "jpeg")
}

fn is_idx(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.contains("-ubyte") || name.ends_with(".idx") || name.ends_with(".idx.gz")
}

fn source(input: &Path, model: &NativeModel) -> Result<Source> {
    let input_len = model.architecture.input_len();
    if input.is_dir() {
        if model.manifest.input.preprocessing.is_none() {
            bail!("{} takes values, not images: pass a JSON or CSV file of rows", model.architecture.id());
        }
        let prep = ImageSpec::from_schema(&model.manifest.input).context("the manifest's input schema")?;
        let mut files: Vec<PathBuf> = std::fs::read_dir(input)
            .with_context(|| format!("reading {}", input.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_image(p))
            .collect();
        files.sort();
        if files.is_empty() {
            bail!("{} has no .png, .jpg or .jpeg files", input.display());
        }
        return Ok(Source::Images { files, prep });
    }
    let name = input.file_name().map_or_else(|| input.display().to_string(), |n| n.to_string_lossy().into_owned());
    if is_idx(input) {
        let images = crate::idx::read_images(input)?;
        if images.rows * images.cols != input_len {
            bail!(
                "{}: {}x{} images are {} values, {} takes {input_len}",
                input.display(),
                images.rows,
                images.cols,
                images.rows * images.cols,
                model.architecture.id()
            );
        }
        let rows = images.pixels.chunks(input_len).map(|px| px.iter().map(|&p| f32::from(p) / 255.0).collect()).collect();
        return Ok(Source::Values { rows, name });
    }
    let rows = crate::rows::read_rows(input, input_len)?;
    Ok(Source::Values { rows, name })
}

/// How results are written, by the output file's extension.
enum Writer {
    Csv(std::io::BufWriter<std::fs::File>),
    Jsonl(std::io::BufWriter<std::fs::File>),
}

impl Writer {
    fn create(path: &Path) -> Result<Writer> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        let open = || -> Result<_> {
            let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
            Ok(std::io::BufWriter::new(file))
        };
        match ext.as_str() {
            "csv" => {
                let mut w = open()?;
                writeln!(w, "index,source,class,label,confidence")?;
                Ok(Writer::Csv(w))
            }
            "jsonl" | "ndjson" => Ok(Writer::Jsonl(open()?)),
            _ => bail!("--out {}: name a .csv or .jsonl file", path.display()),
        }
    }

    fn row(&mut self, index: usize, source: &str, probs: &[f32], labels: &[String]) -> Result<()> {
        let class = crate::spec_release::argmax(probs);
        let label = labels.get(class).cloned().unwrap_or_else(|| format!("#{class}"));
        match self {
            Writer::Csv(w) => writeln!(w, "{index},{},{class},{},{}", csv_field(source), csv_field(&label), probs[class])?,
            Writer::Jsonl(w) => {
                let row = serde_json::json!({
                    "index": index, "source": source, "class": class, "label": label,
                    "confidence": probs[class], "probabilities": probs,
                });
                writeln!(w, "{row}")?
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        match self {
            Writer::Csv(mut w) | Writer::Jsonl(mut w) => w.flush().context("writing the results"),
        }
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Runs the batch and returns its numbers.
pub fn run(args: &BatchArgs) -> Result<Summary> {
    if args.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let model = NativeModel::open(&args.manifest, 1)?;
    let source = source(&args.input, &model)?;
    let total = source.len();
    let mut writer = args.out.as_deref().map(Writer::create).transpose()?;
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} examples ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let classes = model.architecture.outputs();
    let mut inference = Duration::ZERO;
    let mut start = 0;
    while start < total {
        let end = (start + args.batch_size).min(total);
        let mut input = Vec::with_capacity((end - start) * model.architecture.input_len());
        let mut names = Vec::with_capacity(end - start);
        for i in start..end {
            let (values, name) = source.example(i)?;
            input.extend_from_slice(&values);
            names.push(name);
        }
        let started = Instant::now();
        let probs = model.predict(&input).with_context(|| format!("examples {}..{}", start + 1, end))?;
        inference += started.elapsed();
        if let Some(w) = writer.as_mut() {
            for (k, (p, name)) in probs.chunks(classes).zip(&names).enumerate() {
                w.row(start + k, name, p, &model.manifest.labels)?;
            }
        }
        bar.inc((end - start) as u64);
        start = end;
    }
    bar.finish_and_clear();
    if let Some(w) = writer {
        w.finish()?;
    }
    let seconds = inference.as_secs_f64();
    let summary = Summary {
        examples: total,
        batch_size: args.batch_size,
        seconds,
        per_second: if seconds > 0.0 { total as f64 / seconds } else { 0.0 },
        model: model.manifest.name.clone(),
        version: model.manifest.version.clone(),
        architecture: model.architecture.id().to_string(),
        kernels: model.kernels.to_string(),
    };
    if let Some(path) = &args.summary_json {
        std::fs::write(path, serde_json::to_string_pretty(&summary)? + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(summary)
}
