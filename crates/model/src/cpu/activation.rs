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
            Activation::Sigmoid => sigmoid4(v),
        }
    }
}

// `e^x` as `2^n * p(r)` with `x = n ln 2 + r`, `|r| <= ln 2 / 2`, and `p` Cephes' `expf`
// polynomial (relative error ~2e-7), written once for four lanes and once for one in the same
// operations, so both give the same bits. `ln 2` is split in two for an exact `n ln 2`.
const EXP_MIN: f32 = -87.0;
const EXP_MAX: f32 = 88.0;
const LOG2E: f32 = core::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
const EXP_POLY: [f32; 6] = [1.987_569_1e-4, 1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 0.5];

/// `1 / (1 + e^-x)`, scalar, in the operations of [`sigmoid4`].
#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    let x = 0.0 - x;
    let x = if x < EXP_MIN { EXP_MIN } else { x };
    let x = if EXP_MAX < x { EXP_MAX } else { x };
    let n = (x * LOG2E).round_ties_even();
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = EXP_POLY[0];
    for c in &EXP_POLY[1..] {
        p = p * r + c;
    }
    let e = (p * (r * r) + r + 1.0) * f32::from_bits(((n as i32 + 127) << 23) as u32);
    1.0 / (1.0 + e)
}

#[inline(always)]
fn sigmoid4(x: F32x4) -> F32x4 {
    let x = F32x4::zero().sub(x).max(F32x4::splat(EXP_MIN)).min(F32x4::splat(EXP_MAX));
    let n = x.mul(F32x4::splat(LOG2E)).round();
    let r = x.sub(n.mul(F32x4::splat(LN2_HI))).sub(n.mul(F32x4::splat(LN2_LO)));
    let mut p = F32x4::splat(EXP_POLY[0]);
    for &c in &EXP_POLY[1..] {
        p = p.mul(r).add(F32x4::splat(c));
    }
    let one = F32x4::splat(1.0);
    let e = p.mul(r.mul(r)).add(r).add(one).mul(n.pow2i());
    one.div(one.add(e))
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
        let mut xs = vec![-7.0, -1.5, -0.25, -0.0, 0.0, 0.3, 0.5, 2.0, 6.5, -100.0, 100.0, 87.5, -88.5, 1e-8];
        xs.extend((0..400).map(|i| (i as f32 - 200.0) * 0.0731));
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
        assert_eq!(Activation::Sigmoid.apply(0.0), 0.5);
    }
}
