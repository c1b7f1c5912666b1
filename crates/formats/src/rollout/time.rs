//! Ramp-step times: RFC 3339 in UTC with a `Z` suffix only, so `Date.parse` in the shell and
//! this parser read every accepted string as the same instant.

/// Milliseconds since the Unix epoch of `YYYY-MM-DDTHH:MM:SS[.fff]Z`, or `None`.
pub fn parse_utc_millis(text: &str) -> Option<i64> {
    // No leap second (`:60`): chrono takes it, `Date.parse` does not.
    let shaped = text.len() >= 20 && text.as_bytes().get(10) == Some(&b'T') && text.ends_with('Z') && text.get(17..19) != Some("60");
    if !shaped {
        return None;
    }
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::parse_utc_millis;

    #[test]
    fn only_utc_rfc3339_is_accepted() {
        assert_eq!(parse_utc_millis("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_utc_millis("2026-12-01T15:00:00.250Z"), Some(1_796_137_200_250));
        for bad in [
            "2026-12-01T15:00:00+01:00",
            "2026-12-01 15:00:00Z",
            "2026-12-01t15:00:00Z",
            "2026-13-01T15:00:00Z",
            "2026-12-31T23:59:60Z",
            "",
            "yesterday",
        ] {
            assert_eq!(parse_utc_millis(bad), None, "{bad}");
        }
    }
}
