//! `burn-edge publish` as a user runs it: the CDN layout, content hashes, schema-valid
//! manifests, and immutability of what was published; `keygen`, signed releases and `sign`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use burn_edge_formats::{Channel, Manifest};
use sha2::{Digest, Sha256};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn publish(models: &Path, weights: &Path, version: &str, aliases: &[&str]) -> Output {
    publish_with(models, weights, version, aliases, &[])
}

fn publish_with(models: &Path, weights: &Path, version: &str, aliases: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut args = vec!["publish", "--version", version, "--weights", weights.to_str().unwrap()];
    args.extend(["--models", models.to_str().unwrap()]);
    for alias in aliases {
        args.extend(["--alias", alias]);
    }
    let data = repo_root().join("../shared/datasets/mnist");
    args.extend(["--data", data.to_str().unwrap()]);
    let mut command = Command::new(env!("CARGO_BIN_EXE_burn-edge"));
    command.args(&args).env_remove("BURN_EDGE_SIGNING_KEY");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("burn-edge runs")
}

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_burn-edge")).args(args).env_remove("BURN_EDGE_SIGNING_KEY").output().expect("burn-edge runs")
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn committed_weights() -> PathBuf {
    repo_root().join("models/mnist/model.bpk")
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn publish_writes_a_content_addressed_layout_and_refuses_to_rewrite_a_version() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path();
    let weights = committed_weights();
    let bytes = std::fs::read(&weights).unwrap();
    let sha = format!("{:x}", Sha256::digest(&bytes));

    let out = ok(publish(models, &weights, "1.0.0", &["stable"]));
    assert!(out.starts_with("published mnist@1.0.0"), "{out}");

    // Weights under their hash, byte for byte.
    assert_eq!(std::fs::read(models.join(format!("mnist/files/{sha}.bpk"))).unwrap(), bytes);
    // The manifest parses with the shared types and describes those bytes.
    let manifest_json = read(models.join("mnist/1.0.0/manifest.json"));
    let manifest = Manifest::from_json(&manifest_json).unwrap();
    let entry = manifest.weights().unwrap();
    assert_eq!((entry.sha256.as_str(), entry.size), (sha.as_str(), bytes.len() as u64));
    assert_eq!(entry.path, format!("../files/{sha}.bpk"));
    assert_eq!(manifest.architecture, "mnist-cnn");
    assert!(manifest.metrics.accuracy >= 0.99, "{}", manifest.metrics.accuracy);
    assert_eq!(manifest.metrics.samples, 10_000);
    assert_eq!(manifest.reference.class_distribution.len(), 10);
    let channel = Channel::from_json(&read(models.join("mnist/channel.json"))).unwrap();
    assert_eq!(channel.resolve("stable").unwrap(), "1.0.0");

    // Same version, same weights: nothing published is rewritten, aliases still apply.
    let out = ok(publish(models, &weights, "1.0.0", &["canary"]));
    assert!(out.starts_with("already published"), "{out}");
    assert_eq!(read(models.join("mnist/1.0.0/manifest.json")), manifest_json);
    let channel = Channel::from_json(&read(models.join("mnist/channel.json"))).unwrap();
    assert_eq!(channel.resolve("canary").unwrap(), "1.0.0");

    // Same version, other weights: refused, and nothing changes.
    let other = dir.path().join("other.bpk");
    let config = burn_edge_model::MnistConfig::new().with_conv1_channels(4).with_conv2_channels(4).with_hidden(8);
    let untrained = config.init(&burn::prelude::Device::flex());
    std::fs::write(&other, burn_edge_model::save_to_bytes(&untrained, &config).unwrap()).unwrap();
    let o = publish(models, &other, "1.0.0", &["stable"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("mnist@1.0.0 is already published with other weights"), "{err}");
    assert_eq!(read(models.join("mnist/1.0.0/manifest.json")), manifest_json);
    assert_eq!(std::fs::read_dir(models.join("mnist/files")).unwrap().count(), 1);
}

#[test]
fn a_tampered_content_file_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let weights = committed_weights();
    let sha = format!("{:x}", Sha256::digest(std::fs::read(&weights).unwrap()));
    let file = dir.path().join(format!("mnist/files/{sha}.bpk"));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, b"tampered").unwrap();
    let o = publish(dir.path(), &weights, "2.0.0", &[]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not match its name"));
    assert_eq!(std::fs::read(&file).unwrap(), b"tampered");
    assert!(!dir.path().join("mnist/2.0.0/manifest.json").exists());
}

#[test]
fn bad_versions_and_weights_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let o = publish(dir.path(), &committed_weights(), "latest", &[]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("\"latest\" is not a semantic version"));
    let junk = dir.path().join("junk.bpk");
    std::fs::write(&junk, b"junk").unwrap();
    let o = publish(dir.path(), &junk, "1.0.0", &[]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("junk.bpk"));
    assert!(!dir.path().join("mnist").exists());
}

#[test]
fn the_committed_cdn_layout_is_consistent() {
    let models = repo_root().join("models");
    let channel = Channel::from_json(&read(models.join("mnist/channel.json"))).unwrap();
    assert!(channel.versions.len() >= 2, "publish at least two versions to roll out against each other");
    for version in &channel.versions {
        let manifest = Manifest::from_json(&read(models.join(format!("mnist/{version}/manifest.json")))).unwrap();
        assert_eq!(&manifest.version, version);
        let entry = manifest.weights().unwrap();
        let bytes = std::fs::read(models.join(format!("mnist/files/{}.bpk", entry.sha256))).unwrap();
        assert_eq!(format!("{:x}", Sha256::digest(&bytes)), entry.sha256, "{version}");
        // The bar for stable is 99%; a canary may trade a little accuracy (1.1.0 is smaller).
        let bar = if channel.resolve("stable").unwrap() == version { 0.99 } else { 0.98 };
        assert!(manifest.metrics.accuracy >= bar, "{version}: {}", manifest.metrics.accuracy);
    }
}

/// Checks `<file>.sig` is `public`'s Ed25519 signature of the file's bytes as `kind`, with the
/// domain separator, by the key id the format defines.
fn assert_signed(file: &Path, kind: &str, public: &str) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let key_bytes: [u8; 32] = b64.decode(public.trim()).unwrap().try_into().unwrap();
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key_bytes).unwrap();
    let sig = burn_edge_formats::Signature::from_json(&read(PathBuf::from(format!("{}.sig", file.display())))).unwrap();
    assert_eq!(sig.key_id, format!("{:x}", Sha256::digest(key_bytes))[..16]);
    let raw: [u8; 64] = b64.decode(&sig.signature).unwrap().try_into().unwrap();
    let mut message = format!("burn-edge-signature-v1\n{kind}\n").into_bytes();
    message.extend(std::fs::read(file).unwrap());
    key.verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&raw)).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
}

#[test]
fn keygen_then_a_signed_publish_then_an_unsigned_one() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let o = cli(&["keygen", "--out", keys.to_str().unwrap()]);
    let public = ok(o);
    assert_eq!(public.trim(), read(keys.join("signing.pub")).trim(), "prints the public key it wrote");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(keys.join("signing.key")).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // Never twice into the same place, never into a CDN folder.
    assert!(!cli(&["keygen", "--out", keys.to_str().unwrap()]).status.success());
    let o = cli(&["keygen", "--out", dir.path().join("models/keys").to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("private keys never go where the CDN serves from"));

    // Signed through the environment variable, as CI would pass a secret.
    let models = dir.path().join("models");
    let key = keys.join("signing.key");
    let out = ok(publish_with(&models, &committed_weights(), "1.0.0", &["stable"], &[("BURN_EDGE_SIGNING_KEY", &key)]));
    assert!(out.contains("signed the manifest and the channel with key"), "{out}");
    assert_signed(&models.join("mnist/channel.json"), "channel", &public);
    assert_signed(&models.join("mnist/1.0.0/manifest.json"), "manifest", &public);
    assert!(!models.join("mnist/files").read_dir().unwrap().any(|e| e.unwrap().file_name().to_string_lossy().contains("key")));
    assert!(std::fs::read_dir(&models).unwrap().all(|e| !e.unwrap().path().join("signing.key").exists()));

    // Without a key: still published, said to be unsigned, and no stale channel signature left.
    let out = ok(publish(&models, &committed_weights(), "1.0.0", &["canary"]));
    assert!(out.contains("unsigned release"), "{out}");
    assert!(!models.join("mnist/channel.json.sig").exists(), "a stale signature would read as tampering");

    let folder = models.join("mnist");
    let verify = |key: &str| cli(&["verify", folder.to_str().unwrap(), "--public-key", key]);
    let o = verify(public.trim());
    assert!(String::from_utf8_lossy(&o.stderr).contains("channel.json.sig"), "the unsigned channel fails verify");

    // `sign` signs the existing folder again; `verify` accepts it, and only with this key.
    let out = ok(cli(&["sign", folder.to_str().unwrap(), "--key", key.to_str().unwrap()]));
    assert!(out.contains("1.0.0"), "{out}");
    assert_signed(&models.join("mnist/channel.json"), "channel", &public);
    assert!(ok(verify(keys.join("signing.pub").to_str().unwrap())).contains("verify, signed by key"));
    let other = dir.path().join("other-keys");
    let other_public = ok(cli(&["keygen", "--out", other.to_str().unwrap()]));
    let o = verify(other_public.trim());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not by the expected key"), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn sign_refuses_a_folder_whose_files_do_not_verify_and_signs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("mnist");
    for entry in ["channel.json", "1.0.0/manifest.json", "1.1.0/manifest.json"] {
        std::fs::create_dir_all(folder.join(entry).parent().unwrap()).unwrap();
        std::fs::copy(repo_root().join("models/mnist").join(entry), folder.join(entry)).unwrap();
    }
    std::fs::create_dir_all(folder.join("files")).unwrap();
    for version in ["1.0.0", "1.1.0"] {
        let manifest = Manifest::from_json(&read(folder.join(format!("{version}/manifest.json")))).unwrap();
        let name = format!("files/{}.bpk", manifest.weights().unwrap().sha256);
        let mut bytes = std::fs::read(repo_root().join("models/mnist").join(&name)).unwrap();
        if version == "1.1.0" {
            bytes[100] ^= 1;
        }
        std::fs::write(folder.join(&name), bytes).unwrap();
    }
    let keys = dir.path().join("keys");
    ok(cli(&["keygen", "--out", keys.to_str().unwrap()]));
    let o = cli(&["sign", folder.to_str().unwrap(), "--key", keys.join("signing.key").to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("1.1.0/manifest.json") && err.contains("refusing to sign a release whose files do not verify"), "{err}");
    for entry in ["channel.json", "1.0.0/manifest.json", "1.1.0/manifest.json"] {
        assert!(!folder.join(format!("{entry}.sig")).exists(), "{entry} was signed");
    }
}
