//! Kaspi's calls carry the Standard Webhooks headers `webhook-id`, `webhook-timestamp` and
//! `webhook-signature`; the signature itself is checked by `domain::webhook`.

use crate::api::error::{ApiError, ErrorCode};
use crate::domain::webhook::{self, SignatureError, WebhookSecret};
use actix_web::http::header::HeaderMap;
use chrono::{DateTime, Utc};

/// Checks a signed request; returns the webhook id. The body has been bounded already: actix's
/// `PayloadConfig` (the service's `POSTAMAT_MAX_BODY_BYTES`) answers 413 before the handler,
/// so nothing larger is ever hashed.
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
        return Err(ApiError::new(
            ErrorCode::InvalidSignature,
            "Kaspi calls must carry webhook-id, webhook-timestamp and webhook-signature",
        ));
    };
    webhook::verify(id, timestamp, signatures, body, secrets, now)
        .map(|()| id.to_owned())
        .map_err(|e| {
            let code = match e {
                SignatureError::Expired => ErrorCode::SignatureExpired,
                SignatureError::NoSecret
                | SignatureError::BadTimestamp
                | SignatureError::Mismatch
                | SignatureError::Oversized => ErrorCode::InvalidSignature,
            };
            ApiError::new(code, e.to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};
    use base64::Engine;

    fn secret(fill: u8) -> WebhookSecret {
        let encoded = base64::engine::general_purpose::STANDARD.encode([fill; 32]);
        WebhookSecret::parse(&format!("whsec_{encoded}")).unwrap()
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
    fn signed_headers_give_the_webhook_id_and_each_failure_its_code() {
        let key = secret(7);
        let now = Utc::now();
        let sig = key.sign("msg_2", now.timestamp(), b"{}");
        let keys = std::slice::from_ref(&key);
        assert_eq!(
            verify(&headers("msg_2", now.timestamp(), &sig), b"{}", keys, now).unwrap(),
            "msg_2"
        );
        let err = verify(&headers("msg_2", now.timestamp(), &sig), b"{ }", keys, now);
        assert_eq!(err.unwrap_err().code(), ErrorCode::InvalidSignature);
        let old = now.timestamp() - 301;
        let sig_old = key.sign("msg_2", old, b"{}");
        let err = verify(&headers("msg_2", old, &sig_old), b"{}", keys, now);
        assert_eq!(err.unwrap_err().code(), ErrorCode::SignatureExpired);
        let err = verify(&HeaderMap::new(), b"{}", keys, now);
        assert_eq!(err.unwrap_err().code(), ErrorCode::InvalidSignature);
    }
}
