//! In-place elementwise steps between kernels (what a plan cannot fuse into an epilogue): a
//! residual sum, an activation, a per-channel affine map (an unfolded batch norm), four
//! lanes at a time.

use super::activation::Activation;
use super::simd::F32x4;

/// `dst[i] += src[i]`.
///
/// # Panics
/// When the lengths differ.
pub fn add_in_place(dst: &mut [f32], src: &[f32]) {
    assert_eq!(dst.len(), src.len(), "add_in_place: {} values plus {}", dst.len(), src.len());
    let mut d = dst.chunks_exact_mut(4);
    let mut s = src.chunks_exact(4);
    for (d, s) in (&mut d).zip(&mut s) {
        F32x4::load(d).add(F32x4::load(s)).store(d);
    }
    for (d, s) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *d += s;
    }
}

/// `values[i] = activation(values[i])`.
pub fn activate_in_place(values: &mut [f32], activation: Activation) {
    if activation == Activation::None {
        return;
    }
    let mut chunks = values.chunks_exact_mut(4);
    for c in &mut chunks {
        activation.apply4(F32x4::load(c)).store(c);
    }
    for v in chunks.into_remainder() {
        *v = activation.apply(*v);
    }
}

/// `values[c][i] = values[c][i] * scale[c] + shift[c]` over `channels` planes of `plane` values.
///
/// # Panics
/// When `values` is not `channels * plane` long or `scale`/`shift` are not `channels` long.
#[cfg_attr(all(target_arch = "wasm32", feature = "relaxed-simd"), target_feature(enable = "relaxed-simd"))]
pub fn channel_affine_in_place(values: &mut [f32], channels: usize, plane: usize, scale: &[f32], shift: &[f32]) {
    assert_eq!(values.len(), channels * plane, "channel_affine_in_place: not {channels} planes of {plane}");
    assert!(scale.len() == channels && shift.len() == channels, "channel_affine_in_place: {channels} channels");
    if plane == 0 {
        return;
    }
    for ((p, &a), &b) in values.chunks_exact_mut(plane).zip(scale).zip(shift) {
        let (av, bv) = (F32x4::splat(a), F32x4::splat(b));
        let mut chunks = p.chunks_exact_mut(4);
        for c in &mut chunks {
            bv.mul_add(F32x4::load(c), av).store(c);
        }
        for v in chunks.into_remainder() {
            *v = *v * a + b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::activation::tests::{reference, ALL};
    use crate::cpu::test_values::{assert_close, values};

    #[test]
    fn add_and_activate_match_a_loop_for_ragged_lengths() {
        for len in [0, 1, 3, 4, 7, 33] {
            let (a, b) = (values(len, 1), values(len, 2));
            let mut sum = a.clone();
            add_in_place(&mut sum, &b);
            let want: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
            assert_close(&sum, &want, 0.0, &format!("add {len}"));
            for act in ALL {
                let mut got = a.clone();
                activate_in_place(&mut got, act);
                let want: Vec<f32> = a.iter().map(|&x| reference(act, x)).collect();
                assert_close(&got, &want, 1e-6, &format!("{act:?} {len}"));
            }
        }
    }

    #[test]
    fn channel_affine_scales_and_shifts_each_plane() {
        for (channels, plane) in [(3, 7), (2, 8), (1, 1), (4, 0)] {
            let (x, scale, shift) = (values(channels * plane, 3), values(channels, 4), values(channels, 5));
            let mut got = x.clone();
            channel_affine_in_place(&mut got, channels, plane, &scale, &shift);
            let want: Vec<f32> = x.iter().enumerate().map(|(i, v)| v * scale[i / plane] + shift[i / plane]).collect();
            assert_close(&got, &want, 1e-6, &format!("{channels}x{plane}"));
        }
    }
}
