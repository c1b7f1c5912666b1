//! Which published models this runtime can run: a manifest is checked (schema, architecture,
//! minimum runtime version) with the same Rust types `burn-edge publish` wrote it with, and
//! which of its weights variants this device loads.

use burn_edge_formats::Manifest;
use burn_edge_model::Architecture;

use crate::{RuntimeError, RUNTIME_VERSION};

/// Architecture ids compiled into this runtime.
pub fn architectures() -> Vec<&'static str> {
    burn_edge_model::architectures().iter().map(|a| a.id()).collect()
}

/// The compiled-in architecture with manifest id `id`.
pub fn architecture(id: &str) -> Result<&'static dyn Architecture, RuntimeError> {
    burn_edge_model::architecture(id)
        .ok_or_else(|| RuntimeError::UnknownArchitecture { found: id.into(), known: architectures().join(", ") })
}

/// Parses a manifest and refuses one this runtime cannot run.
pub fn check_manifest(json: &str) -> Result<Manifest, RuntimeError> {
    let manifest = Manifest::from_json(json)?;
    manifest.check_runtime(RUNTIME_VERSION, &architectures())?;
    Ok(manifest)
}

/// What this runtime build itself offers a weights variant (`relaxed-simd` for the CPU build
/// compiled with it); the page adds what only it can see, like a WebGPU adapter's features.
pub fn runtime_capabilities() -> &'static [&'static str] {
    if cfg!(feature = "relaxed-simd") {
        &["relaxed-simd"]
    } else {
        &[]
    }
}

/// The weights file of manifest `json` this runtime loads on a device that also has
/// `capabilities`: the variant `named` (refused with the reason when missing or not runnable),
/// else the runnable one that best meets `preference` (`smallest`, `fastest`, `accurate`). Its
/// index in the manifest's `files`; nothing else need be downloaded.
pub fn choose_weights(json: &str, capabilities: &[&str], preference: &str, named: Option<&str>) -> Result<usize, RuntimeError> {
    let manifest = check_manifest(json)?;
    let preference = preference.parse()?;
    let have: Vec<&str> = runtime_capabilities().iter().copied().chain(capabilities.iter().copied()).collect();
    Ok(manifest.choose_weights(&have, preference, named)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed_manifest() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/mnist/1.0.0/manifest.json")).unwrap()
    }

    #[test]
    fn the_published_mnist_manifest_is_accepted() {
        let manifest = check_manifest(&committed_manifest()).unwrap();
        assert_eq!(manifest.architecture, "mnist-cnn");
    }

    #[test]
    fn foreign_architectures_and_newer_models_are_refused_by_name() {
        let json = committed_manifest().replace("\"mnist-cnn\"", "\"resnet50\"");
        let err = check_manifest(&json).unwrap_err().to_string();
        let known = architectures().join(", ");
        assert!(known.starts_with("mnist-cnn, squeezenet1.1"), "{known}");
        assert!(err.contains(&format!("architecture \"resnet50\", which this runtime does not contain (it has: {known})")), "{err}");
        let json = committed_manifest().replace("\"minRuntimeVersion\": \"0.1.0\"", "\"minRuntimeVersion\": \"99.0.0\"");
        let err = check_manifest(&json).unwrap_err().to_string();
        assert!(err.contains("needs runtime 99.0.0 or newer"), "{err}");
        assert!(check_manifest("{").unwrap_err().to_string().starts_with("not valid manifest JSON"));
    }

    #[test]
    fn the_runtime_chooses_a_weights_file_or_says_why_not() {
        let json = committed_manifest();
        assert_eq!(choose_weights(&json, &[], "accurate", None).unwrap(), 0);
        assert_eq!(choose_weights(&json, &[], "smallest", Some("f32")).unwrap(), 0);
        let err = choose_weights(&json, &[], "tiny", None).unwrap_err().to_string();
        assert!(err.contains("\"tiny\" is not a variant preference"), "{err}");
        let err = choose_weights(&json, &[], "accurate", Some("int4")).unwrap_err().to_string();
        assert!(err.contains("has no weights variant \"int4\" (it has: f32)"), "{err}");
    }
}
