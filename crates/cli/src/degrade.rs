//! `burn-edge degrade`: a copy of MNIST weights with Gaussian noise added to every parameter,
//! for rollout drills. A guarded canary is only trusted once it has been seen to roll back a
//! release that really is worse; this makes such a release on purpose (still a valid,
//! publishable, signable model, just a less accurate one).

use std::path::Path;

use anyhow::{Context, Result};
use burn::module::{Module, ModuleMapper, Param};
use burn::prelude::*;
use burn_edge_model::{load_mnist, read_mnist_config, save_to_bytes};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Adds `N(0, (noise * std of the tensor)^2)` to each value: the damage is relative to each
/// layer's own scale, so one `noise` means the same for every layer.
struct Noise {
    noise: f32,
    rng: StdRng,
}

impl Noise {
    /// One standard normal draw (Box-Muller).
    fn normal(&mut self) -> f32 {
        let u1: f32 = self.rng.random_range(f32::EPSILON..1.0);
        let u2: f32 = self.rng.random();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }
}

impl ModuleMapper for Noise {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, value, mapper) = param.consume();
        let device = value.device();
        let shape = value.shape();
        let Ok(mut values) = value.to_data().try_into_vec::<f32>() else {
            return Param::from_mapped_value(id, value, mapper);
        };
        let n = values.len().max(1) as f32;
        let mean = values.iter().sum::<f32>() / n;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
        for v in &mut values {
            *v += self.noise * std * self.normal();
        }
        Param::from_mapped_value(id, Tensor::from_data(TensorData::new(values, shape), &device), mapper)
    }
}

/// Writes `input`'s weights with noise `noise` (relative to each tensor's standard deviation)
/// to `out`; the same seed gives the same bytes.
pub fn degrade(input: &Path, out: &Path, noise: f32, seed: u64) -> Result<()> {
    anyhow::ensure!(noise.is_finite() && noise >= 0.0, "--noise must be a finite number >= 0, got {noise}");
    let bytes = std::fs::read(input).with_context(|| format!("reading weights {}", input.display()))?;
    let config = read_mnist_config(&bytes).with_context(|| format!("{} is not MNIST weights", input.display()))?;
    let model = load_mnist(&bytes, &Device::flex()).with_context(|| format!("loading weights {}", input.display()))?;
    let noisy = model.map(&mut Noise { noise, rng: StdRng::seed_from_u64(seed) });
    std::fs::write(out, save_to_bytes(&noisy, &config)?).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_changes_weights_deterministically_and_zero_noise_keeps_them() {
        let dir = std::env::temp_dir().join(format!("burn-edge-degrade-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/mnist/model.bpk");
        let original = std::fs::read(&input).unwrap();
        let [a, b, c, zero] = ["a", "b", "c", "zero"].map(|n| dir.join(format!("{n}.bpk")));
        degrade(&input, &a, 0.5, 7).unwrap();
        degrade(&input, &b, 0.5, 7).unwrap();
        degrade(&input, &c, 0.5, 8).unwrap();
        degrade(&input, &zero, 0.0, 7).unwrap();
        let read = |p: &Path| std::fs::read(p).unwrap();
        assert_eq!(read(&a), read(&b), "same seed, same bytes");
        assert_ne!(read(&a), read(&c), "another seed, other noise");
        assert_ne!(read(&a), original);
        assert_eq!(read(&zero), original, "no noise re-encodes the same weights");
        assert!(load_mnist(&read(&a), &Device::flex()).is_ok(), "the degraded file is valid weights");
        assert!(degrade(&input, &a, f32::NAN, 1).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
