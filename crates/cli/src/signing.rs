//! Release signing: Ed25519 keys (`burn-edge keygen`), detached signatures of channel and
//! manifest files (`publish --signing-key`, `burn-edge sign`), and their verification.
//!
//! Key files are base64 of the raw 32 bytes (the private key's seed; the public key), one
//! line each, so the same public key string is what a page passes to `loadModel({ publicKey })`.
//! The private key is written mode 0600 and never into a CDN folder.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use burn_edge_formats::signature::{ALGORITHM, KEY_ID_HEX_LEN};
use burn_edge_formats::{
    signature_path, signed_message, Channel, FormatError, Manifest, Signature, SignedKind, CHANNEL_FILE, SCHEMA_VERSION,
};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand::TryRngCore;

use crate::publish::sha256_hex;

/// File names `keygen` writes.
pub const PRIVATE_KEY_FILE: &str = "signing.key";
pub const PUBLIC_KEY_FILE: &str = "signing.pub";

/// Why signing or verifying failed.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} exists; refusing to overwrite a key (move it away first)")]
    KeyExists { path: PathBuf },
    #[error(
        "{path} is inside a CDN folder (a models/ folder or one with a channel.json): private keys never go where the CDN serves from"
    )]
    KeyInCdnFolder { path: PathBuf },
    #[error("{path} is not a burn-edge key (base64 of 32 bytes on one line)")]
    BadKey { path: PathBuf },
    #[error("{path}: {source}")]
    Format { path: PathBuf, source: FormatError },
    #[error("{what} is signed by key {found}, not by the expected key {expected}")]
    WrongKey { what: String, found: String, expected: String },
    #[error("{what}: the signature does not match the file (tampered, or signed as another kind of file)")]
    BadSignature { what: String },
    #[error("{path}: {problem}; refusing to sign a release whose files do not verify")]
    Unverified { path: PathBuf, problem: String },
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> SigningError + '_ {
    move |source| SigningError::Io { path: path.into(), source }
}

fn format_at(path: &Path) -> impl FnOnce(FormatError) -> SigningError + '_ {
    move |source| SigningError::Format { path: path.into(), source }
}

/// A fresh key from the operating system's random source.
pub fn generate() -> Result<SigningKey, std::io::Error> {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut seed).map_err(std::io::Error::other)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The public key as `loadModel({ publicKey })` takes it: base64 of the raw 32 bytes.
pub fn public_key_base64(key: &VerifyingKey) -> String {
    BASE64.encode(key.as_bytes())
}

/// Names a key in signature files: the first 16 hex digits of SHA-256 of its raw bytes.
pub fn key_id(key: &VerifyingKey) -> String {
    sha256_hex(key.as_bytes())[..KEY_ID_HEX_LEN].to_string()
}

/// Writes `signing.key` (0600) and `signing.pub` into `dir`; returns their paths.
pub fn write_keypair(dir: &Path, key: &SigningKey) -> Result<(PathBuf, PathBuf), SigningError> {
    let io = io_at;
    // Checked before anything is created: the path as given and, through symlinks, as it lands.
    let absolute = std::path::absolute(dir).map_err(io(dir))?;
    let existing = absolute.ancestors().find(|a| a.exists()).unwrap_or(&absolute);
    let canonical = existing.canonicalize().map_err(io(existing))?;
    let in_cdn = |p: &Path| p.ancestors().any(|a| a.file_name().is_some_and(|n| n == "models") || a.join(CHANNEL_FILE).exists());
    if in_cdn(&absolute) || in_cdn(&canonical) {
        return Err(SigningError::KeyInCdnFolder { path: dir.into() });
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let private = dir.join(PRIVATE_KEY_FILE);
    let public = dir.join(PUBLIC_KEY_FILE);
    for path in [&private, &public] {
        if path.exists() {
            return Err(SigningError::KeyExists { path: path.clone() });
        }
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&private).map_err(io(&private))?;
    file.write_all(format!("{}\n", BASE64.encode(key.to_bytes())).as_bytes()).map_err(io(&private))?;
    std::fs::write(&public, format!("{}\n", public_key_base64(&key.verifying_key()))).map_err(io(&public))?;
    Ok((private, public))
}

fn decode_key(text: &str) -> Option<[u8; 32]> {
    BASE64.decode(text.trim()).ok()?.try_into().ok()
}

/// Reads 32 bytes of base64 from a key file.
fn read_key_bytes(path: &Path) -> Result<[u8; 32], SigningError> {
    let text = std::fs::read_to_string(path).map_err(io_at(path))?;
    decode_key(&text).ok_or_else(|| SigningError::BadKey { path: path.into() })
}

/// Reads a private key written by [`write_keypair`].
pub fn read_signing_key(path: &Path) -> Result<SigningKey, SigningError> {
    Ok(SigningKey::from_bytes(&read_key_bytes(path)?))
}

/// The detached signature of `file` (its exact bytes) as `kind`.
pub fn sign(key: &SigningKey, kind: SignedKind, file: &[u8]) -> Signature {
    let signature = key.sign(&signed_message(kind, file));
    Signature {
        schema_version: SCHEMA_VERSION,
        algorithm: ALGORITHM.into(),
        key_id: key_id(&key.verifying_key()),
        signature: BASE64.encode(signature.to_bytes()),
    }
}

/// Checks that `signature` is `key`'s signature of `file` as `kind`; `what` names the file.
pub fn verify(key: &VerifyingKey, kind: SignedKind, file: &[u8], signature: &Signature, what: &str) -> Result<(), SigningError> {
    let expected = key_id(key);
    if signature.key_id != expected {
        return Err(SigningError::WrongKey { what: what.into(), found: signature.key_id.clone(), expected });
    }
    let bad = || SigningError::BadSignature { what: what.into() };
    let bytes: [u8; 64] = BASE64.decode(&signature.signature).ok().and_then(|b| b.try_into().ok()).ok_or_else(bad)?;
    key.verify_strict(&signed_message(kind, file), &ed25519_dalek::Signature::from_bytes(&bytes)).map_err(|_| bad())
}

/// Writes `<path>.sig` for the file at `path` (whose bytes are `file`).
pub fn write_signature(path: &Path, key: &SigningKey, kind: SignedKind, file: &[u8]) -> Result<PathBuf, SigningError> {
    let sig_path = PathBuf::from(signature_path(&path.to_string_lossy()));
    let json = sign(key, kind, file).to_json();
    crate::publish::write_atomically(&sig_path, json.as_bytes()).map_err(|e| match e {
        crate::publish::PublishError::Io { path, source } => SigningError::Io { path, source },
        other => SigningError::Io { path: sig_path.clone(), source: std::io::Error::other(other.to_string()) },
    })?;
    Ok(sig_path)
}

/// What `sign_folder` signed or `verify_folder` verified.
#[derive(Debug, PartialEq)]
pub struct Signed {
    pub versions: Vec<String>,
    pub key_id: String,
}

/// A model folder's channel and manifests (path, exact bytes), once everything checks: each
/// manifest the channel lists parses, names this model and version, and every one of its files
/// has its size and hash.
struct Release {
    channel: Channel,
    channel_file: (PathBuf, Vec<u8>),
    manifests: Vec<(PathBuf, Vec<u8>)>,
}

fn read_release(model_dir: &Path) -> Result<Release, SigningError> {
    let read = |path: &Path| std::fs::read(path).map_err(io_at(path));
    let channel_file = model_dir.join(CHANNEL_FILE);
    let channel_bytes = read(&channel_file)?;
    let channel = Channel::from_json(&String::from_utf8_lossy(&channel_bytes)).map_err(format_at(&channel_file))?;
    let manifests = channel.versions.iter().map(|version| verify_version(model_dir, &channel.name, version)).collect::<Result<_, _>>()?;
    Ok(Release { channel, channel_file: (channel_file, channel_bytes), manifests })
}

/// Checks one published version of `model` in `model_dir`: its manifest parses and names this
/// model and version, and every file it lists has its size and sha256. Returns the manifest's
/// path and exact bytes. `rollout` uses this before pointing any unit at a version.
pub(crate) fn verify_version(model_dir: &Path, model: &str, version: &str) -> Result<(PathBuf, Vec<u8>), SigningError> {
    let read = |path: &Path| std::fs::read(path).map_err(io_at(path));
    let unverified = |path: &Path, problem: String| SigningError::Unverified { path: path.into(), problem };
    let path = model_dir.join(burn_edge_formats::manifest_path(version));
    let bytes = read(&path)?;
    let manifest = Manifest::from_json(&String::from_utf8_lossy(&bytes)).map_err(format_at(&path))?;
    if manifest.name != model || manifest.version != version {
        let found = format!("{}@{}", manifest.name, manifest.version);
        return Err(unverified(&path, format!("it describes {found}, the channel lists it as {model}@{version}")));
    }
    let folder = path.parent().unwrap_or(model_dir);
    for file in &manifest.files {
        let content = read(&folder.join(&file.path))?;
        let actual = sha256_hex(&content);
        if actual != file.sha256 || content.len() as u64 != file.size {
            let problem = format!(
                "{} is {} bytes with sha256 {actual}, the manifest says {} bytes, {}",
                file.path,
                content.len(),
                file.size,
                file.sha256
            );
            return Err(unverified(&path, problem));
        }
    }
    Ok((path, bytes))
}

/// (Re)signs a published model folder: every manifest the channel lists, then the channel.
/// Nothing is signed unless the whole release verifies (see [`Release`]).
pub fn sign_folder(model_dir: &Path, key: &SigningKey) -> Result<Signed, SigningError> {
    let release = read_release(model_dir)?;
    for (path, bytes) in &release.manifests {
        write_signature(path, key, SignedKind::Manifest, bytes)?;
    }
    write_signature(&release.channel_file.0, key, SignedKind::Channel, &release.channel_file.1)?;
    Ok(Signed { versions: release.channel.versions, key_id: key_id(&key.verifying_key()) })
}

/// Checks a model folder as a loader pinning `key` would: the release verifies and the channel
/// and every manifest carry `key`'s signature.
pub fn verify_folder(model_dir: &Path, key: &VerifyingKey) -> Result<Signed, SigningError> {
    let release = read_release(model_dir)?;
    let files =
        std::iter::once((&release.channel_file, SignedKind::Channel)).chain(release.manifests.iter().map(|m| (m, SignedKind::Manifest)));
    for ((path, bytes), kind) in files {
        let sig_path = PathBuf::from(signature_path(&path.to_string_lossy()));
        let json = std::fs::read_to_string(&sig_path).map_err(io_at(&sig_path))?;
        let signature = Signature::from_json(&json).map_err(format_at(&sig_path))?;
        verify(key, kind, bytes, &signature, &path.display().to_string())?;
    }
    Ok(Signed { versions: release.channel.versions, key_id: key_id(key) })
}

/// Reads a public key: a file holding its base64 (`signing.pub`), or the base64 itself.
pub fn read_public_key(path_or_base64: &str) -> Result<VerifyingKey, SigningError> {
    let path = Path::new(path_or_base64);
    let bytes =
        if path.exists() { read_key_bytes(path)? } else { decode_key(path_or_base64).ok_or(SigningError::BadKey { path: path.into() })? };
    VerifyingKey::from_bytes(&bytes).map_err(|_| SigningError::BadKey { path: path.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn a_signature_verifies_only_for_its_bytes_its_kind_and_its_key() {
        let file = b"{\"schemaVersion\":1}\n";
        let sig = sign(&key(1), SignedKind::Channel, file);
        assert_eq!(Signature::from_json(&sig.to_json()).unwrap(), sig, "the written file is schema-valid");
        let public = key(1).verifying_key();
        verify(&public, SignedKind::Channel, file, &sig, "c").unwrap();

        // One flipped bit anywhere in the file.
        for i in 0..file.len() {
            let mut tampered = file.to_vec();
            tampered[i] ^= 1;
            assert!(
                matches!(verify(&public, SignedKind::Channel, &tampered, &sig, "c"), Err(SigningError::BadSignature { .. })),
                "byte {i}"
            );
        }
        // A manifest's signature is not a channel's, nor the reverse.
        assert!(matches!(verify(&public, SignedKind::Manifest, file, &sig, "m"), Err(SigningError::BadSignature { .. })));
        // Another key: named as such.
        let err = verify(&key(2).verifying_key(), SignedKind::Channel, file, &sig, "c").unwrap_err();
        assert!(matches!(err, SigningError::WrongKey { .. }), "{err}");
        // Another key's signature relabelled with our key id: still refused.
        let forged = Signature { key_id: key_id(&public), ..sign(&key(2), SignedKind::Channel, file) };
        assert!(matches!(verify(&public, SignedKind::Channel, file, &forged, "c"), Err(SigningError::BadSignature { .. })));
        // A flipped bit in the signature.
        let mut raw = BASE64.decode(&sig.signature).unwrap();
        raw[10] ^= 1;
        let flipped = Signature { signature: BASE64.encode(raw), ..sig.clone() };
        assert!(matches!(verify(&public, SignedKind::Channel, file, &flipped, "c"), Err(SigningError::BadSignature { .. })));
    }

    /// `tests/fixtures/signature-vector.json` is what this code signs with a fixed key, plus the
    /// path and version rules; tests/node/signature.test.mjs checks the JS loader agrees with
    /// all of it under WebCrypto (`BLESS=1` rewrites it).
    #[test]
    fn the_shared_test_vector_is_what_this_code_produces() {
        let k = key(7);
        let channel = "{\n  \"schemaVersion\": 1,\n  \"name\": \"mnist\",\n  \"aliases\": {\n    \"stable\": \"1.0.0\"\n  },\n  \"versions\": [\n    \"1.0.0\"\n  ],\n  \"updatedAt\": \"2026-12-01T00:00:00Z\"\n}\n";
        let manifest = "{\"schemaVersion\":1,\"name\":\"mnist\",\"version\":\"1.0.0\",\"note\":\"non-ASCII bytes are signed as UTF-8: \u{e9}\u{1f600}\"}\n";
        let paths = [
            "../files/929179988ae37513eebebca7c4d7035924ec8848baac98b7c64a4b7fa2b02a53.bpk",
            "files/x.bpk",
            "w.bpk",
            "../%2e%2e/files/x.bpk",
            "%2e%2e/x.bpk",
            "../../x.bpk",
            "http:evil.example/x.bpk",
            "https://evil.example/x.bpk",
            "//evil.example/x.bpk",
            "/files/x.bpk",
            "..\\x.bpk",
            "files/../../x.bpk",
            "./x.bpk",
            "files//x.bpk",
            "x.bpk?q",
            "x.bpk#f",
            "",
            "..",
            "files/\u{e9}.bpk",
        ];
        let versions =
            ["1.0.0", "0.1.0-rc.1+build.5", "10.20.30", "https://evil.example/m", "../1.0.0", "1.0", "v1.0.0", "01.0.0", "1.0.0/x"];
        let vector = serde_json::json!({
            "publicKey": public_key_base64(&k.verifying_key()),
            "keyId": key_id(&k.verifying_key()),
            "otherPublicKey": public_key_base64(&key(8).verifying_key()),
            "channel": { "file": channel, "signature": sign(&k, SignedKind::Channel, channel.as_bytes()).to_json() },
            "manifest": { "file": manifest, "signature": sign(&k, SignedKind::Manifest, manifest.as_bytes()).to_json() },
            "paths": paths.iter().map(|p| serde_json::json!({ "path": p, "plain": burn_edge_formats::manifest::is_plain_relative_path(p) })).collect::<Vec<_>>(),
            "versions": versions.iter().map(|v| serde_json::json!({ "version": v, "semver": burn_edge_formats::parse_version("v", v).is_ok() })).collect::<Vec<_>>(),
        });
        let generated = serde_json::to_string_pretty(&vector).unwrap() + "\n";
        let path = format!("{}/../../tests/fixtures/signature-vector.json", env!("CARGO_MANIFEST_DIR"));
        if std::env::var_os("BLESS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(committed == generated, "{path} is stale: run `BLESS=1 cargo test -p burn-edge-cli signing`");
    }

    #[test]
    fn keygen_writes_a_private_key_only_its_owner_reads_and_never_into_a_cdn_folder() {
        let dir = tempfile::tempdir().unwrap();
        let k = generate().unwrap();
        let (private, public) = write_keypair(&dir.path().join("keys"), &k).unwrap();
        assert_eq!(read_signing_key(&private).unwrap().to_bytes(), k.to_bytes());
        assert_eq!(read_public_key(public.to_str().unwrap()).unwrap(), k.verifying_key());
        assert_eq!(read_public_key(&public_key_base64(&k.verifying_key())).unwrap(), k.verifying_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(matches!(write_keypair(&dir.path().join("keys"), &k), Err(SigningError::KeyExists { .. })));
        assert!(matches!(write_keypair(&dir.path().join("models/keys"), &k), Err(SigningError::KeyInCdnFolder { .. })));
        assert!(!dir.path().join("models").exists(), "refused before creating anything");
        std::fs::create_dir_all(dir.path().join("cdn")).unwrap();
        std::fs::write(dir.path().join("cdn/channel.json"), "{}").unwrap();
        assert!(matches!(write_keypair(&dir.path().join("cdn/keys"), &k), Err(SigningError::KeyInCdnFolder { .. })));
        assert_ne!(generate().unwrap().to_bytes(), k.to_bytes());
    }
}
