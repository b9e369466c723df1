//! How long an SMS is: its encoding and how many segments the 1414 gateway will send.

/// How an SMS is encoded and how many segments it takes: GSM-7 (160 septets, 153 per part) when
/// every character is in the GSM alphabet, otherwise UCS-2 (70 UTF-16 units, 67 per part) —
/// which is every Kazakh or Russian text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsEncoding {
    Gsm7,
    Ucs2,
}

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

const GSM7_EXTENDED: &str = "^{}\\[~]|€\x0c";

pub fn sms_segments(text: &str) -> (SmsEncoding, usize) {
    let gsm: Option<usize> = text.chars().try_fold(0usize, |septets, c| {
        if GSM7_BASIC.contains(c) {
            Some(septets + 1)
        } else if GSM7_EXTENDED.contains(c) {
            Some(septets + 2)
        } else {
            None
        }
    });
    let (encoding, units, single, part) = match gsm {
        Some(septets) => (SmsEncoding::Gsm7, septets, 160, 153),
        None => (SmsEncoding::Ucs2, text.encode_utf16().count(), 70, 67),
    };
    let segments = if units <= single {
        1
    } else {
        units.div_ceil(part)
    };
    (encoding, segments)
}
