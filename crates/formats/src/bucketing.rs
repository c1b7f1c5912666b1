//! GrowthBook's deterministic bucketing, re-implemented from its published description and
//! checked against its conformance vectors (`../shared/testvectors/growthbook-bucketing.json`):
//! the same unit id and seed land in the same bucket in Rust (CLI, collector) and in the JS shell
//! (`www/lib/bucketing.js`).
//!
//! Strings are hashed as UTF-16 code units, as JavaScript's `charCodeAt` sees them, so ids with
//! non-ASCII characters bucket identically on both sides.

/// 32-bit FNV-1a over the UTF-16 code units of `text`.
pub fn fnv1a32(text: &str) -> u32 {
    text.encode_utf16().fold(0x811c_9dc5u32, |hash, unit| (hash ^ u32::from(unit)).wrapping_mul(0x0100_0193))
}

/// A unit's position in [0, 1) for `seed`: version 1 is `(fnv(value + seed) % 1000) / 1000`,
/// version 2 `(fnv(decimal of fnv(seed + value)) % 10000) / 10000`; other versions give `None`.
pub fn hash(seed: &str, value: &str, version: u32) -> Option<f64> {
    match version {
        1 => Some(f64::from(fnv1a32(&format!("{value}{seed}")) % 1000) / 1000.0),
        2 => Some(f64::from(fnv1a32(&fnv1a32(&format!("{seed}{value}")).to_string()) % 10_000) / 10_000.0),
        _ => None,
    }
}

/// `n` equal weights summing to 1 (empty for `n == 0`).
pub fn get_equal_weights(n: usize) -> Vec<f64> {
    vec![1.0 / n as f64; n]
}

/// The `[start, end)` bucket range of each of `n` variations: variation `i` starts at the sum of
/// the weights before it and covers `coverage` of its weight. Coverage is clamped to [0, 1];
/// weights of the wrong length or not summing to 1 (±0.01) fall back to equal weights.
pub fn get_bucket_ranges(n: usize, coverage: f64, weights: Option<&[f64]>) -> Vec<(f64, f64)> {
    let coverage = if coverage.is_nan() { 0.0 } else { coverage.clamp(0.0, 1.0) };
    let equal = get_equal_weights(n);
    let weights = match weights {
        Some(w) if w.len() == n && (0.99..=1.01).contains(&w.iter().sum::<f64>()) => w,
        _ => &equal,
    };
    let mut cumulative = 0.0;
    weights
        .iter()
        .map(|w| {
            let start = cumulative;
            cumulative += w;
            (start, start + coverage * w)
        })
        .collect()
}

/// Index of the first range with `start <= n < end`, or `None` (GrowthBook's -1).
pub fn choose_variation(n: f64, ranges: &[(f64, f64)]) -> Option<usize> {
    ranges.iter().position(|&(start, end)| n >= start && n < end)
}

/// Whether a unit falls in `[start, end)` of namespace `id` (hash version 1, seed `"__" + id`).
pub fn in_namespace(value: &str, id: &str, start: f64, end: f64) -> bool {
    hash(&format!("__{id}"), value, 1).is_some_and(|n| n >= start && n < end)
}

#[cfg(test)]
mod tests {
    //! Every row of the shared GrowthBook vectors, read where they live (never copied here).
    use super::*;
    use serde_json::Value;

    fn vectors() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testvectors/growthbook-bucketing.json");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    fn rows<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
        let rows = v[key].as_array().unwrap_or_else(|| panic!("no {key} rows"));
        assert!(!rows.is_empty(), "{key} has no rows");
        rows
    }

    fn ranges(v: &Value) -> Vec<(f64, f64)> {
        v.as_array().unwrap().iter().map(|r| (r[0].as_f64().unwrap(), r[1].as_f64().unwrap())).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn hash_matches_every_vector() {
        let v = vectors();
        for row in rows(&v, "hash") {
            let (seed, value, version) = (row[0].as_str().unwrap(), row[1].as_str().unwrap(), row[2].as_u64().unwrap() as u32);
            let got = hash(seed, value, version);
            match row[3].as_f64() {
                Some(expected) => assert!(got.is_some_and(|g| close(g, expected)), "{row}: got {got:?}"),
                None => assert_eq!(got, None, "{row}"),
            }
        }
    }

    #[test]
    fn bucket_ranges_match_every_vector() {
        let v = vectors();
        for row in rows(&v, "getBucketRange") {
            let args = &row[1];
            let weights: Option<Vec<f64>> = args[2].as_array().map(|w| w.iter().map(|x| x.as_f64().unwrap()).collect());
            let got = get_bucket_ranges(args[0].as_u64().unwrap() as usize, args[1].as_f64().unwrap(), weights.as_deref());
            let expected = ranges(&row[2]);
            assert_eq!(got.len(), expected.len(), "{}", row[0]);
            for (g, e) in got.iter().zip(&expected) {
                assert!(close(g.0, e.0) && close(g.1, e.1), "{}: got {got:?}, expected {expected:?}", row[0]);
            }
        }
    }

    #[test]
    fn choose_variation_matches_every_vector() {
        let v = vectors();
        for row in rows(&v, "chooseVariation") {
            let got = choose_variation(row[1].as_f64().unwrap(), &ranges(&row[2]));
            let expected = row[3].as_i64().unwrap();
            assert_eq!(got.map_or(-1, |i| i as i64), expected, "{}", row[0]);
        }
    }

    #[test]
    fn in_namespace_matches_every_vector() {
        let v = vectors();
        for row in rows(&v, "inNamespace") {
            let ns = &row[2];
            let got = in_namespace(row[1].as_str().unwrap(), ns[0].as_str().unwrap(), ns[1].as_f64().unwrap(), ns[2].as_f64().unwrap());
            assert_eq!(got, row[3].as_bool().unwrap(), "{}", row[0]);
        }
    }

    #[test]
    fn equal_weights_match_every_vector() {
        let v = vectors();
        for row in rows(&v, "getEqualWeights") {
            let n = row[0].as_i64().unwrap();
            let got = get_equal_weights(n.max(0) as usize);
            let expected: Vec<f64> = row[1].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
            assert_eq!(got.len(), expected.len(), "{n}");
            assert!(got.iter().zip(&expected).all(|(g, e)| (g - e).abs() < 1e-8), "{n}: {got:?}");
        }
    }

    #[test]
    fn non_ascii_is_hashed_as_utf16_code_units() {
        // "é" is one code unit (0xe9); "😀" two surrogates: FNV over those, as JS charCodeAt does.
        let by_hand = [0xe9u32, 0xd83d, 0xde00].iter().fold(0x811c_9dc5u32, |h, &u| (h ^ u).wrapping_mul(16_777_619));
        assert_eq!(fnv1a32("é😀"), by_hand);
        assert_ne!(fnv1a32("é"), fnv1a32("\u{c3}\u{a9}"), "not the UTF-8 bytes");
    }
}
