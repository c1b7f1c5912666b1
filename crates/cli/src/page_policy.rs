//! The Content-Security-Policy `burn-edge serve` sends. Every response carries it: browsers
//! enforce it on documents and on worker scripts (a dedicated worker takes the policy of its
//! own script's response), and ignore it elsewhere. The strict policy allows scripts and
//! workers from this origin only and wasm compilation (`'wasm-unsafe-eval'`), no `eval`, no
//! `blob:` or inline scripts; `connect-src` is this origin (CDN, collector, predict API) plus
//! the origins given with `--connect-src`. The one exception is ONNX Runtime Web, which needs
//! `'unsafe-eval'` and `blob:` workers: the benchmark pages that load it (and its files under
//! `/pkg/vendor/ort/`) get a weaker policy, listed in `ORT_PATHS`.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

/// Paths (exact, or a folder ending in `/`) served with the ONNX Runtime Web policy: the
/// benchmark pages comparing against it, and its own scripts (it starts workers from them).
pub const ORT_PATHS: &[&str] = &["/bench.html", "/bench-models.html", "/bench-squeezenet.html", "/pkg/vendor/ort/"];

/// Directives both policies share after `connect-src`: images from here, `data:` (favicons)
/// and `blob:` (a chosen photo shown before it is classified); styles from files only.
const REST: &str =
    "img-src 'self' data: blob:; style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'";

/// Why an extra `connect-src` source was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PolicyError {
    #[error("{0:?} is not a connect-src origin: give scheme://host[:port] (port may be *), e.g. https://cdn.example")]
    BadSource(String),
}

/// The two header values, built once.
#[derive(Debug, Clone)]
pub struct PagePolicy {
    strict: HeaderValue,
    ort: HeaderValue,
}

impl PagePolicy {
    /// The policies, with `extra_connect` origins (`--connect-src`) allowed to be fetched
    /// from besides this one (a model CDN, a collector, a prediction server elsewhere).
    pub fn new(extra_connect: &[String]) -> Result<Self, PolicyError> {
        let mut connect = String::from("'self'");
        for source in extra_connect {
            connect.push(' ');
            connect.push_str(&checked_origin(source)?);
        }
        let strict = format!("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src {connect}; {REST}");
        let ort = format!(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval' blob:; worker-src 'self' blob:; \
             connect-src {connect} blob: data:; {REST}"
        );
        // Every character was checked to be a visible ASCII one.
        let value = |s: String| HeaderValue::from_str(&s).map_err(|_| PolicyError::BadSource(s));
        Ok(PagePolicy { strict: value(strict)?, ort: value(ort)? })
    }

    /// The policy for a request path.
    pub fn for_path(&self, path: &str) -> &HeaderValue {
        let ort = ORT_PATHS.iter().any(|p| if p.ends_with('/') { path.starts_with(p) } else { path == *p });
        if ort {
            &self.ort
        } else {
            &self.strict
        }
    }
}

impl Default for PagePolicy {
    fn default() -> Self {
        PagePolicy::new(&[]).expect("the built-in policy is valid")
    }
}

/// `scheme://host[:port]`, lower-cased, with nothing that could end the directive or the
/// header (`;`, `,`, quotes, spaces): a CSP source expression of one origin.
fn checked_origin(source: &str) -> Result<String, PolicyError> {
    let bad = || PolicyError::BadSource(source.to_string());
    let (scheme, rest) = source.split_once("://").ok_or_else(bad)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let scheme_ok = matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https" | "ws" | "wss");
    // An IPv6 host is bracketed: its colons are not the port's.
    let (host, port) = match rest.find(']') {
        Some(end) => match rest.split_at(end + 1) {
            (h, "") => (h, None),
            (h, after) => (h, Some(after.strip_prefix(':').ok_or_else(bad)?)),
        },
        None => match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        },
    };
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(ipv6) => !ipv6.is_empty() && ipv6.chars().all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.')),
        // A wildcard only as the first label: `*.example.com`.
        None => {
            let name = host.strip_prefix("*.").unwrap_or(host);
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        }
    };
    let port_ok = port.is_none_or(|p| p == "*" || (!p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit())));
    if !(scheme_ok && host_ok && port_ok) {
        return Err(bad());
    }
    Ok(format!("{}://{}", scheme.to_ascii_lowercase(), rest.to_ascii_lowercase()))
}

/// `app` with `policy` on every response.
pub fn with_policy(app: axum::Router, policy: PagePolicy) -> axum::Router {
    app.layer(axum::middleware::from_fn_with_state(Arc::new(policy), set_policy))
}

/// Sets the path's policy on every response (a handler's own policy is kept).
async fn set_policy(State(policy): State<Arc<PagePolicy>>, req: Request, next: Next) -> Response {
    let value = policy.for_path(req.uri().path()).clone();
    let mut res = next.run(req).await;
    res.headers_mut().entry(header::CONTENT_SECURITY_POLICY).or_insert(value);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_everywhere_but_the_ort_pages() {
        let policy = PagePolicy::default();
        let strict = policy.for_path("/index.html").to_str().unwrap();
        assert_eq!(
            strict,
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; \
             img-src 'self' data: blob:; style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
        );
        for path in ["/", "/classify.html", "/lib/worker.js", "/pkg/cpu/burn_edge.js", "/bench.html.bak", "/pkg/vendor/squeezenet.onnx"] {
            assert_eq!(policy.for_path(path).to_str().unwrap(), strict, "{path}");
        }
        for path in ["/bench.html", "/bench-models.html", "/bench-squeezenet.html", "/pkg/vendor/ort/ort.wasm.min.mjs"] {
            let ort = policy.for_path(path).to_str().unwrap();
            assert!(ort.contains("'unsafe-eval'") && ort.contains("worker-src 'self' blob:"), "{path}: {ort}");
        }
        assert!(
            !strict.contains("'unsafe-eval'")
                && !strict.contains("unsafe-inline")
                && !strict.contains("blob: ;")
                && !strict.contains("script-src 'self' 'wasm-unsafe-eval' blob:")
        );
    }

    #[test]
    fn extra_connect_origins_are_checked() {
        let policy = PagePolicy::new(&[
            "https://CDN.example/".into(),
            "http://127.0.0.1:*".into(),
            "http://[::1]:8080".into(),
            "http://[::1]".into(),
        ])
        .unwrap();
        assert!(policy
            .for_path("/")
            .to_str()
            .unwrap()
            .contains("connect-src 'self' https://cdn.example http://127.0.0.1:* http://[::1]:8080 http://[::1];"));
        assert!(PagePolicy::new(&["https://*.example.com".into()]).is_ok());
        for bad in [
            "cdn.example",
            "https://a.example; script-src *",
            "https://a b",
            "javascript://x",
            "https://",
            "https://x:abc",
            "'unsafe-eval'",
            "https://a*b.example",
            "https://x.example/path",
            "http://a]",
            "http://[zz]",
        ] {
            assert_eq!(PagePolicy::new(&[bad.to_string()]).unwrap_err(), PolicyError::BadSource(bad.into()), "{bad}");
        }
    }
}
