//! Who may deliver: a request is authorised when it carries the shared secret in any form a
//! delivering service can send it — an API-key header (EventBridge connection, API-key auth),
//! the password of `Authorization: Basic` (connection, Basic auth), or
//! `X-Amz-Firehose-Access-Key` (Firehose HTTP endpoint). Pure: headers in, yes or no out.

use axum::http::{HeaderMap, HeaderName, header};
use base64::Engine;
use subtle::ConstantTimeEq;

use crate::api::secret::Secret;

/// The header Firehose sends its access key in.
pub const FIREHOSE_KEY: &str = "x-amz-firehose-access-key";

/// How requests are checked.
#[derive(Clone, Debug)]
pub struct Guard {
    /// `None`: anything goes (`--no-auth`, loopback only).
    pub secret: Option<Secret>,
    pub api_key_header: HeaderName,
}

impl Guard {
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(secret) = &self.secret else {
            return true;
        };
        let secret = secret.expose().as_bytes();
        // Every form is checked, whatever the outcome of the others, so the time taken says
        // nothing about which one came close.
        let mut ok = 0u8;
        for name in [&self.api_key_header, &HeaderName::from_static(FIREHOSE_KEY)] {
            for v in headers.get_all(name) {
                ok |= same(v.as_bytes(), secret);
            }
        }
        for v in headers.get_all(header::AUTHORIZATION) {
            if let Some(password) = basic_password(v.as_bytes()) {
                ok |= same(&password, secret);
            }
        }
        ok == 1
    }
}

/// 1 when equal, compared in time that depends on the lengths only.
fn same(given: &[u8], secret: &[u8]) -> u8 {
    given.ct_eq(secret).unwrap_u8()
}

/// The password of a `Basic` credential (`base64(user:password)`), when it is one.
fn basic_password(value: &[u8]) -> Option<Vec<u8>> {
    let s = std::str::from_utf8(value).ok()?.trim();
    let (scheme, encoded) = s.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some(decoded[colon + 1..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn guard() -> Guard {
        Guard {
            secret: Some(Secret::new("s3cret")),
            api_key_header: HeaderName::from_static("x-api-key"),
        }
    }

    fn with(name: &str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            HeaderName::try_from(name).unwrap(),
            HeaderValue::try_from(value).unwrap(),
        );
        h
    }

    fn basic(user_pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
    }

    #[test]
    fn each_form_of_the_secret_is_accepted() {
        let g = guard();
        assert!(g.allows(&with("x-api-key", "s3cret")));
        assert!(g.allows(&with("X-Amz-Firehose-Access-Key", "s3cret")));
        assert!(g.allows(&with("authorization", &basic("eventbridge:s3cret"))));
        assert!(g.allows(&with("authorization", &basic(":s3cret"))));
        assert!(g.allows(&with(
            "authorization",
            &basic("u:s3cret").replace("Basic", "basic")
        )));
    }

    #[test]
    fn anything_else_is_refused() {
        let g = guard();
        assert!(!g.allows(&HeaderMap::new()));
        assert!(!g.allows(&with("x-api-key", "s3cre")));
        assert!(!g.allows(&with("x-api-key", "s3cret ")));
        assert!(!g.allows(&with("x-other", "s3cret")));
        assert!(!g.allows(&with("authorization", &basic("s3cret:wrong"))));
        assert!(!g.allows(&with("authorization", &basic("s3cret"))));
        assert!(!g.allows(&with("authorization", "Bearer s3cret")));
        assert!(!g.allows(&with("authorization", "Basic !!!")));
    }

    #[test]
    fn a_custom_api_key_header() {
        let g = Guard {
            api_key_header: HeaderName::from_static("x-gcorr-key"),
            ..guard()
        };
        assert!(g.allows(&with("x-gcorr-key", "s3cret")));
        assert!(!g.allows(&with("x-api-key", "s3cret")));
    }

    #[test]
    fn no_secret_allows_all() {
        let g = Guard {
            secret: None,
            ..guard()
        };
        assert!(g.allows(&HeaderMap::new()));
    }
}
