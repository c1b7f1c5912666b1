//! Weights variants of one version (`f32`, `f16`, `int8`, ...) and the choice among them. A
//! loader calls [`Manifest::choose_weights`] before it downloads anything, so a device gets
//! exactly one weights file: the one it can run that best meets the page's preference.
//!
//! The first weights file is the version's reference weights (evaluated in `metrics`); the
//! others carry their own `evaluation`. Every variant computes in f32 today (an `int8` or `f16`
//! file is widened as it is loaded), so variants differ in bytes and accuracy only: `fastest`
//! picks the smallest download until a variant is computed faster.

use std::str::FromStr;

use crate::{FileEntry, FileRole, FormatError, Manifest};

/// What a page prefers among the variants its device can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Preference {
    /// The fewest bytes to download and keep.
    Smallest,
    /// The soonest ready: today the smallest download (every variant computes in f32).
    Fastest,
    /// The highest held-out accuracy (the reference weights on a tie): what a page gets by default.
    #[default]
    Accurate,
}

impl FromStr for Preference {
    type Err = FormatError;

    fn from_str(s: &str) -> Result<Self, FormatError> {
        match s {
            "smallest" => Ok(Self::Smallest),
            "fastest" => Ok(Self::Fastest),
            "accurate" => Ok(Self::Accurate),
            other => Err(FormatError::Preference(other.chars().take(40).collect())),
        }
    }
}

/// Variant names are unique, requirements are plain tokens, evaluations are fractions.
pub(crate) fn check_variants(manifest: &Manifest) -> Result<(), FormatError> {
    let weights: Vec<&FileEntry> = manifest.files.iter().filter(|f| f.role == FileRole::Weights).collect();
    let bad = |m: String| Err(FormatError::Inconsistent(m));
    for (i, file) in weights.iter().enumerate() {
        if !is_token(&file.variant) {
            return bad(format!("weights variant {:?} must be 1 to 32 of a-z, 0-9 and '-'", file.variant));
        }
        if weights[..i].iter().any(|f| f.variant == file.variant) {
            return bad(format!("weights variant {:?} is listed twice", file.variant));
        }
        if let Some(need) = file.requires.iter().find(|r| !is_token(r)) {
            return bad(format!("weights variant {:?} requires {need:?}: requirements are 1 to 32 of a-z, 0-9 and '-'", file.variant));
        }
        if let Some(e) = &file.evaluation {
            if ![e.accuracy, e.agreement].iter().all(|v| (0.0..=1.0).contains(v)) {
                return bad(format!("weights variant {:?}: accuracy and agreement must be fractions in 0..=1", file.variant));
            }
        }
    }
    Ok(())
}

fn is_token(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Manifest {
    /// The weights variants, the reference first.
    pub fn weights_variants(&self) -> impl Iterator<Item = &FileEntry> {
        self.files.iter().filter(|f| f.role == FileRole::Weights)
    }

    /// Held-out accuracy of a variant: its own evaluation, or the version's for the reference.
    pub fn variant_accuracy(&self, file: &FileEntry) -> f64 {
        file.evaluation.as_ref().map_or(self.metrics.accuracy, |e| e.accuracy)
    }

    /// The weights file for a device that has `capabilities`: the variant `named`, refused if
    /// the manifest lacks it or the device cannot run it; else the runnable variant that best
    /// meets `preference`. Returns its index in `files`.
    pub fn choose_weights(&self, capabilities: &[&str], preference: Preference, named: Option<&str>) -> Result<usize, FormatError> {
        let model = || format!("{}@{}", self.name, self.version);
        let missing = |f: &FileEntry| f.requires.iter().filter(|r| !capabilities.contains(&r.as_str())).cloned().collect::<Vec<_>>();
        let indexed = || self.files.iter().enumerate().filter(|(_, f)| f.role == FileRole::Weights);
        if let Some(name) = named {
            let Some((i, file)) = indexed().find(|(_, f)| f.variant == name) else {
                let available = self.weights_variants().map(|f| f.variant.as_str()).collect::<Vec<_>>().join(", ");
                return Err(FormatError::UnknownVariant { model: model(), variant: name.chars().take(40).collect(), available });
            };
            let lacking = missing(file);
            if !lacking.is_empty() {
                return Err(FormatError::VariantNeeds { model: model(), variant: file.variant.clone(), missing: lacking.join(" and ") });
            }
            return Ok(i);
        }
        let runnable = indexed().filter(|(_, f)| missing(f).is_empty());
        // min_by/max_by keep the first of equals: list order (the reference first) breaks ties.
        let best = match preference {
            Preference::Smallest | Preference::Fastest => runnable.min_by_key(|(_, f)| f.size),
            Preference::Accurate => runnable.fold(None, |best: Option<(usize, &FileEntry)>, c| match best {
                Some(b) if self.variant_accuracy(b.1) >= self.variant_accuracy(c.1) => Some(b),
                _ => Some(c),
            }),
        };
        best.map(|(i, _)| i).ok_or_else(|| {
            let needs = self.weights_variants().map(|f| f.requires.join("+")).collect::<Vec<_>>().join(", ");
            FormatError::NoRunnableVariant { model: model(), needs }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::tests::sample;
    use crate::VariantEvaluation;

    /// The sample with an int8 (smallest, 0.74) and a relaxed-SIMD-only variant (0.76).
    fn with_variants() -> Manifest {
        let mut m = sample();
        let reference = m.files[0].clone();
        let variant = |name: &str, size: u64, accuracy: f64, requires: &[&str]| FileEntry {
            variant: name.into(),
            size,
            sha256: format!("{:064x}", size),
            requires: requires.iter().map(|r| r.to_string()).collect(),
            evaluation: Some(VariantEvaluation { accuracy, agreement: 0.99, samples: 4 }),
            ..reference.clone()
        };
        m.files.push(variant("int8", 3, 0.74, &[]));
        m.files.push(variant("int8-relaxed", 4, 0.76, &["relaxed-simd"]));
        m
    }

    #[test]
    fn each_preference_picks_among_what_the_device_runs() {
        let m = with_variants();
        m.validate().unwrap();
        let pick = |caps: &[&str], p| m.files[m.choose_weights(caps, p, None).unwrap()].variant.clone();
        assert_eq!(pick(&[], Preference::Accurate), "f32");
        assert_eq!(pick(&["relaxed-simd"], Preference::Accurate), "int8-relaxed");
        assert_eq!(pick(&[], Preference::Smallest), "int8");
        assert_eq!(pick(&[], Preference::Fastest), "int8");
        assert_eq!(pick(&["relaxed-simd"], Preference::Smallest), "int8");
        assert_eq!(Preference::default(), Preference::Accurate);
    }

    #[test]
    fn a_named_variant_is_given_or_refused_with_the_reason() {
        let m = with_variants();
        assert_eq!(m.choose_weights(&[], Preference::Smallest, Some("f32")), Ok(0));
        let err = m.choose_weights(&[], Preference::Accurate, Some("f16")).unwrap_err();
        assert_eq!(err.to_string(), "model \"mnist@1.0.0\" has no weights variant \"f16\" (it has: f32, int8, int8-relaxed)");
        let err = m.choose_weights(&["shader-f16"], Preference::Accurate, Some("int8-relaxed")).unwrap_err();
        assert_eq!(err.to_string(), "weights variant \"int8-relaxed\" of \"mnist@1.0.0\" needs relaxed-simd, which this device lacks");
    }

    #[test]
    fn a_device_that_runs_no_variant_is_told_what_each_needs() {
        let mut m = with_variants();
        m.files.retain(|f| f.variant == "int8-relaxed");
        let err = m.choose_weights(&[], Preference::Accurate, None).unwrap_err();
        assert!(matches!(err, FormatError::NoRunnableVariant { ref needs, .. } if needs == "relaxed-simd"), "{err}");
    }

    #[test]
    fn malformed_variants_are_refused() {
        let cases: Vec<(fn(&mut Manifest), &str)> = vec![
            (|m| m.files[1].variant = "f32".into(), "\"f32\" is listed twice"),
            (|m| m.files[1].variant = "Int8!".into(), "must be 1 to 32 of a-z"),
            (|m| m.files[1].variant = String::new(), "must be 1 to 32 of a-z"),
            (|m| m.files[2].requires = vec!["relaxed simd".into()], "requirements are 1 to 32"),
            (|m| m.files[1].evaluation.as_mut().unwrap().accuracy = 1.5, "must be fractions"),
            (|m| m.files[1].evaluation.as_mut().unwrap().agreement = -0.1, "must be fractions"),
        ];
        for (break_it, expected) in cases {
            let mut m = with_variants();
            break_it(&mut m);
            let err = Manifest::from_json(&m.to_json()).map(drop).unwrap_err().to_string();
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
    }

    #[test]
    fn preferences_parse_and_unknown_ones_are_named() {
        assert_eq!("smallest".parse(), Ok(Preference::Smallest));
        assert_eq!("fastest".parse(), Ok(Preference::Fastest));
        assert_eq!("accurate".parse(), Ok(Preference::Accurate));
        assert_eq!(
            "tiny".parse::<Preference>().unwrap_err().to_string(),
            "\"tiny\" is not a variant preference (use smallest, fastest or accurate)"
        );
    }
}
