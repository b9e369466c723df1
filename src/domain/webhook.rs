//! The signature of the Kaspi exchange (п.9, 20, 31): Standard Webhooks, `v1,<base64
//! HMAC-SHA256 of "id.timestamp.body">` with `whsec_<base64>` secrets, two active at once while
//! Kaspi rotates them. Pure: the time a signature is checked against is an input.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

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

/// Most signatures one `webhook-signature` header may list. Standard Webhooks sends one per
/// secret the sender signs with; two during a rotation. Anything beyond a handful is not a
/// sender's header but an attempt to make us work.
pub const MAX_SIGNATURES: usize = 8;

/// The longest `webhook-signature` header read: [`MAX_SIGNATURES`] `v1,<base64 of 32 bytes>`
/// tags (47 characters each) with the spaces between them.
pub const MAX_SIGNATURE_HEADER: usize = MAX_SIGNATURES * 48;

/// The longest `webhook-id` read (Standard Webhooks ids are short: `msg_<ksuid>`).
pub const MAX_WEBHOOK_ID: usize = 256;

/// Why a signed message is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Kaspi webhook secret is configured (POSTAMAT_KASPI_WEBHOOK_SECRETS)")]
    NoSecret,
    #[error("webhook-timestamp must be Unix seconds")]
    BadTimestamp,
    #[error("webhook-timestamp is more than 5 minutes from our clock")]
    Expired,
    #[error("the webhook signature does not match")]
    Mismatch,
    #[error(
        "webhook-id may be at most {MAX_WEBHOOK_ID} characters and webhook-signature at most {MAX_SIGNATURE_HEADER} characters with at most {MAX_SIGNATURES} signatures"
    )]
    Oversized,
}

/// The candidate tags of a `webhook-signature` header, refused before any hashing when the
/// header is longer or lists more than a sender ever sends.
fn candidates(signatures: &str) -> Result<Vec<Vec<u8>>, SignatureError> {
    if signatures.len() > MAX_SIGNATURE_HEADER {
        return Err(SignatureError::Oversized);
    }
    let listed: Vec<&str> = signatures.split_whitespace().collect();
    if listed.len() > MAX_SIGNATURES {
        return Err(SignatureError::Oversized);
    }
    Ok(listed
        .into_iter()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .collect())
}

/// Checks `signatures` (the `webhook-signature` header: one or more `v1,<base64>`) of a message
/// against every active secret. The cost is bounded before anything is hashed (the header's
/// size, the timestamp), and then it is one HMAC of the body per secret, whatever the header
/// lists: each secret's tag is computed once and compared with every candidate in constant time.
pub fn verify(
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    secrets: &[WebhookSecret],
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    if id.len() > MAX_WEBHOOK_ID {
        return Err(SignatureError::Oversized);
    }
    let candidates = candidates(signatures)?;
    let sent_at: i64 = timestamp
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if now.timestamp().abs_diff(sent_at) > TOLERANCE_SECONDS as u64 {
        return Err(SignatureError::Expired);
    }
    if candidates.is_empty() {
        return Err(SignatureError::Mismatch);
    }
    let mut valid = subtle::Choice::from(0);
    for secret in secrets {
        let tag = secret.mac(id, timestamp, body).finalize().into_bytes();
        for candidate in &candidates {
            // `ct_eq` on slices of different lengths is false (and says nothing of content).
            valid |= tag.as_slice().ct_eq(candidate.as_slice());
        }
    }
    if bool::from(valid) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(fill: u8) -> WebhookSecret {
        WebhookSecret::parse(&format!("whsec_{}", STANDARD.encode([fill; 32]))).unwrap()
    }

    #[test]
    fn a_signature_by_either_active_secret_is_accepted() {
        let (old, new) = (secret(1), secret(2));
        let now = Utc::now();
        let ts = now.timestamp().to_string();
        let body = br#"{"event_id":"e1"}"#;
        for signer in [&old, &new] {
            let sig = signer.sign("msg_1", now.timestamp(), body);
            assert_eq!(
                verify("msg_1", &ts, &sig, body, &[old.clone(), new.clone()], now),
                Ok(())
            );
        }
        let retired = secret(3).sign("msg_1", now.timestamp(), body);
        assert_eq!(
            verify("msg_1", &ts, &retired, body, &[old, new], now),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_changed_body_an_old_timestamp_or_no_secret_are_refused() {
        let key = secret(7);
        let now = Utc::now();
        let ts = now.timestamp().to_string();
        let sig = key.sign("msg_2", now.timestamp(), b"{}");
        let keys = std::slice::from_ref(&key);
        assert_eq!(
            verify("msg_2", &ts, &sig, b"{ }", keys, now),
            Err(SignatureError::Mismatch)
        );
        let old = now.timestamp() - 301;
        let sig_old = key.sign("msg_2", old, b"{}");
        assert_eq!(
            verify("msg_2", &old.to_string(), &sig_old, b"{}", keys, now),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            verify("msg_2", "soon", &sig, b"{}", keys, now),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            verify("msg_2", &ts, &sig, b"{}", &[], now),
            Err(SignatureError::NoSecret)
        );
        assert!(WebhookSecret::parse("not-a-secret").is_err());
        assert!(WebhookSecret::parse("whsec_c2hvcnQ=").is_err());
    }

    #[test]
    fn a_header_listing_more_signatures_than_a_sender_sends_is_refused_before_hashing() {
        let key = secret(9);
        let now = Utc::now();
        let ts = now.timestamp().to_string();
        let body = vec![b' '; 1024 * 1024];
        let keys = std::slice::from_ref(&key);
        // The attack of the security review: 30,000 empty candidates over the largest body.
        let flood = vec!["v1,"; 30_000].join(" ");
        assert_eq!(
            verify("msg_3", &ts, &flood, &body, keys, now),
            Err(SignatureError::Oversized)
        );
        // Within the header's length but more candidates than allowed.
        let many = ["v1,"; MAX_SIGNATURES + 1].join(" ");
        assert!(many.len() <= MAX_SIGNATURE_HEADER);
        assert_eq!(
            verify("msg_3", &ts, &many, &body, keys, now),
            Err(SignatureError::Oversized)
        );
        let long_id = "m".repeat(MAX_WEBHOOK_ID + 1);
        let sig = key.sign(&long_id, now.timestamp(), &body);
        assert_eq!(
            verify(&long_id, &ts, &sig, &body, keys, now),
            Err(SignatureError::Oversized)
        );
    }

    #[test]
    fn the_right_tag_among_as_many_candidates_as_allowed_is_found() {
        let (old, new) = (secret(1), secret(2));
        let now = Utc::now();
        let ts = now.timestamp().to_string();
        let body = br#"{"event_id":"e2"}"#;
        let right = new.sign("msg_4", now.timestamp(), body);
        let wrong = secret(5).sign("msg_4", now.timestamp(), body);
        let mut listed = vec![wrong.as_str(); MAX_SIGNATURES - 1];
        listed.push(&right);
        let header = listed.join(" ");
        assert!(header.len() <= MAX_SIGNATURE_HEADER);
        let keys = [old, new];
        assert_eq!(verify("msg_4", &ts, &header, body, &keys, now), Ok(()));
        // A truncated tag, or one in another scheme, is no match.
        let truncated = &right[..right.len() - 4];
        assert_eq!(
            verify("msg_4", &ts, truncated, body, &keys, now),
            Err(SignatureError::Mismatch)
        );
        let other_scheme = right.replacen("v1,", "v1a,", 1);
        assert_eq!(
            verify("msg_4", &ts, &other_scheme, body, &keys, now),
            Err(SignatureError::Mismatch)
        );
    }
}
