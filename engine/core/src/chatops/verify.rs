//! Slack's request signature: `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<body>` with
//! the app's signing secret, within 5 minutes of now (both ways), compared in
//! constant time. Pure: `now` is given.
//!
//! Checked in this order, each failure its own [`Rejection`]: the body size budget
//! (before anything is read), the headers present, their shapes, the time window,
//! then the MAC. The caller answers 401 to any rejection, with no detail.

use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use sha2::Sha256;

/// The largest body accepted (Slack's slash command bodies are well under 4 KiB).
pub const MAX_BODY: usize = 8 * 1024;
/// How far the request's timestamp may be from now, in seconds, either way.
pub const WINDOW_SECONDS: i64 = 5 * 60;
/// The header of the request's timestamp (Unix seconds).
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// The header of the request's signature (`v0=<hex>`).
pub const SIGNATURE_HEADER: &str = "x-slack-signature";

type HmacSha256 = hmac::Hmac<Sha256>;

/// Why a request is not Slack's (every one answered 401 without detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The body is over [`MAX_BODY`].
    #[error("the body is over {MAX_BODY} bytes")]
    TooLarge,
    /// No `X-Slack-Request-Timestamp`.
    #[error("no request timestamp header")]
    MissingTimestamp,
    /// No `X-Slack-Signature`.
    #[error("no signature header")]
    MissingSignature,
    /// The timestamp is not Unix seconds.
    #[error("the request timestamp is not a number of seconds")]
    GarbledTimestamp,
    /// The signature is not `v0=` and 64 hex digits.
    #[error("the signature is not `v0=` and 64 hex digits")]
    GarbledSignature,
    /// The timestamp is more than 5 minutes old.
    #[error("the request is more than 5 minutes old")]
    Stale,
    /// The timestamp is more than 5 minutes ahead.
    #[error("the request is more than 5 minutes ahead")]
    Future,
    /// The signature does not match (tampered body, wrong secret).
    #[error("the signature does not match")]
    Mismatch,
}

/// A request whose signature was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The request's timestamp (Unix seconds).
    pub timestamp: i64,
    /// The signature, lowercase hex, without `v0=`.
    pub signature: String,
}

impl Verified {
    /// The key that refuses a replay: one (timestamp, signature) pair is accepted once.
    pub fn replay_key(&self) -> String {
        format!("slack#{}#{}", self.timestamp, self.signature)
    }
}

/// Verifies one request. `timestamp` and `signature` are the header values as
/// received (`None`: absent).
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Verified, Rejection> {
    if body.len() > MAX_BODY {
        return Err(Rejection::TooLarge);
    }
    let timestamp = timestamp.ok_or(Rejection::MissingTimestamp)?.trim();
    let signature = signature.ok_or(Rejection::MissingSignature)?.trim();
    let seconds = parse_timestamp(timestamp)?;
    let mac = parse_signature(signature)?;
    let age = now.timestamp().saturating_sub(seconds);
    if age > WINDOW_SECONDS {
        return Err(Rejection::Stale);
    }
    if age < -WINDOW_SECONDS {
        return Err(Rejection::Future);
    }
    let mut expected = HmacSha256::new_from_slice(secret).map_err(|_| Rejection::Mismatch)?;
    expected.update(b"v0:");
    expected.update(timestamp.as_bytes());
    expected.update(b":");
    expected.update(body);
    expected
        .verify_slice(&mac)
        .map_err(|_| Rejection::Mismatch)?;
    Ok(Verified {
        timestamp: seconds,
        signature: to_hex(&mac),
    })
}

/// The signature Slack would send for `body` at `timestamp` (`v0=<hex>`): for the
/// tests and for trying the local server by hand.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", to_hex(&mac.finalize().into_bytes()))
}

fn parse_timestamp(text: &str) -> Result<i64, Rejection> {
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Rejection::GarbledTimestamp);
    }
    text.parse().map_err(|_| Rejection::GarbledTimestamp)
}

fn parse_signature(text: &str) -> Result<Vec<u8>, Rejection> {
    let hex = text
        .strip_prefix("v0=")
        .ok_or(Rejection::GarbledSignature)?;
    if hex.len() != 64 {
        return Err(Rejection::GarbledSignature);
    }
    hex.as_bytes()
        .chunks(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect::<Option<Vec<u8>>>()
        .ok_or(Rejection::GarbledSignature)
}

fn nibble(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const NOW: i64 = 1_531_420_618;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(NOW, 0).unwrap_or_default()
    }

    const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";

    #[test]
    fn slacks_own_example_is_accepted() {
        // the example of Slack's "Verifying requests from Slack" page
        let signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        let verified = verify(SECRET, Some("1531420618"), Some(signature), BODY, now());
        assert_eq!(
            verified,
            Ok(Verified {
                timestamp: NOW,
                signature: signature[3..].to_owned()
            })
        );
        assert_eq!(sign(SECRET, "1531420618", BODY), signature);
        assert_eq!(
            verified.map(|v| v.replay_key()).unwrap_or_default(),
            format!("slack#{NOW}#{}", &signature[3..])
        );
    }

    #[test]
    fn a_tampered_body_or_another_secret_is_refused() {
        let signature = sign(SECRET, "1531420618", BODY);
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            verify(
                SECRET,
                Some("1531420618"),
                Some(&signature),
                &tampered,
                now()
            ),
            Err(Rejection::Mismatch)
        );
        assert_eq!(
            verify(
                b"another secret",
                Some("1531420618"),
                Some(&signature),
                BODY,
                now()
            ),
            Err(Rejection::Mismatch)
        );
        // the timestamp is signed too
        assert_eq!(
            verify(SECRET, Some("1531420619"), Some(&signature), BODY, now()),
            Err(Rejection::Mismatch)
        );
        // uppercase hex is the same signature
        let upper = format!("v0={}", signature[3..].to_uppercase());
        assert!(verify(SECRET, Some("1531420618"), Some(&upper), BODY, now()).is_ok());
    }

    #[test]
    fn the_window_is_five_minutes_both_ways() {
        let at = |seconds: i64| DateTime::from_timestamp(seconds, 0).unwrap_or_default();
        let signature = sign(SECRET, "1531420618", BODY);
        let check = |now| verify(SECRET, Some("1531420618"), Some(&signature), BODY, now);
        assert!(check(at(NOW + 300)).is_ok());
        assert_eq!(check(at(NOW + 301)), Err(Rejection::Stale));
        assert!(check(at(NOW - 300)).is_ok());
        assert_eq!(check(at(NOW - 301)), Err(Rejection::Future));
    }

    #[test]
    fn missing_or_garbled_headers_are_told_apart() {
        let signature = sign(SECRET, "1531420618", BODY);
        let check = |timestamp, signature| verify(SECRET, timestamp, signature, BODY, now());
        assert_eq!(
            check(None, Some(&signature)),
            Err(Rejection::MissingTimestamp)
        );
        assert_eq!(
            check(Some("1531420618"), None),
            Err(Rejection::MissingSignature)
        );
        for garbled in [
            "",
            "soon",
            "-1531420618",
            "1531420618.5",
            "99999999999999999999",
        ] {
            assert_eq!(
                check(Some(garbled), Some(&signature)),
                Err(Rejection::GarbledTimestamp),
                "{garbled}"
            );
        }
        let short = &signature[..signature.len() - 2];
        let v1 = signature.replace("v0=", "v1=");
        let not_hex = format!("v0={}", "zz".repeat(32));
        for garbled in ["", "v0=", short, &v1, &not_hex, "v0=é"] {
            assert_eq!(
                check(Some("1531420618"), Some(garbled)),
                Err(Rejection::GarbledSignature),
                "{garbled}"
            );
        }
    }

    #[test]
    fn an_oversize_body_is_refused_before_anything_else() {
        let body = vec![b'a'; MAX_BODY + 1];
        assert_eq!(
            verify(SECRET, None, None, &body, now()),
            Err(Rejection::TooLarge)
        );
        let body = vec![b'a'; MAX_BODY];
        let signature = sign(SECRET, "1531420618", &body);
        assert!(verify(SECRET, Some("1531420618"), Some(&signature), &body, now()).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn no_input_panics(
            timestamp in proptest::option::of(".{0,24}"),
            signature in proptest::option::of(".{0,80}"),
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            secret in proptest::collection::vec(proptest::num::u8::ANY, 0..80),
        ) {
            let result = verify(&secret, timestamp.as_deref(), signature.as_deref(), &body, now());
            // a made-up signature never gets through
            proptest::prop_assert!(result.is_err());
        }
    }
}
