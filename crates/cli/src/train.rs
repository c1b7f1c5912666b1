//! Seeded, reproducible training of the MNIST CNN on the CPU (Burn's `flex` backend).

use std::time::Instant;

use anyhow::Result;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn_edge_model::{images_tensor, MnistCnn, MnistConfig, MNIST_PIXELS};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Serialize;

use crate::dataset::Split;

/// What to train and how.
#[derive(Debug, Clone, Serialize)]
pub struct TrainOptions {
    /// Passes over the training set.
    pub epochs: usize,
    /// Images per optimiser step.
    pub batch_size: usize,
    /// Adam learning rate of the first epoch; halved after each epoch.
    pub learning_rate: f64,
    /// Seed for parameter initialisation, dropout and shuffling.
    pub seed: u64,
    /// Train on only the first N images (for quick runs and tests).
    pub limit: Option<usize>,
}

/// The mean loss of each epoch, for the metrics file.
#[derive(Debug, Serialize)]
pub struct TrainReport {
    /// Mean cross-entropy per epoch.
    pub epoch_loss: Vec<f64>,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// Trains a fresh model; `show_progress` draws a progress bar on stderr.
pub fn train(config: &MnistConfig, data: &Split, opts: &TrainOptions, show_progress: bool) -> Result<(MnistCnn, TrainReport)> {
    let started = Instant::now();
    let device = Device::flex().autodiff();
    // Process-global seed: parameter init and dropout masks follow from it.
    device.seed(opts.seed);
    let mut model = config.init(&device);
    let mut optim: ModuleOptimizer = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let n = opts.limit.unwrap_or(data.len()).min(data.len());
    let steps_per_epoch = n.div_ceil(opts.batch_size);

    let bar = if show_progress {
        let bar = ProgressBar::new((steps_per_epoch * opts.epochs) as u64);
        bar.set_style(
            ProgressStyle::with_template("{spinner} epoch {prefix} [{bar:30}] {pos}/{len} steps, {per_sec}, eta {eta} | {msg}")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };

    let mut order: Vec<usize> = (0..n).collect();
    let mut batch = Vec::with_capacity(opts.batch_size * MNIST_PIXELS);
    let mut epoch_loss = Vec::new();
    for epoch in 0..opts.epochs {
        bar.set_prefix(format!("{}/{}", epoch + 1, opts.epochs));
        let lr = opts.learning_rate * 0.5f64.powi(epoch as i32);
        order.shuffle(&mut rng);
        let (mut loss_sum, mut loss_count) = (0.0, 0usize);
        for chunk in order.chunks(opts.batch_size) {
            batch.clear();
            for &i in chunk {
                batch.extend_from_slice(data.image(i));
            }
            let labels: Vec<i64> = chunk.iter().map(|&i| data.labels[i] as i64).collect();
            let images = images_tensor(&batch, &device)?;
            let targets = Tensor::<1, Int>::from_data(TensorData::new(labels, [chunk.len()]), &device);
            let loss = loss_fn.forward(model.forward(images), targets);
            let loss_value: f32 = loss.clone().into_scalar::<f32>();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            loss_sum += loss_value as f64 * chunk.len() as f64;
            loss_count += chunk.len();
            bar.set_message(format!("loss {:.4}", loss_sum / loss_count as f64));
            bar.inc(1);
        }
        epoch_loss.push(loss_sum / loss_count as f64);
    }
    bar.finish();
    Ok((model, TrainReport { epoch_loss, seconds: started.elapsed().as_secs_f64() }))
}
