//! Four f32 lanes: wasm SIMD128 when the build enables it, SSE on x86-64 (what V8 turns wasm
//! SIMD into there, so native tests and measurements see the browser's instruction mix), a
//! plain array elsewhere. The kernels are written once against this type.
//! With the `relaxed-simd` feature the multiply-add is relaxed SIMD's `f32x4.relaxed_madd`; it
//! is enabled per function (not crate-wide: Burn's own SIMD crates do not build with it), so a
//! module built with it only validates in browsers that have relaxed SIMD.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod imp {
    use core::arch::wasm32::*;

    #[derive(Clone, Copy)]
    pub struct F32x4(v128);

    impl F32x4 {
        #[inline(always)]
        pub fn splat(v: f32) -> Self {
            Self(f32x4_splat(v))
        }
        #[inline(always)]
        pub fn zero() -> Self {
            Self(f32x4_splat(0.0))
        }
        /// Loads `src[0..4]`.
        #[inline(always)]
        pub fn load(src: &[f32]) -> Self {
            assert!(src.len() >= 4);
            // SAFETY: four f32 are in bounds (checked above); v128_load allows unaligned reads.
            Self(unsafe { v128_load(src.as_ptr() as *const v128) })
        }
        /// Loads four values from `src`.
        ///
        /// # Safety
        /// `src..src + 4` must be readable (for hot loops that checked their whole range once).
        #[inline(always)]
        pub unsafe fn load_ptr(src: *const f32) -> Self {
            // SAFETY: the caller's contract; v128_load allows unaligned reads.
            Self(unsafe { v128_load(src as *const v128) })
        }
        /// Stores into `dst[0..4]`.
        #[inline(always)]
        pub fn store(self, dst: &mut [f32]) {
            assert!(dst.len() >= 4);
            // SAFETY: four f32 are in bounds (checked above); v128_store allows unaligned writes.
            unsafe { v128_store(dst.as_mut_ptr() as *mut v128, self.0) }
        }
        /// `self + a * b`, rounded twice: baseline wasm SIMD has no fused multiply-add.
        #[cfg(not(feature = "relaxed-simd"))]
        #[inline(always)]
        pub fn mul_add(self, a: Self, b: Self) -> Self {
            Self(f32x4_add(self.0, f32x4_mul(a.0, b.0)))
        }
        /// `self + a * b` in one relaxed-SIMD instruction: a fused multiply-add where the CPU
        /// has one (every x86 with FMA3, every ARM64), two roundings elsewhere.
        #[cfg(feature = "relaxed-simd")]
        #[target_feature(enable = "relaxed-simd")]
        #[inline]
        pub fn mul_add(self, a: Self, b: Self) -> Self {
            Self(f32x4_relaxed_madd(a.0, b.0, self.0))
        }
        #[inline(always)]
        pub fn add(self, o: Self) -> Self {
            Self(f32x4_add(self.0, o.0))
        }
        /// Lane-wise minimum; `pmin` like [`Self::max`]: `o < self ? o : self`.
        #[inline(always)]
        pub fn min(self, o: Self) -> Self {
            Self(f32x4_pmin(self.0, o.0))
        }
        #[inline(always)]
        pub fn to_array(self) -> [f32; 4] {
            // SAFETY: v128 and [f32; 4] have the same size and every bit pattern is valid.
            unsafe { core::mem::transmute::<v128, [f32; 4]>(self.0) }
        }
        /// Lanes 0 and 2 of `self` then of `o` (`[a0, a2, b0, b2]`): the even elements of eight
        /// consecutive values, for stride-2 windows.
        #[inline(always)]
        pub fn even(self, o: Self) -> Self {
            Self(i32x4_shuffle::<0, 2, 4, 6>(self.0, o.0))
        }
        /// Lanes 1 and 3 of `self` then of `o` (`[a1, a3, b1, b3]`).
        #[inline(always)]
        pub fn odd(self, o: Self) -> Self {
            Self(i32x4_shuffle::<1, 3, 5, 7>(self.0, o.0))
        }
        /// `[a0, b0, a1, b1]`: the first halves interleaved.
        #[inline(always)]
        pub fn zip_lo(self, o: Self) -> Self {
            Self(i32x4_shuffle::<0, 4, 1, 5>(self.0, o.0))
        }
        /// `[a2, b2, a3, b3]`.
        #[inline(always)]
        pub fn zip_hi(self, o: Self) -> Self {
            Self(i32x4_shuffle::<2, 6, 3, 7>(self.0, o.0))
        }
        /// Lane-wise maximum; `pmax` (not `max`) because the inputs are never NaN-sensitive here
        /// and it compiles to one instruction.
        #[inline(always)]
        pub fn max(self, o: Self) -> Self {
            Self(f32x4_pmax(self.0, o.0))
        }
        #[inline(always)]
        pub fn sub(self, o: Self) -> Self {
            Self(f32x4_sub(self.0, o.0))
        }
        #[inline(always)]
        pub fn mul(self, o: Self) -> Self {
            Self(f32x4_mul(self.0, o.0))
        }
        #[inline(always)]
        pub fn div(self, o: Self) -> Self {
            Self(f32x4_div(self.0, o.0))
        }
        /// Round to nearest, ties to even.
        #[inline(always)]
        pub fn round(self) -> Self {
            Self(f32x4_nearest(self.0))
        }
        /// `2^self` for lanes holding whole numbers in `-126..=127`, built from the exponent bits.
        #[inline(always)]
        pub fn pow2i(self) -> Self {
            Self(i32x4_shl(i32x4_add(i32x4_trunc_sat_f32x4(self.0), i32x4_splat(127)), 23))
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use core::arch::x86_64::*;

    // SAFETY (every `unsafe` below without its own note): the intrinsics are SSE, which is
    // part of the x86-64 baseline; they have no other precondition.
    #[derive(Clone, Copy)]
    pub struct F32x4(__m128);

    impl F32x4 {
        #[inline(always)]
        pub fn splat(v: f32) -> Self {
            Self(unsafe { _mm_set1_ps(v) })
        }
        #[inline(always)]
        pub fn zero() -> Self {
            Self(unsafe { _mm_setzero_ps() })
        }
        #[inline(always)]
        pub fn load(src: &[f32]) -> Self {
            assert!(src.len() >= 4);
            // SAFETY: four f32 are in bounds (checked above); loadu allows unaligned reads.
            Self(unsafe { _mm_loadu_ps(src.as_ptr()) })
        }
        /// # Safety
        /// `src..src + 4` must be readable.
        #[inline(always)]
        pub unsafe fn load_ptr(src: *const f32) -> Self {
            // SAFETY: the caller's contract; loadu allows unaligned reads.
            Self(unsafe { _mm_loadu_ps(src) })
        }
        #[inline(always)]
        pub fn store(self, dst: &mut [f32]) {
            assert!(dst.len() >= 4);
            // SAFETY: four f32 are in bounds (checked above); storeu allows unaligned writes.
            unsafe { _mm_storeu_ps(dst.as_mut_ptr(), self.0) }
        }
        /// Two roundings, as baseline wasm SIMD.
        #[inline(always)]
        pub fn mul_add(self, a: Self, b: Self) -> Self {
            Self(unsafe { _mm_add_ps(self.0, _mm_mul_ps(a.0, b.0)) })
        }
        #[inline(always)]
        pub fn add(self, o: Self) -> Self {
            Self(unsafe { _mm_add_ps(self.0, o.0) })
        }
        /// wasm's `pmax` (`self < o ? o : self`): `maxps` returns its second operand unless the
        /// first is greater.
        #[inline(always)]
        pub fn max(self, o: Self) -> Self {
            Self(unsafe { _mm_max_ps(o.0, self.0) })
        }
        #[inline(always)]
        pub fn sub(self, o: Self) -> Self {
            Self(unsafe { _mm_sub_ps(self.0, o.0) })
        }
        #[inline(always)]
        pub fn mul(self, o: Self) -> Self {
            Self(unsafe { _mm_mul_ps(self.0, o.0) })
        }
        #[inline(always)]
        pub fn div(self, o: Self) -> Self {
            Self(unsafe { _mm_div_ps(self.0, o.0) })
        }
        /// Round to nearest, ties to even (the default MXCSR mode; lanes within `i32`).
        #[inline(always)]
        pub fn round(self) -> Self {
            Self(unsafe { _mm_cvtepi32_ps(_mm_cvtps_epi32(self.0)) })
        }
        #[inline(always)]
        pub fn pow2i(self) -> Self {
            Self(unsafe { _mm_castsi128_ps(_mm_slli_epi32::<23>(_mm_add_epi32(_mm_cvttps_epi32(self.0), _mm_set1_epi32(127)))) })
        }
        /// wasm's `pmin` (`o < self ? o : self`).
        #[inline(always)]
        pub fn min(self, o: Self) -> Self {
            Self(unsafe { _mm_min_ps(o.0, self.0) })
        }
        #[inline(always)]
        pub fn to_array(self) -> [f32; 4] {
            // SAFETY: __m128 and [f32; 4] have the same size and every bit pattern is valid.
            unsafe { core::mem::transmute::<__m128, [f32; 4]>(self.0) }
        }
        #[inline(always)]
        pub fn even(self, o: Self) -> Self {
            Self(unsafe { _mm_shuffle_ps::<0b10_00_10_00>(self.0, o.0) })
        }
        #[inline(always)]
        pub fn odd(self, o: Self) -> Self {
            Self(unsafe { _mm_shuffle_ps::<0b11_01_11_01>(self.0, o.0) })
        }
        #[inline(always)]
        pub fn zip_lo(self, o: Self) -> Self {
            Self(unsafe { _mm_unpacklo_ps(self.0, o.0) })
        }
        #[inline(always)]
        pub fn zip_hi(self, o: Self) -> Self {
            Self(unsafe { _mm_unpackhi_ps(self.0, o.0) })
        }
    }
}

#[cfg(not(any(all(target_arch = "wasm32", target_feature = "simd128"), target_arch = "x86_64")))]
mod imp {
    #[derive(Clone, Copy)]
    pub struct F32x4([f32; 4]);

    impl F32x4 {
        #[inline(always)]
        pub fn splat(v: f32) -> Self {
            Self([v; 4])
        }
        #[inline(always)]
        pub fn zero() -> Self {
            Self([0.0; 4])
        }
        #[inline(always)]
        pub fn load(src: &[f32]) -> Self {
            let src = &src[..4];
            Self([src[0], src[1], src[2], src[3]])
        }
        /// # Safety
        /// `src..src + 4` must be readable.
        #[inline(always)]
        pub unsafe fn load_ptr(src: *const f32) -> Self {
            // SAFETY: the caller's contract.
            Self(unsafe { [*src, *src.add(1), *src.add(2), *src.add(3)] })
        }
        #[inline(always)]
        pub fn store(self, dst: &mut [f32]) {
            dst[..4].copy_from_slice(&self.0);
        }
        #[inline(always)]
        pub fn mul_add(self, a: Self, b: Self) -> Self {
            Self(core::array::from_fn(|i| self.0[i] + a.0[i] * b.0[i]))
        }
        #[inline(always)]
        pub fn add(self, o: Self) -> Self {
            Self(core::array::from_fn(|i| self.0[i] + o.0[i]))
        }
        #[inline(always)]
        pub fn min(self, o: Self) -> Self {
            Self(core::array::from_fn(|i| if o.0[i] < self.0[i] { o.0[i] } else { self.0[i] }))
        }
        #[inline(always)]
        pub fn to_array(self) -> [f32; 4] {
            self.0
        }
        #[inline(always)]
        pub fn even(self, o: Self) -> Self {
            Self([self.0[0], self.0[2], o.0[0], o.0[2]])
        }
        #[inline(always)]
        pub fn odd(self, o: Self) -> Self {
            Self([self.0[1], self.0[3], o.0[1], o.0[3]])
        }
        #[inline(always)]
        pub fn zip_lo(self, o: Self) -> Self {
            Self([self.0[0], o.0[0], self.0[1], o.0[1]])
        }
        #[inline(always)]
        pub fn zip_hi(self, o: Self) -> Self {
            Self([self.0[2], o.0[2], self.0[3], o.0[3]])
        }
        #[inline(always)]
        pub fn max(self, o: Self) -> Self {
            Self(core::array::from_fn(|i| if self.0[i] < o.0[i] { o.0[i] } else { self.0[i] }))
        }
        #[inline(always)]
        pub fn sub(self, o: Self) -> Self {
            Self(core::array::from_fn(|i| self.0[i] - o.0[i]))
        }
        #[inline(always)]
        pub fn mul(self, o: Self) -> Self {
            Self(core::array::from_fn(|i| self.0[i] * o.0[i]))
        }
        #[inline(always)]
        pub fn div(self, o: Self) -> Self {
            Self(core::array::from_fn(|i| self.0[i] / o.0[i]))
        }
        #[inline(always)]
        pub fn round(self) -> Self {
            Self(self.0.map(f32::round_ties_even))
        }
        #[inline(always)]
        pub fn pow2i(self) -> Self {
            Self(self.0.map(|n| f32::from_bits(((n as i32 + 127) << 23) as u32)))
        }
    }
}

pub use imp::F32x4;
