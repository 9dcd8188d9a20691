//! [`SesMail`]: the `Mail` port on Amazon SES v2, and [`ensure_identity`] for the
//! sender.
//!
//! An e-mail without attachments is sent as `Simple` content (subject, text and HTML
//! in UTF-8, SES builds the MIME); one with attachments as `Raw` content built here
//! with `mail-builder`: `multipart/mixed` holding a `multipart/alternative` (text,
//! HTML) and each attachment in base64. Errors never carry a full e-mail address
//! (SES echoes the sender in some of its messages): they are redacted.

use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, RawMessage};
use base64::Engine as _;
use mail_builder::MessageBuilder;
use mail_builder::mime::MimePart;

use super::config::AwsConfig;
use super::error::port_error;
use spa_core::events::{mask, redact_emails};
use spa_usecases::ports::{Email, Mail, PortError};

const SERVICE: &str = "sesv2";

/// Recipients of one message that SES accepts.
pub const MAX_RECIPIENTS: usize = 50;

/// Amazon SES v2.
#[derive(Debug, Clone)]
pub struct SesMail {
    client: Client,
}

impl SesMail {
    /// On a client built by [`AwsConfig::sesv2`].
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// On the SES v2 client of `config`.
    pub fn from_config(config: &AwsConfig) -> Self {
        Self::new(config.sesv2())
    }
}

impl Mail for SesMail {
    async fn send_email(&self, email: &Email) -> Result<String, PortError> {
        check(email)?;
        let content = if email.attachments.is_empty() {
            simple(email)?
        } else {
            raw(email)?
        };
        let output = self
            .client
            .send_email()
            .from_email_address(&email.from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(email.to.clone()))
                    .build(),
            )
            .content(content)
            .send()
            .await
            .map_err(|e| redact(port_error(SERVICE, "SendEmail", &mask(&email.from), e)))?;
        output
            .message_id()
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| PortError::Unavailable {
                service: SERVICE.to_owned(),
                message: "SendEmail: the answer has no MessageId".to_owned(),
            })
    }
}

/// Makes `email` (an address or a domain) an SES identity unless it is one already.
///
/// On AWS the identity still has to be verified (a link is mailed to the address);
/// the emulator accepts it at once. `spa local init` calls it for the sender.
pub async fn ensure_identity(config: &AwsConfig, email: &str) -> Result<(), PortError> {
    let client = config.sesv2();
    let masked = mask(email);
    match client
        .get_email_identity()
        .email_identity(email)
        .send()
        .await
    {
        Ok(_) => return Ok(()),
        Err(e) => match port_error(SERVICE, "GetEmailIdentity", &masked, e) {
            PortError::NotFound { .. } => {}
            other => return Err(redact(other)),
        },
    }
    match client
        .create_email_identity()
        .email_identity(email)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // made by someone else meanwhile
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_already_exists_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(redact(port_error(
            SERVICE,
            "CreateEmailIdentity",
            &masked,
            e,
        ))),
    }
}

/// What SES would refuse anyway, refused before the call with a clearer message.
fn check(email: &Email) -> Result<(), PortError> {
    let refuse = |message: String| {
        Err(PortError::Rejected {
            service: SERVICE.to_owned(),
            action: "SendEmail".to_owned(),
            message,
        })
    };
    if email.from.trim().is_empty() {
        return refuse("the e-mail has no sender".to_owned());
    }
    if email.to.is_empty() {
        return refuse("the e-mail has no recipient".to_owned());
    }
    if email.to.len() > MAX_RECIPIENTS {
        return refuse(format!(
            "{} recipients, SES takes at most {MAX_RECIPIENTS}",
            email.to.len()
        ));
    }
    Ok(())
}

/// The subject on one line (no header can be smuggled in).
fn subject(email: &Email) -> String {
    email
        .subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

fn built(what: &str, error: impl std::fmt::Display) -> PortError {
    PortError::Rejected {
        service: SERVICE.to_owned(),
        action: "SendEmail".to_owned(),
        message: format!("the {what} could not be built: {error}"),
    }
}

/// `Simple` content: SES builds the MIME message.
fn simple(email: &Email) -> Result<EmailContent, PortError> {
    let utf8 = |data: &str| {
        Content::builder()
            .data(data)
            .charset("UTF-8")
            .build()
            .map_err(|e| built("content", e))
    };
    let mut body = Body::builder();
    if !email.text.is_empty() {
        body = body.text(utf8(&email.text)?);
    }
    if !email.html.is_empty() || email.text.is_empty() {
        body = body.html(utf8(&email.html)?);
    }
    let message = Message::builder()
        .subject(utf8(&subject(email))?)
        .body(body.build())
        .build();
    Ok(EmailContent::builder().simple(message).build())
}

/// `Raw` content: the whole MIME message, attachments included.
fn raw(email: &Email) -> Result<EmailContent, PortError> {
    let bytes = mime(email).map_err(|e| built("MIME message", e))?;
    let message = RawMessage::builder()
        .data(Blob::new(bytes))
        .build()
        .map_err(|e| built("raw message", e))?;
    Ok(EmailContent::builder().raw(message).build())
}

/// `multipart/mixed`: the bodies (`multipart/alternative` when there are both), then
/// every attachment in base64.
pub fn mime(email: &Email) -> std::io::Result<Vec<u8>> {
    let text = (!email.text.is_empty()).then(|| MimePart::new("text/plain", email.text.as_str()));
    let html = (!email.html.is_empty()).then(|| MimePart::new("text/html", email.html.as_str()));
    let bodies = match (text, html) {
        (Some(text), Some(html)) => MimePart::new("multipart/alternative", vec![text, html]),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => MimePart::new("text/plain", ""),
    };
    let mut parts = vec![bodies];
    for attachment in &email.attachments {
        parts.push(
            MimePart::new(
                attachment.content_type.as_str(),
                base64_lines(&attachment.bytes),
            )
            .attachment(attachment.file_name.as_str())
            .transfer_encoding("base64"),
        );
    }
    MessageBuilder::new()
        .from(email.from.as_str())
        .to(email.to.iter().map(String::as_str).collect::<Vec<_>>())
        .subject(subject(email))
        .body(MimePart::new("multipart/mixed", parts))
        .write_to_vec()
}

/// Base64 in lines of 76 characters, as MIME asks, whatever the attachment's type.
fn base64_lines(bytes: &[u8]) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = Vec::with_capacity(encoded.len() + encoded.len() / 76 * 2 + 2);
    for line in encoded.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The same error with every e-mail address in it masked.
fn redact(error: PortError) -> PortError {
    match error {
        PortError::NotFound { what, id } => PortError::NotFound {
            what,
            id: redact_emails(&id),
        },
        PortError::Inconsistent { id, why } => PortError::Inconsistent {
            id: redact_emails(&id),
            why: redact_emails(&why),
        },
        PortError::Unavailable { service, message } => PortError::Unavailable {
            service,
            message: redact_emails(&message),
        },
        PortError::Denied {
            service,
            action,
            message,
        } => PortError::Denied {
            service,
            action,
            message: redact_emails(&message),
        },
        PortError::Rejected {
            service,
            action,
            message,
        } => PortError::Rejected {
            service,
            action,
            message: redact_emails(&message),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spa_usecases::ports::Attachment;

    fn email() -> Email {
        Email {
            from: "spa@example.com".into(),
            to: vec!["finops@example.com".into(), "sre@example.com".into()],
            subject: "October\r\nBcc: evil@example.com".into(),
            text: "Hello, the summary is attached.".into(),
            html: "<p>Hello, the summary is attached.</p>".into(),
            attachments: vec![
                Attachment {
                    file_name: "2026-10-summary.xlsx".into(),
                    content_type:
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".into(),
                    bytes: (0u8..=255).cycle().take(1_000).collect(),
                },
                Attachment {
                    file_name: "2026-10-summary.csv".into(),
                    content_type: "text/csv".into(),
                    bytes: b"a,b\r\n1,2\r\n".to_vec(),
                },
            ],
        }
    }

    #[test]
    fn the_mime_message_is_mixed_with_alternative_bodies_and_base64_attachments() {
        let bytes = mime(&email()).unwrap_or_default();
        let text = String::from_utf8(bytes).unwrap_or_default();
        assert!(text.contains("Content-Type: multipart/mixed"), "{text}");
        assert!(
            text.contains("Content-Type: multipart/alternative"),
            "{text}"
        );
        assert!(
            text.contains("Content-Type: text/plain; charset=\"utf-8\""),
            "{text}"
        );
        assert!(
            text.contains("Content-Type: text/html; charset=\"utf-8\""),
            "{text}"
        );
        assert!(text.contains("filename=\"2026-10-summary.xlsx\""), "{text}");
        assert!(text.contains("filename=\"2026-10-summary.csv\""), "{text}");
        // both attachments in base64, the text one too
        assert_eq!(
            text.matches("Content-Transfer-Encoding: base64").count(),
            2,
            "{text}"
        );
        assert!(text.contains("YSxiDQoxLDINCg=="), "{text}");
        assert!(!text.contains("a,b\r\n1,2"), "{text}");
        // every line within MIME's limit
        assert!(text.lines().all(|l| l.len() <= 998));
        // the subject stayed one header
        assert!(!text.contains("\r\nBcc:"), "{text}");
    }

    #[test]
    fn base64_lines_are_76_characters() {
        let lines = base64_lines(&[7u8; 200]);
        let text = String::from_utf8(lines).unwrap_or_default();
        let lengths: Vec<usize> = text.split("\r\n").map(str::len).collect();
        assert_eq!(lengths, [76, 76, 76, 40, 0]); // 200 bytes: 268 characters
    }

    #[test]
    fn what_ses_would_refuse_is_refused_before_the_call() {
        let mut none = email();
        none.to.clear();
        assert!(
            matches!(check(&none), Err(PortError::Rejected { message, .. }) if message == "the e-mail has no recipient")
        );
        let mut many = email();
        many.to = vec!["x@example.com".into(); 51];
        assert!(check(&many).is_err());
        assert!(check(&email()).is_ok());
    }

    #[test]
    fn errors_are_redacted() {
        let error = redact(PortError::Rejected {
            service: SERVICE.into(),
            action: "SendEmail".into(),
            message: "Email address not verified spa@example.com".into(),
        });
        assert_eq!(
            error.to_string(),
            "sesv2 refused `SendEmail`: Email address not verified s***@example.com"
        );
    }
}
