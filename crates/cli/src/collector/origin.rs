//! Which browser origins may send an app's telemetry. Origins are parsed (scheme, host, port
//! with the scheme's default filled in) and compared exactly, so `http://localhost:evil.example`
//! or `http://localhost.evil.example` are not loopback. A request without `Origin` comes from
//! a non-browser client (an OpenTelemetry exporter, a script): it is accepted only when the
//! policy says so.

use axum::http::HeaderValue;
use url::{Host, Url};

/// A parsed web origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: Host<String>,
    port: u16,
}

/// A malformed origin.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0:?} is not an origin (scheme://host[:port], http or https)")]
pub struct OriginError(pub String);

impl Origin {
    /// Parses `scheme://host[:port]`; anything else (a path, credentials, `null`) is refused.
    pub fn parse(s: &str) -> Result<Origin, OriginError> {
        let err = || OriginError(s.to_string());
        let url = Url::parse(s).map_err(|_| err())?;
        if !matches!(url.scheme(), "http" | "https")
            || !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
            || url.path() != "/"
        {
            return Err(err());
        }
        let host = url.host().ok_or_else(err)?.to_owned();
        let port = url.port_or_known_default().ok_or_else(err)?;
        Ok(Origin { scheme: url.scheme().to_string(), host, port })
    }

    fn is_loopback(&self) -> bool {
        match &self.host {
            Host::Domain(d) => d == "localhost",
            Host::Ipv4(ip) => ip.is_loopback(),
            Host::Ipv6(ip) => ip.is_loopback(),
        }
    }

    /// The `Origin` header form (default ports left out), for CORS.
    pub fn header_value(&self) -> HeaderValue {
        let default = if self.scheme == "https" { 443 } else { 80 };
        let host = match &self.host {
            Host::Ipv6(ip) => format!("[{ip}]"),
            other => other.to_string(),
        };
        let s = if self.port == default { format!("{}://{host}", self.scheme) } else { format!("{}://{host}:{}", self.scheme, self.port) };
        HeaderValue::from_str(&s).expect("a parsed origin is a valid header value")
    }
}

/// One app's origin rule.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginPolicy {
    /// Loopback origins (`http(s)://localhost|127.0.0.0/8|[::1]` on any port).
    pub loopback: bool,
    /// Any origin (`*`).
    pub any: bool,
    /// Requests without `Origin` (non-browser clients).
    pub without_origin: bool,
    /// Exactly these origins.
    pub allowed: Vec<Origin>,
}

impl Default for OriginPolicy {
    /// The local default: pages on loopback origins, and non-browser clients on this machine
    /// (`npm run bench:collector`, an OTel exporter).
    fn default() -> Self {
        OriginPolicy { loopback: true, any: false, without_origin: true, allowed: Vec::new() }
    }
}

impl OriginPolicy {
    /// From `--allow-origin` values: origins, `*` (any origin) and `none` (requests without an
    /// `Origin` header); no values at all is the loopback default.
    pub fn from_args(values: &[String]) -> Result<OriginPolicy, OriginError> {
        if values.is_empty() {
            return Ok(OriginPolicy::default());
        }
        let mut policy = OriginPolicy { loopback: false, any: false, without_origin: false, allowed: Vec::new() };
        for v in values {
            match v.as_str() {
                "*" => policy.any = true,
                "none" => policy.without_origin = true,
                origin => policy.allowed.push(Origin::parse(origin)?),
            }
        }
        Ok(policy)
    }

    /// `Ok` when a request with this `Origin` header (or none) may send.
    pub fn check(&self, origin: Option<&HeaderValue>) -> Result<(), String> {
        let Some(value) = origin else {
            return if self.without_origin {
                Ok(())
            } else {
                Err("a request without an Origin header is not allowed (start the server with --allow-origin none to accept non-browser clients)".into())
            };
        };
        let text = value.to_str().unwrap_or("");
        if self.any {
            return Ok(());
        }
        let Ok(parsed) = Origin::parse(text) else {
            return Err(format!("origin {text:?} is not allowed"));
        };
        if (self.loopback && parsed.is_loopback()) || self.allowed.contains(&parsed) {
            Ok(())
        } else {
            Err(format!("origin {text} is not allowed"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(policy: &OriginPolicy, origin: &str) -> bool {
        policy.check(Some(&HeaderValue::from_str(origin).unwrap())).is_ok()
    }

    #[test]
    fn loopback_origins_are_parsed_not_prefix_matched() {
        let p = OriginPolicy::default();
        for ok in ["http://127.0.0.1:8080", "http://localhost", "https://localhost:3000", "http://[::1]:9", "http://127.0.0.2:80"] {
            assert!(check(&p, ok), "{ok}");
        }
        for bad in [
            "http://localhost:evil.example",
            "http://localhost.evil.example",
            "http://localhost@evil.example",
            "http://evil.example#http://localhost",
            "http://127.0.0.1.evil.example",
            "https://app.example",
            "ftp://localhost",
            "null",
            "http://localhost/path",
            "",
        ] {
            assert!(!check(&p, bad), "{bad}");
        }
        assert!(p.check(None).is_ok(), "the local default accepts non-browser clients");
    }

    #[test]
    fn an_allow_list_is_exact_and_refuses_requests_without_origin() {
        let p = OriginPolicy::from_args(&["https://app.example".into(), "http://other.example:8080".into()]).unwrap();
        assert!(check(&p, "https://app.example"));
        assert!(check(&p, "https://app.example:443"), "the default port is the same origin");
        assert!(check(&p, "http://other.example:8080"));
        assert!(!check(&p, "http://app.example"), "another scheme");
        assert!(!check(&p, "https://app.example:8443"), "another port");
        assert!(!check(&p, "https://app.example.evil.example"));
        assert!(!check(&p, "http://localhost:8080"), "loopback is not implied by a list");
        assert!(p.check(None).is_err());
        let with_none = OriginPolicy::from_args(&["https://app.example".into(), "none".into()]).unwrap();
        assert!(with_none.check(None).is_ok());
        let any = OriginPolicy::from_args(&["*".into()]).unwrap();
        assert!(check(&any, "https://whatever.example") && any.check(None).is_err());
        assert!(OriginPolicy::from_args(&["app.example".into()]).is_err());
        assert!(OriginPolicy::from_args(&["https://app.example/path".into()]).is_err());
    }

    #[test]
    fn header_values_are_the_browser_form() {
        assert_eq!(Origin::parse("https://app.example:443").unwrap().header_value(), "https://app.example");
        assert_eq!(Origin::parse("http://[::1]:8080").unwrap().header_value(), "http://[::1]:8080");
    }
}
