//! Which published models this runtime can run: a manifest is checked (schema, architecture,
//! minimum runtime version) with the same Rust types `burn-edge publish` wrote it with.

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
}
