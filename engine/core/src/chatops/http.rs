//! The HTTP edges of the slash command: a Lambda function URL event (payload format
//! 2.0) in, its response out. Pure.
//!
//! Only what the verification needs is read: the two Slack headers (names in any
//! case) and the body, decoded from base64 when `isBase64Encoded`. A body over the
//! budget is not decoded; a body that is not valid base64 cannot be verified: both
//! come out as `None` and the caller answers 401.

use base64::Engine as _;
use serde_json::{Value, json};

use super::verify::{MAX_BODY, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// What a slash command request carries, read from a function URL event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpRequest {
    /// `X-Slack-Request-Timestamp`.
    pub timestamp: Option<String>,
    /// `X-Slack-Signature`.
    pub signature: Option<String>,
    /// The body; `None`: over the budget, or undecodable.
    pub body: Option<Vec<u8>>,
}

/// Reads a function URL event (never fails: what is missing stays `None`).
pub fn from_function_url(event: &Value) -> HttpRequest {
    let header = |name: &str| {
        event
            .get("headers")
            .and_then(Value::as_object)
            .and_then(|headers| {
                headers
                    .iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case(name))
                    .and_then(|(_, value)| value.as_str())
            })
            .map(str::to_owned)
    };
    let raw = event.get("body").and_then(Value::as_str).unwrap_or("");
    let base64 = event
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let body = if base64 {
        // 4 characters carry 3 bytes: anything longer than this is over the budget
        if raw.len() > MAX_BODY / 3 * 4 + 4 {
            None
        } else {
            base64::engine::general_purpose::STANDARD.decode(raw).ok()
        }
    } else {
        Some(raw.as_bytes().to_vec())
    };
    HttpRequest {
        timestamp: header(TIMESTAMP_HEADER),
        signature: header(SIGNATURE_HEADER),
        body: body.filter(|b| b.len() <= MAX_BODY),
    }
}

/// The function URL response: the status, a JSON body.
pub fn function_url_response(status: u16, body: &Value) -> Value {
    json!({
        "statusCode": status,
        "headers": { "content-type": "application/json" },
        "body": body.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_url_event_gives_its_headers_and_body() {
        let event = json!({
            "version": "2.0",
            "headers": {"X-Slack-Signature": "v0=ab", "x-slack-request-timestamp": "1531420618"},
            "body": base64::engine::general_purpose::STANDARD.encode("text=help"),
            "isBase64Encoded": true,
        });
        let request = from_function_url(&event);
        assert_eq!(request.signature.as_deref(), Some("v0=ab"));
        assert_eq!(request.timestamp.as_deref(), Some("1531420618"));
        assert_eq!(request.body.as_deref(), Some(&b"text=help"[..]));

        let plain = from_function_url(&json!({"body": "text=help"}));
        assert_eq!(plain.body.as_deref(), Some(&b"text=help"[..]));
        assert_eq!(plain.signature, None);
        assert_eq!(
            from_function_url(&json!({})).body.as_deref(),
            Some(&b""[..])
        );
    }

    #[test]
    fn an_oversize_or_undecodable_body_is_none() {
        let big = "a".repeat(MAX_BODY + 1);
        assert_eq!(from_function_url(&json!({"body": big})).body, None);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&big);
        assert_eq!(
            from_function_url(&json!({"body": encoded, "isBase64Encoded": true})).body,
            None
        );
        assert_eq!(
            from_function_url(&json!({"body": "!!!", "isBase64Encoded": true})).body,
            None
        );
    }

    #[test]
    fn the_response_is_json() {
        let response = function_url_response(401, &json!({"error": "unauthorized"}));
        assert_eq!(response["statusCode"], 401);
        assert_eq!(response["body"], "{\"error\":\"unauthorized\"}");
    }

    proptest::proptest! {
        #[test]
        fn no_event_panics(body in ".{0,300}", b64 in proptest::bool::ANY, header in ".{0,40}") {
            let _ = from_function_url(&json!({
                "headers": {"x-slack-signature": header, "X-SLACK-REQUEST-TIMESTAMP": 5},
                "body": body,
                "isBase64Encoded": b64,
            }));
        }
    }
}
