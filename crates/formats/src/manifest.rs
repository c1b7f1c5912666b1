//! The manifest: everything about one immutable model version that a loader, a runtime and a
//! drift monitor need, in one small JSON file next to the content-addressed weights.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{parse_version, FormatError, SCHEMA_VERSION};

/// One published model version. Never rewritten once published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Format version of this file; readers refuse versions they do not know.
    pub schema_version: u32,
    /// Model name, also the folder under the CDN's `models/`.
    pub name: String,
    /// Semantic version of this model build.
    pub version: String,
    /// RFC 3339 UTC time of publication.
    pub created_at: String,
    /// Architecture id; a runtime refuses one it does not contain.
    pub architecture: String,
    /// Oldest runtime (npm package) version able to run this model.
    pub min_runtime_version: String,
    /// The files of this version; paths are relative to this manifest's URL.
    pub files: Vec<FileEntry>,
    /// What one input example looks like and how raw images become one.
    pub input: InputSchema,
    /// Class names, index = output position.
    pub labels: Vec<String>,
    /// Held-out evaluation of exactly these weights.
    pub metrics: Metrics,
    /// Prediction statistics on the evaluation set, the baseline for drift checks.
    pub reference: ReferenceStats,
}

/// One file of a model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileEntry {
    pub role: FileRole,
    /// Relative URL from the manifest, e.g. `../files/<sha256>.bpk`.
    pub path: String,
    /// Lowercase hex SHA-256 of the file's bytes; loaders verify it before use.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Container format, e.g. `burnpack`.
    pub format: String,
    /// Variant name, unique among the version's weights files: `f32`, `f16`, `int8`, ...
    pub variant: String,
    /// Element type of the stored tensors.
    pub dtype: String,
    /// What a device must have to run this variant (`relaxed-simd`, `shader-f16`, ...); empty:
    /// every device. A loader never selects, nor downloads, a variant needing what it lacks
    /// (or does not know).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// Held-out evaluation of this variant, when it is not the version's reference weights
    /// (those are evaluated in the manifest's `metrics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<VariantEvaluation>,
}

/// How a compressed variant does on the version's evaluation set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VariantEvaluation {
    /// Top-1 accuracy in `0..=1` on the labelled examples (the manifest's `metrics.dataset`).
    pub accuracy: f64,
    /// Fraction of examples whose top-1 class equals the reference weights' top-1 class.
    pub agreement: f64,
    /// Examples compared.
    pub samples: u64,
}

/// What a file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileRole {
    Weights,
}

/// Shape and preprocessing of one input example (the batch dimension is implicit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputSchema {
    /// Shape of one example, e.g. `[1, 28, 28]` (channels, height, width) for images or `[32]`
    /// for a row of 32 tabular features.
    pub shape: Vec<u32>,
    /// Element type the runtime takes, e.g. `f32`.
    pub dtype: String,
    /// How a raw image becomes one example; absent for a model that takes no images (tabular
    /// input: the caller passes the values as they are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preprocessing: Option<Preprocessing>,
}

/// How a raw image becomes model input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Preprocessing {
    /// Channel order the model reads: `grayscale`, `rgb` or `bgr`.
    pub color: String,
    /// How the image is fitted to the input size: `stretch` (resized, aspect ratio ignored),
    /// `center-crop` (short side scaled, the centre kept) or `mnist-digit` (grayscale 28x28 only:
    /// ink bounding box scaled to 20x20 and centred by mass in 28x28, white on black).
    pub fit: String,
    /// Pixel values are scaled linearly to `[min, max]`.
    pub range: [f32; 2],
    /// Per-channel mean subtracted after scaling, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<Vec<f32>>,
    /// Per-channel standard deviation divided by after the mean, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std: Option<Vec<f32>>,
}

/// Held-out evaluation results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    /// Name of the evaluation set, e.g. `mnist-t10k`.
    pub dataset: String,
    /// Examples evaluated.
    pub samples: u64,
    /// Top-1 accuracy in `0..=1`.
    pub accuracy: f64,
}

/// Prediction statistics on the evaluation set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceStats {
    /// Fraction of examples predicted as each class (sums to 1), index = label index.
    pub class_distribution: Vec<f64>,
    pub confidence_histogram: ConfidenceHistogram,
}

/// Histogram of top-1 probabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfidenceHistogram {
    /// Bin edges, ascending, one more than `fractions`.
    pub edges: Vec<f64>,
    /// Fraction of examples per bin (sums to 1).
    pub fractions: Vec<f64>,
}

impl Manifest {
    /// Parses and validates a manifest.
    pub fn from_json(json: &str) -> Result<Self, FormatError> {
        let manifest: Manifest = serde_json::from_str(json).map_err(|e| FormatError::Json { what: "manifest", message: e.to_string() })?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Pretty JSON with a trailing newline, as published.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a manifest always serialises") + "\n"
    }

    /// Checks everything the types alone cannot say.
    pub fn validate(&self) -> Result<(), FormatError> {
        if self.schema_version != SCHEMA_VERSION {
            return Err(FormatError::SchemaVersion { what: "manifest", found: self.schema_version });
        }
        parse_version("version", &self.version)?;
        parse_version("minRuntimeVersion", &self.min_runtime_version)?;
        for file in &self.files {
            file.validate()?;
        }
        self.weights()?;
        crate::variant::check_variants(self)?;
        let inconsistent = |m: String| Err(FormatError::Inconsistent(m));
        if self.labels.is_empty() {
            return inconsistent("manifest has no labels".into());
        }
        let dist = &self.reference.class_distribution;
        if dist.len() != self.labels.len() {
            return inconsistent(format!("reference class distribution has {} entries for {} labels", dist.len(), self.labels.len()));
        }
        let hist = &self.reference.confidence_histogram;
        if hist.edges.len() != hist.fractions.len() + 1 || hist.fractions.is_empty() {
            return inconsistent(format!(
                "confidence histogram needs one more edge than bins, has {} edges for {} bins",
                hist.edges.len(),
                hist.fractions.len()
            ));
        }
        if hist.edges.windows(2).any(|w| w[0] >= w[1]) {
            return inconsistent("confidence histogram edges must ascend".into());
        }
        for (what, values) in [("class distribution", dist), ("confidence histogram", &hist.fractions)] {
            let sum: f64 = values.iter().sum();
            if values.iter().any(|v| !(0.0..=1.0).contains(v)) || (sum - 1.0).abs() > 1e-6 {
                return inconsistent(format!("reference {what} must be fractions summing to 1 (sums to {sum})"));
            }
        }
        Ok(())
    }

    /// The weights file (the first one, the default variant).
    pub fn weights(&self) -> Result<&FileEntry, FormatError> {
        self.files.iter().find(|f| f.role == FileRole::Weights).ok_or(FormatError::NoWeights)
    }

    /// Refuses a model this runtime cannot run: too new, or of an architecture it lacks.
    pub fn check_runtime(&self, runtime_version: &str, architectures: &[&str]) -> Result<(), FormatError> {
        if !architectures.contains(&self.architecture.as_str()) {
            return Err(FormatError::UnsupportedArchitecture {
                model: format!("{}@{}", self.name, self.version),
                architecture: self.architecture.clone(),
                available: architectures.join(", "),
            });
        }
        let required = parse_version("minRuntimeVersion", &self.min_runtime_version)?;
        let runtime = parse_version("runtime version", runtime_version)?;
        if runtime < required {
            return Err(FormatError::RuntimeTooOld {
                model: format!("{}@{}", self.name, self.version),
                required: required.to_string(),
                runtime: runtime.to_string(),
            });
        }
        Ok(())
    }
}

impl FileEntry {
    fn validate(&self) -> Result<(), FormatError> {
        let hex = self.sha256.len() == 64 && self.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex {
            return Err(FormatError::Sha256 { path: self.path.clone(), sha256: self.sha256.clone() });
        }
        if !is_plain_relative_path(&self.path) {
            return Err(FormatError::Path(self.path.clone()));
        }
        Ok(())
    }
}

/// Whether a file path, relative to `<version>/manifest.json`, stays inside the model folder
/// whatever a URL resolver does with it: at most one leading `..` (to the model folder), then
/// plain segments. Percent-escapes (`%2e%2e`), schemes (`http:`), backslashes, queries and
/// absolute paths are all refused rather than interpreted. The JS loader applies the same rule.
pub fn is_plain_relative_path(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    let ups = usize::from(segments.first() == Some(&".."));
    let rest = &segments[ups..];
    let plain = |s: &&str| {
        !s.is_empty() && *s != "." && *s != ".." && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    };
    !rest.is_empty() && rest.iter().all(plain)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn sample() -> Manifest {
        Manifest {
            schema_version: SCHEMA_VERSION,
            name: "mnist".into(),
            version: "1.0.0".into(),
            created_at: "2026-11-25T12:00:00Z".into(),
            architecture: "mnist-cnn".into(),
            min_runtime_version: "0.1.0".into(),
            files: vec![FileEntry {
                role: FileRole::Weights,
                path: format!("../files/{}.bpk", "ab".repeat(32)),
                sha256: "ab".repeat(32),
                size: 10,
                format: "burnpack".into(),
                variant: "f32".into(),
                dtype: "f32".into(),
                requires: vec![],
                evaluation: None,
            }],
            input: InputSchema {
                shape: vec![1, 28, 28],
                dtype: "f32".into(),
                preprocessing: Some(Preprocessing {
                    color: "grayscale".into(),
                    fit: "mnist-digit".into(),
                    range: [0.0, 1.0],
                    mean: None,
                    std: None,
                }),
            },
            labels: (0..3).map(|d| d.to_string()).collect(),
            metrics: Metrics { dataset: "mnist-t10k".into(), samples: 4, accuracy: 0.75 },
            reference: ReferenceStats {
                class_distribution: vec![0.25, 0.25, 0.5],
                confidence_histogram: ConfidenceHistogram { edges: vec![0.0, 0.5, 1.0], fractions: vec![0.25, 0.75] },
            },
        }
    }

    #[test]
    fn round_trips_through_json() {
        let m = sample();
        assert_eq!(Manifest::from_json(&m.to_json()).unwrap(), m);
        assert!(m.to_json().contains("\"minRuntimeVersion\": \"0.1.0\""));
    }

    #[test]
    fn unknown_fields_are_ignored_for_forward_compatibility() {
        let mut value: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        value["addedLater"] = serde_json::json!(true);
        assert!(Manifest::from_json(&value.to_string()).is_ok());
    }

    #[test]
    fn each_inconsistency_is_named() {
        let cases: Vec<(fn(&mut Manifest), &str)> = vec![
            (|m| m.schema_version = 2, "schema version 2 is not supported"),
            (|m| m.version = "one".into(), "version \"one\" is not a semantic version"),
            (|m| m.files[0].sha256 = "AB".repeat(32), "sha256 must be 64 lowercase hex digits"),
            (|m| m.files[0].path = "../../etc/passwd".into(), "must be a plain relative path"),
            (|m| m.files[0].path = "https://evil.example/w.bpk".into(), "must be a plain relative path"),
            (|m| m.files.clear(), "lists no weights file"),
            (|m| m.reference.class_distribution.pop().map(drop).unwrap_or(()), "2 entries for 3 labels"),
            (|m| m.reference.confidence_histogram.edges.push(2.0), "one more edge than bins"),
            (|m| m.reference.class_distribution[0] = 0.5, "summing to 1"),
        ];
        for (break_it, expected) in cases {
            let mut m = sample();
            break_it(&mut m);
            let err = Manifest::from_json(&m.to_json()).unwrap_err().to_string();
            assert!(err.contains(expected), "{err:?} lacks {expected:?}");
        }
    }

    #[test]
    fn file_paths_that_could_leave_the_model_folder_are_refused() {
        let sha = "ab".repeat(32);
        for good in [format!("../files/{sha}.bpk"), format!("files/{sha}.bpk"), "weights.bpk".into(), "../a_b-c.d".into()] {
            assert!(is_plain_relative_path(&good), "{good}");
        }
        let escaping = [
            "",
            "..",
            "../",
            "../..",
            "../../files/x.bpk",
            "../%2e%2e/files/x.bpk",
            "%2e%2e/x.bpk",
            "../files/%2fx.bpk",
            "http:evil.example/x.bpk",
            "http://evil.example/x.bpk",
            "//evil.example/x.bpk",
            "/files/x.bpk",
            "..\\files\\x.bpk",
            "files/../../x.bpk",
            "./files/x.bpk",
            "files//x.bpk",
            "files/x.bpk?y",
            "files/x.bpk#y",
            "C:x.bpk",
            "files/x.bpk/",
            "files/é.bpk",
        ];
        for bad in escaping {
            assert!(!is_plain_relative_path(bad), "{bad:?} was accepted");
            let mut m = sample();
            m.files[0].path = bad.into();
            assert!(matches!(m.validate(), Err(FormatError::Path(_))), "{bad:?}");
        }
    }

    #[test]
    fn malformed_json_names_the_format() {
        let err = Manifest::from_json("{\"schemaVersion\": 1}").unwrap_err().to_string();
        assert!(err.starts_with("not valid manifest JSON: missing field"), "{err}");
    }

    #[test]
    fn runtime_check_refuses_foreign_architectures_and_old_runtimes() {
        let m = sample();
        assert!(m.check_runtime("0.1.0", &["mnist-cnn"]).is_ok());
        let err = m.check_runtime("0.1.0", &["squeezenet1.1"]).unwrap_err().to_string();
        assert_eq!(
            err,
            "model \"mnist@1.0.0\" has architecture \"mnist-cnn\", which this runtime does not contain (it has: squeezenet1.1)"
        );
        let mut newer = sample();
        newer.min_runtime_version = "0.3.0".into();
        let err = newer.check_runtime("0.1.0", &["mnist-cnn"]).unwrap_err().to_string();
        assert_eq!(err, "model \"mnist@1.0.0\" needs runtime 0.3.0 or newer; this runtime is 0.1.0");
    }
}
