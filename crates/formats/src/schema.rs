//! JSON Schemas generated from the serde types, so the committed `schemas/*.json` (which the
//! JS tests validate against) cannot drift from what Rust reads and writes.

use crate::{Channel, Manifest, Signature};

/// The manifest's JSON Schema, pretty-printed.
pub fn manifest_schema() -> String {
    pretty(schemars::schema_for!(Manifest))
}

/// The channel file's JSON Schema, pretty-printed.
pub fn channel_schema() -> String {
    pretty(schemars::schema_for!(Channel))
}

/// The detached signature file's JSON Schema, pretty-printed.
pub fn signature_schema() -> String {
    pretty(schemars::schema_for!(Signature))
}

fn pretty(schema: schemars::Schema) -> String {
    serde_json::to_string_pretty(&schema).expect("a schema always serialises") + "\n"
}

#[cfg(test)]
mod tests {
    /// The committed schemas equal the generated ones (`BLESS=1` rewrites them).
    #[test]
    fn committed_schemas_are_current() {
        for (file, generated) in
            [("manifest", super::manifest_schema()), ("channel", super::channel_schema()), ("signature", super::signature_schema())]
        {
            let path = format!("{}/schemas/{file}.schema.json", env!("CARGO_MANIFEST_DIR"));
            if std::env::var_os("BLESS").is_some() {
                std::fs::write(&path, &generated).unwrap();
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(committed == generated, "{path} is stale: run `BLESS=1 cargo test -p burn-edge-formats`");
        }
    }
}
