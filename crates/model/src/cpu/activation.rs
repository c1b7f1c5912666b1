//! The activations fused into kernel epilogues: ONNX's `Relu`, `Clip` (ReLU6 and friends) and
//! `Sigmoid`. Comparisons are plain `<` (like wasm's `pmin`/`pmax`), so the scalar and the
//! four-lane forms agree bit for bit.

use super::simd::F32x4;

/// What happens to a value after bias (and residual) are added.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Activation {
    #[default]
    None,
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, min), max)` (ReLU6 is `Clamp { min: 0.0, max: 6.0 }`).
    Clamp { min: f32, max: f32 },
    /// `1 / (1 + e^-x)`.
    Sigmoid,
}

impl Activation {
    /// The activation of one value.
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::None => x,
            Activation::Relu => {
                if x < 0.0 {
                    0.0
                } else {
                    x
                }
            }
            Activation::Clamp { min, max } => {
                let x = if x < min { min } else { x };
                if max < x {
                    max
                } else {
                    x
                }
            }
            Activation::Sigmoid => sigmoid(x),
        }
    }

    /// The activation of four lanes (what the epilogues call).
    #[inline(always)]
    pub(crate) fn apply4(self, v: F32x4) -> F32x4 {
        match self {
            Activation::None => v,
            Activation::Relu => v.max(F32x4::zero()),
            Activation::Clamp { min, max } => v.max(F32x4::splat(min)).min(F32x4::splat(max)),
            // Rare in the convolution stacks this serves (a head or a gate): per lane.
            Activation::Sigmoid => F32x4::from_array(v.to_array().map(sigmoid)),
        }
    }
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every activation, for tests that sweep them.
    pub(crate) const ALL: [Activation; 4] =
        [Activation::None, Activation::Relu, Activation::Clamp { min: -0.25, max: 0.5 }, Activation::Sigmoid];

    /// The definition, written independently of [`Activation::apply`].
    pub(crate) fn reference(a: Activation, x: f32) -> f32 {
        match a {
            Activation::None => x,
            Activation::Relu => x.max(0.0),
            Activation::Clamp { min, max } => x.clamp(min, max),
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        }
    }

    #[test]
    fn scalar_and_lanes_agree_with_the_definitions() {
        let xs = [-7.0, -1.5, -0.25, -0.0, 0.0, 0.3, 0.5, 2.0, 6.5];
        for a in ALL {
            for chunk in xs.chunks_exact(4) {
                let lanes = a.apply4(F32x4::load(chunk)).to_array();
                for (&x, got) in chunk.iter().zip(lanes) {
                    assert_eq!(got, a.apply(x), "{a:?} lanes vs scalar at {x}");
                    assert!((got - reference(a, x)).abs() < 1e-6, "{a:?}({x}) = {got}");
                }
            }
        }
        assert_eq!(Activation::Clamp { min: 0.0, max: 6.0 }.apply(7.0), 6.0);
    }
}
