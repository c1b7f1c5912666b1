//! Key checks in constant time. Both sides are hashed (SHA-256) first, so the comparison
//! takes the same time whatever the key's length or its first differing byte, and every
//! configured key is compared, so timing does not tell which app nearly matched.

use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A secret kept only as its digest.
#[derive(Clone)]
pub struct Secret([u8; 32]);

impl Secret {
    pub fn new(key: &str) -> Secret {
        Secret(Sha256::digest(key.as_bytes()).into())
    }

    /// Constant-time equality with `candidate`.
    pub fn matches(&self, candidate: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(candidate.as_bytes()).into();
        self.0.ct_eq(&digest).into()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The index of the secret `candidate` matches, comparing against all of them.
pub fn find<'a>(secrets: impl IntoIterator<Item = &'a Secret>, candidate: &str) -> Option<usize> {
    let mut found = None;
    for (i, s) in secrets.into_iter().enumerate() {
        if s.matches(candidate) && found.is_none() {
            found = Some(i);
        }
    }
    found
}

/// The read key from `header_name` or `Authorization: Bearer ...`.
pub fn read_key_from(headers: &HeaderMap, header_name: &str) -> Option<String> {
    if let Some(v) = headers.get(header_name).and_then(|v| v.to_str().ok()) {
        return Some(v.to_string());
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = auth.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn secrets_match_exactly() {
        let s = Secret::new("demo-key");
        assert!(s.matches("demo-key"));
        for other in ["demo-ke", "demo-key ", "", "DEMO-KEY", "demo-key\0"] {
            assert!(!s.matches(other), "{other:?}");
        }
        let all = [Secret::new("a"), Secret::new("b"), Secret::new("b")];
        assert_eq!(find(&all, "b"), Some(1));
        assert_eq!(find(&all, "c"), None);
    }

    #[test]
    fn read_key_from_its_header_or_a_bearer_token() {
        let mut h = HeaderMap::new();
        assert_eq!(read_key_from(&h, "x-k"), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer  tok"));
        assert_eq!(read_key_from(&h, "x-k").as_deref(), Some("tok"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic dXNlcg=="));
        assert_eq!(read_key_from(&h, "x-k"), None);
        h.insert("x-k", HeaderValue::from_static("hdr"));
        assert_eq!(read_key_from(&h, "x-k").as_deref(), Some("hdr"));
    }
}
