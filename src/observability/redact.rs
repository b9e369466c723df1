//! Nothing in a log line may reveal an IIN, a full phone number or an API token (DOMAIN.md §7).
//! Call sites avoid logging them; this scrubber is the backstop that every log line
//! passes through before it is written.

use regex::{Captures, Regex};
use std::io::{self, Write};
use std::sync::LazyLock;
use tracing_subscriber::fmt::MakeWriter;

static SENSITIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        // Ids (request ids, record ids) are UUIDs, kept whole: one whose last group happens to
        // be ten or more decimal digits would otherwise lose them to the digit rule below, and
        // its log lines could no longer be found by the X-Request-Id a caller quotes.
        r"(?P<uuid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})",
        // API tokens (see db::models::api_key::TOKEN_PREFIX).
        r"|(?P<token>pst_[A-Za-z0-9_\-]{4,})",
        // A bearer credential of any shape.
        r"|(?P<bearer>(?i:bearer)\s+[A-Za-z0-9._~+/=\-]+)",
        // Kazakhstan mobile numbers as people write them: +7 7XX…, 8 7XX…, 7 7XX…, with
        // optional spaces, dashes and brackets.
        r"|(?P<phone>(?:\+7|\b[78])[\s\-]?\(?7[0-9]{2}\)?[\s\-]?[0-9]{3}[\s\-]?[0-9]{2}[\s\-]?[0-9]{2}\b)",
        // IINs and any other run of 10 or more digits.
        r"|(?P<digits>[0-9]{10,})",
    ))
    .expect("redaction pattern compiles")
});

/// A URL in a log line, up to the first character that cannot be in one unescaped.
static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s"'<>\\]+"#).expect("URL pattern compiles")
});

/// Masks the secrets a URL can carry (user-info, query values, fragment: [`crate::db::mask_url`])
/// wherever one appears in `text` (issue 28 finding 5).
pub fn mask_urls(text: &str) -> std::borrow::Cow<'_, str> {
    URL.replace_all(text, |caps: &Captures<'_>| {
        let url = &caps[0];
        if url.contains(['@', '?', '#']) {
            crate::db::mask_url(url)
        } else {
            url.to_owned()
        }
    })
}

/// Masks every secret a URL carries, then every token, phone number and long digit run in
/// `line`, keeping the last two digits of numbers so that two log lines can still be told
/// apart.
pub fn redact(line: &str) -> std::borrow::Cow<'_, str> {
    match mask_urls(line) {
        std::borrow::Cow::Borrowed(line) => redact_values(line),
        std::borrow::Cow::Owned(line) => std::borrow::Cow::Owned(redact_values(&line).into_owned()),
    }
}

fn redact_values(line: &str) -> std::borrow::Cow<'_, str> {
    SENSITIVE.replace_all(line, |caps: &Captures<'_>| {
        if caps.name("uuid").is_some() {
            caps[0].to_owned()
        } else if caps.name("token").is_some() {
            "pst_[redacted]".to_owned()
        } else if caps.name("bearer").is_some() {
            "Bearer [redacted]".to_owned()
        } else {
            let digits: Vec<char> = caps[0].chars().filter(char::is_ascii_digit).collect();
            let tail: String = digits[digits.len() - 2..].iter().collect();
            format!("{}{tail}", "*".repeat(digits.len() - 2))
        }
    })
}

/// Wraps a writer maker so that everything written through it is redacted.
#[derive(Debug, Clone)]
pub struct Redacting<M>(pub M);

pub struct RedactingWriter<W>(W);

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // The fmt layer writes each event in one call, so a buffer is one whole line.
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter(self.0.make_writer())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_inside_urls_are_masked_and_digits_in_them_still_are() {
        let line = r#"{"url":"https://TOKEN@gw.example/send?api_key=abc#f","path":"https://h/a/870412300129"}"#;
        let out = redact(line);
        for secret in ["TOKEN", "abc", "#f", "870412300129"] {
            assert!(!out.contains(secret), "{out}");
        }
        assert!(
            out.contains("https://****@gw.example/send?api_key=****#****"),
            "{out}"
        );
        assert_eq!(
            redact("see https://example.com/docs"),
            "see https://example.com/docs"
        );
    }

    #[test]
    fn iins_phones_and_tokens_are_masked() {
        let line = "iin_870412300129 phone=+77011234567 alt=8 (701) 123-45-67 \
                    auth=Bearer abc.def token=pst_AbCdEf123_-x";
        let out = redact(line);
        assert!(!out.contains("870412300129"), "{out}");
        assert!(out.contains("**********29"), "{out}");
        assert!(!out.contains("7011234567"), "{out}");
        assert!(!out.contains("123-45-67"), "{out}");
        assert!(!out.contains("abc.def"), "{out}");
        assert!(!out.contains("AbCdEf123"), "{out}");
    }

    #[test]
    fn ids_are_kept_whole_even_when_a_group_is_all_digits() {
        let line = "request_id=01a20cc6-7d5f-72b7-8fd7-123456789012 shipment=01a20cc6-0000-7000-8000-004455667788";
        assert_eq!(redact(line), line);
        // A bare IIN beside an id is still masked.
        let out = redact("id=01a20cc6-7d5f-72b7-8fd7-123456789012 iin=870412300129");
        assert!(
            out.contains("123456789012") && !out.contains("870412300129"),
            "{out}"
        );
    }

    #[test]
    fn ordinary_log_content_is_left_alone() {
        let line = "2026-11-23T10:15:00.123456Z INFO request{request_id=0193a0b4-7c1e-7d2a-9f00-1a2b3c4d5e6f} \
                    status=200 elapsed_ms=12 route=/api/v1/branches/{code}";
        assert_eq!(redact(line), line);
    }
}
