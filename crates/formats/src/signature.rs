//! Detached signatures of the two files a loader must trust before it fetches any weights: the
//! channel and each manifest. A signature sits next to its file (`channel.json.sig`,
//! `<version>/manifest.json.sig`) and signs the file's exact bytes behind a domain separator
//! that names the kind of file, so a manifest's signature never passes as a channel's.
//!
//! This module holds the format only; signing and verifying (Ed25519) live with the tools that
//! hold keys (the CLI) and in the JS loader (WebCrypto), which both build [`signed_message`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{FormatError, SCHEMA_VERSION};

/// First line of every signed message: the scheme and its version.
pub const SIGNATURE_DOMAIN: &str = "burn-edge-signature-v1";
/// The only algorithm this version knows.
pub const ALGORITHM: &str = "Ed25519";
/// A signature file's name is its file's name plus this.
pub const SIGNATURE_SUFFIX: &str = ".sig";
/// Length of [`Signature::key_id`] in hex digits (a 64-bit prefix of the key's SHA-256).
pub const KEY_ID_HEX_LEN: usize = 16;

/// What a signature vouches for; part of the signed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedKind {
    Channel,
    Manifest,
}

impl SignedKind {
    /// The word in the signed message.
    pub fn as_str(self) -> &'static str {
        match self {
            SignedKind::Channel => "channel",
            SignedKind::Manifest => "manifest",
        }
    }
}

/// The bytes an Ed25519 signature covers: `"burn-edge-signature-v1\n" + kind + "\n" + file`.
pub fn signed_message(kind: SignedKind, file: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(SIGNATURE_DOMAIN.len() + 10 + file.len());
    message.extend_from_slice(SIGNATURE_DOMAIN.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(kind.as_str().as_bytes());
    message.push(b'\n');
    message.extend_from_slice(file);
    message
}

/// Path of a file's signature (same folder, `.sig` appended).
pub fn signature_path(file: &str) -> String {
    format!("{file}{SIGNATURE_SUFFIX}")
}

/// A detached signature file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Signature {
    /// Format version of this file; readers refuse versions they do not know.
    pub schema_version: u32,
    /// Always `Ed25519`.
    pub algorithm: String,
    /// First 16 hex digits of the SHA-256 of the raw 32-byte public key: names the key, so a
    /// reader can say "signed by another key" rather than only "bad signature".
    pub key_id: String,
    /// Standard base64 (with padding) of the 64-byte signature.
    pub signature: String,
}

impl Signature {
    /// Parses and checks the shape (not the signature itself: that needs the public key).
    pub fn from_json(json: &str) -> Result<Self, FormatError> {
        let sig: Signature = serde_json::from_str(json).map_err(|e| FormatError::Json { what: "signature", message: e.to_string() })?;
        sig.validate()?;
        Ok(sig)
    }

    /// Pretty JSON with a trailing newline, as published.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a signature always serialises") + "\n"
    }

    /// Checks version, algorithm, key id and that the signature is 64 bytes of base64.
    pub fn validate(&self) -> Result<(), FormatError> {
        if self.schema_version != SCHEMA_VERSION {
            return Err(FormatError::SchemaVersion { what: "signature", found: self.schema_version });
        }
        let bad = |m: String| Err(FormatError::Inconsistent(m));
        if self.algorithm != ALGORITHM {
            return bad(format!("signature algorithm {:?} is not supported (only {ALGORITHM})", self.algorithm));
        }
        let hex = self.key_id.len() == KEY_ID_HEX_LEN && self.key_id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex {
            return bad(format!("signature keyId must be {KEY_ID_HEX_LEN} lowercase hex digits, got {:?}", self.key_id));
        }
        // 64 bytes are 88 base64 characters ending in "==".
        let b64 = self.signature.len() == 88
            && self.signature.ends_with("==")
            && self.signature[..86].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
        if !b64 {
            return bad("signature must be the base64 of 64 bytes".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Signature {
        Signature {
            schema_version: 1,
            algorithm: ALGORITHM.into(),
            key_id: "0123456789abcdef".into(),
            signature: format!("{}==", "A".repeat(86)),
        }
    }

    #[test]
    fn message_is_domain_separated_by_kind() {
        assert_eq!(signed_message(SignedKind::Channel, b"{}"), b"burn-edge-signature-v1\nchannel\n{}");
        assert_eq!(signed_message(SignedKind::Manifest, b"{}"), b"burn-edge-signature-v1\nmanifest\n{}");
        assert_eq!(signature_path("1.0.0/manifest.json"), "1.0.0/manifest.json.sig");
    }

    #[test]
    fn round_trips_and_refuses_malformed_files() {
        let s = sample();
        assert_eq!(Signature::from_json(&s.to_json()).unwrap(), s);
        assert!(s.to_json().contains("\"keyId\": \"0123456789abcdef\""));
        let cases: Vec<(fn(&mut Signature), &str)> = vec![
            (|s| s.schema_version = 2, "schema version 2"),
            (|s| s.algorithm = "RSA".into(), "algorithm \"RSA\" is not supported"),
            (|s| s.key_id = "ABC".into(), "16 lowercase hex digits"),
            (|s| s.signature = "AAAA".into(), "base64 of 64 bytes"),
            (|s| s.signature = format!("{}==", "%".repeat(86)), "base64 of 64 bytes"),
        ];
        for (break_it, expected) in cases {
            let mut s = sample();
            break_it(&mut s);
            let err = Signature::from_json(&s.to_json()).unwrap_err().to_string();
            assert!(err.contains(expected), "{err:?} lacks {expected:?}");
        }
    }
}
