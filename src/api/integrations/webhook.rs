//! Kaspi's calls are signed in the Standard Webhooks form: `webhook-id`, `webhook-timestamp`
//! and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. Secrets are
//! `whsec_<base64>`; two may be active at once while Kaspi rotates them.

use crate::error::{ApiError, ErrorCode};
use actix_web::http::header::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a signature's timestamp may be from our clock.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// A shared secret, decoded.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    /// Parses `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let encoded = text
            .trim()
            .strip_prefix("whsec_")
            .ok_or("a webhook secret starts with whsec_")?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| "a webhook secret is whsec_ followed by base64")?;
        if bytes.len() < 24 {
            return Err("a webhook secret must be at least 24 bytes".into());
        }
        Ok(WebhookSecret(bytes))
    }

    fn mac(&self, id: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `webhook-signature` value for a message (for our outbound calls and for tests).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self
            .mac(id, &timestamp.to_string(), body)
            .finalize()
            .into_bytes();
        format!("v1,{}", STANDARD.encode(tag))
    }
}

fn refuse(code: ErrorCode, detail: &str) -> ApiError {
    ApiError::new(code, detail.to_owned())
}

/// Checks a signed request; returns the webhook id.
pub fn verify(
    headers: &HeaderMap,
    body: &[u8],
    secrets: &[WebhookSecret],
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let (Some(id), Some(timestamp), Some(signatures)) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    ) else {
        return Err(refuse(
            ErrorCode::InvalidSignature,
            "Kaspi calls must carry webhook-id, webhook-timestamp and webhook-signature",
        ));
    };
    if secrets.is_empty() {
        return Err(refuse(
            ErrorCode::InvalidSignature,
            "no Kaspi webhook secret is configured (POSTAMAT_KASPI_WEBHOOK_SECRETS)",
        ));
    }
    let sent_at: i64 = timestamp.parse().map_err(|_| {
        refuse(
            ErrorCode::InvalidSignature,
            "webhook-timestamp must be Unix seconds",
        )
    })?;
    if now.timestamp().abs_diff(sent_at) > TOLERANCE_SECONDS as u64 {
        return Err(refuse(
            ErrorCode::SignatureExpired,
            "webhook-timestamp is more than 5 minutes from our clock",
        ));
    }
    // Any listed v1 signature made with any active secret; compared in constant time.
    let valid = signatures
        .split_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .any(|tag| {
            secrets
                .iter()
                .any(|secret| secret.mac(id, timestamp, body).verify_slice(&tag).is_ok())
        });
    if valid {
        Ok(id.to_owned())
    } else {
        Err(refuse(
            ErrorCode::InvalidSignature,
            "the webhook signature does not match",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn secret(fill: u8) -> WebhookSecret {
        WebhookSecret::parse(&format!("whsec_{}", STANDARD.encode([fill; 32]))).unwrap()
    }

    fn headers(id: &str, ts: i64, sig: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in [
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", sig.to_owned()),
        ] {
            map.insert(
                HeaderName::from_static(k),
                HeaderValue::from_str(&v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn a_signature_by_either_active_secret_is_accepted() {
        let (old, new) = (secret(1), secret(2));
        let now = Utc::now();
        let body = br#"{"event_id":"e1"}"#;
        for signer in [&old, &new] {
            let sig = signer.sign("msg_1", now.timestamp(), body);
            assert!(
                verify(
                    &headers("msg_1", now.timestamp(), &sig),
                    body,
                    &[old.clone(), new.clone()],
                    now
                )
                .is_ok()
            );
        }
        let retired = secret(3).sign("msg_1", now.timestamp(), body);
        let err = verify(
            &headers("msg_1", now.timestamp(), &retired),
            body,
            &[old, new],
            now,
        )
        .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidSignature);
    }

    #[test]
    fn a_changed_body_an_old_timestamp_or_missing_headers_are_refused() {
        let key = secret(7);
        let now = Utc::now();
        let sig = key.sign("msg_2", now.timestamp(), b"{}");
        assert!(
            verify(
                &headers("msg_2", now.timestamp(), &sig),
                b"{ }",
                std::slice::from_ref(&key),
                now
            )
            .is_err()
        );
        let old = now.timestamp() - 301;
        let sig_old = key.sign("msg_2", old, b"{}");
        let err = verify(
            &headers("msg_2", old, &sig_old),
            b"{}",
            std::slice::from_ref(&key),
            now,
        )
        .unwrap_err();
        assert_eq!(err.code(), ErrorCode::SignatureExpired);
        assert!(verify(&HeaderMap::new(), b"{}", &[key], now).is_err());
        assert!(WebhookSecret::parse("not-a-secret").is_err());
        assert!(WebhookSecret::parse("whsec_c2hvcnQ=").is_err());
    }
}
