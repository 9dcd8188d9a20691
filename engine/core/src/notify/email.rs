//! A notice as an e-mail (subject, plain text, HTML) for the team or the holder, and
//! the holder's welcome e-mail when an account is assigned to them.
//!
//! Everything from outside is escaped in the HTML part; subjects are one line (no
//! header can be smuggled in); the holder never sees operator links (incident,
//! workbook), only the cost report.

use std::fmt::Write as _;

use super::text::{self, html_escape, truncate};
use super::{
    Audience, Notice, RenderedEmail, Welcome, account_line, at_line, holder_lead, notice_facts,
    notice_links, ou_path_line, title,
};

/// Characters of one free text in an e-mail (an e-mail has room, but not without end).
const TEXT_MAX: usize = 20_000;
/// Characters of a subject.
const SUBJECT_MAX: usize = 200;
/// Longest URL offered as a link.
const URL_MAX: usize = 8_000;

/// The e-mail telling `audience` about `notice`.
pub fn email(notice: &Notice, audience: Audience) -> RenderedEmail {
    let environment = text::one_line(&notice.environment);
    let account = account_line(&notice.account_name, &notice.account);
    let label = notice.label.as_str();
    let subject = match audience {
        Audience::Team => format!("[spa {environment}] {label}: {account}"),
        Audience::Holder => format!(
            "[spa {environment}] {} on your sandbox account {account}",
            title(notice.label)
        ),
    };
    let subject = truncate(&subject, SUBJECT_MAX);
    let when = format!("Environment {environment}, {}", at_line(&notice.at));

    let mut body = Body::default();
    match audience {
        Audience::Team => {
            body.heading(&format!("{label}: {account}"));
            body.note(&when);
        }
        Audience::Holder => {
            body.paragraph("Hello,");
            body.paragraph(&format!(
                "{} This message is about your sandbox account {account}.",
                holder_lead(notice.label)
            ));
            body.note(&when);
        }
    }
    body.section(
        "What happened",
        &truncate(&text::clean(&notice.what_happened), TEXT_MAX),
    );
    body.section(
        "What spa did",
        &truncate(&text::clean(&notice.what_spa_did), TEXT_MAX),
    );
    let steps: Vec<String> = notice
        .next_steps
        .iter()
        .map(|s| truncate(&text::one_line(s), TEXT_MAX))
        .filter(|s| !s.is_empty())
        .collect();
    body.list("Next steps", &steps);
    body.facts(&notice_facts(notice, audience));
    body.links(&notice_links(notice, audience, URL_MAX));
    match audience {
        Audience::Team => body.footer(&format!(
            "Sent by spa for environment {environment}: its notification routes send {label} to e-mail."
        )),
        Audience::Holder => body.footer(&format!(
            "You receive this message because the sandbox account {account} is assigned to you. \
             Ask the team that runs your sandbox accounts if you have questions."
        )),
    }
    body.finish(subject)
}

/// The e-mail telling a holder that an account is now theirs.
pub fn welcome(welcome: &Welcome) -> RenderedEmail {
    let environment = text::one_line(&welcome.environment);
    let account = account_line(&welcome.account_name, &welcome.account);
    let subject = truncate(
        &format!("[spa {environment}] Your sandbox account {account} is ready"),
        SUBJECT_MAX,
    );
    let mut body = Body::default();
    body.paragraph("Hello,");
    body.paragraph(&format!(
        "The sandbox account {account} is yours since {}.",
        at_line(&welcome.at)
    ));
    body.paragraph(
        "It is a personal AWS account for learning and experiments, prepared to the \
         company baseline. spa watches its cost and cleans it on a schedule: keep nothing \
         in it that you cannot lose.",
    );
    let mut facts = vec![("Account".to_owned(), account.clone())];
    if !welcome.ou_path.is_empty() {
        facts.push(("OU path".to_owned(), ou_path_line(&welcome.ou_path)));
    }
    if let Some(center) = welcome
        .cost_center
        .as_deref()
        .filter(|c| !c.trim().is_empty())
    {
        facts.push(("Cost center".to_owned(), text::one_line(center)));
    }
    let lease = welcome
        .lease
        .as_deref()
        .map(|l| truncate(&text::one_line(l), TEXT_MAX))
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "none: the account stays yours until it is released".to_owned());
    facts.push(("Lease".to_owned(), lease));
    facts.push(("Environment".to_owned(), environment.clone()));
    body.facts(&facts);
    if let Some(url) = welcome
        .access_url
        .as_deref()
        .and_then(|u| text::link(u, URL_MAX))
    {
        body.links(&[("Sign in", url)]);
    }
    let help: Vec<String> = welcome
        .help
        .iter()
        .map(|h| truncate(&text::one_line(h), TEXT_MAX))
        .filter(|h| !h.is_empty())
        .collect();
    body.list("Where to get help", &help);
    body.footer(&format!(
        "Sent by spa for environment {environment} because the account was assigned to you."
    ));
    body.finish(subject)
}

/// The holder's notice before a purge: when, what the dry run says will be deleted
/// (every name from the account cleaned by [`super::preview::untrusted`] and escaped
/// again here), and how to snooze.
pub fn purge_notice(mail: &super::PurgeNoticeMail) -> RenderedEmail {
    let environment = text::one_line(&mail.environment);
    let account = account_line(&mail.account_name, &mail.account);
    let when = super::preview::instant(mail.purge);
    let subject = truncate(
        &format!("[spa {environment}] Your sandbox account {account} will be purged at {when}"),
        SUBJECT_MAX,
    );
    let mut body = Body::default();
    body.paragraph("Hello,");
    body.paragraph(&format!(
        "The sandbox account {account} will be purged at {when} (UTC): spa deletes what is \
         in it, then prepares it again. Keep nothing in it that you cannot lose."
    ));
    match &mail.preview {
        Ok(summary) if summary.total == 0 => {
            body.paragraph("A dry run of the purge found nothing it would delete.")
        }
        Ok(summary) => {
            let lines: Vec<String> = summary
                .lines()
                .iter()
                .map(|line| truncate(&text::one_line(line), TEXT_MAX))
                .collect();
            body.list(
                &format!(
                    "A dry run of the purge lists {} resources it would delete, by type",
                    summary.total
                ),
                &lines,
            );
        }
        Err(why) => body.paragraph(&format!(
            "What it will delete is not listed: {}.",
            truncate(&text::one_line(why), 300)
        )),
    }
    match mail.snooze {
        Some(most) if !most.is_zero() => body.paragraph(&format!(
            "Need more time? You may put this purge off once, by at most {}: in Slack, \
             `/spa snooze {} [DURATION]` (e.g. `/spa snooze {} 1d`), or ask an operator \
             (`spa snooze {} --by DURATION`).",
            crate::settings::values::format_duration(&most),
            mail.account,
            mail.account,
            mail.account
        )),
        _ => body.paragraph(
            "This purge cannot be put off from Slack: ask an operator if you need more time.",
        ),
    }
    let help: Vec<String> = mail
        .help
        .iter()
        .map(|h| truncate(&text::one_line(h), TEXT_MAX))
        .filter(|h| !h.is_empty())
        .collect();
    body.list("Where to get help", &help);
    body.footer(&format!(
        "Sent by spa for environment {environment} because you hold the account."
    ));
    body.finish(subject)
}

/// The text and HTML parts, written side by side from the same pieces (already
/// cleaned, not yet escaped).
#[derive(Default)]
struct Body {
    text: String,
    html: String,
}

/// Escaped HTML with the line breaks of the text kept.
fn html_lines(text: &str) -> String {
    html_escape(text).replace('\n', "<br>\n")
}

const H2: &str = "font-size:18px;margin:0 0 4px";
const H3: &str = "font-size:15px;margin:16px 0 4px";
const NOTE: &str = "color:#555555;margin:0 0 12px";
const TH: &str =
    "text-align:left;vertical-align:top;padding:2px 16px 2px 0;color:#555555;font-weight:normal";
const FOOTER: &str = "color:#777777;font-size:12px;margin-top:24px";

impl Body {
    fn heading(&mut self, heading: &str) {
        let _ = writeln!(self.text, "{heading}");
        let _ = writeln!(
            self.html,
            "<h2 style=\"{H2}\">{}</h2>",
            html_escape(heading)
        );
    }

    fn note(&mut self, note: &str) {
        let _ = writeln!(self.text, "{note}\n");
        let _ = writeln!(self.html, "<p style=\"{NOTE}\">{}</p>", html_escape(note));
    }

    fn paragraph(&mut self, paragraph: &str) {
        let _ = writeln!(self.text, "{paragraph}\n");
        let _ = writeln!(self.html, "<p>{}</p>", html_lines(paragraph));
    }

    fn section(&mut self, heading: &str, content: &str) {
        if content.is_empty() {
            return;
        }
        let _ = writeln!(self.text, "{heading}\n{content}\n");
        let _ = writeln!(
            self.html,
            "<h3 style=\"{H3}\">{}</h3>\n<p style=\"margin:0\">{}</p>",
            html_escape(heading),
            html_lines(content)
        );
    }

    fn list(&mut self, heading: &str, items: &[String]) {
        if items.is_empty() {
            return;
        }
        let _ = writeln!(self.text, "{heading}");
        let _ = writeln!(
            self.html,
            "<h3 style=\"{H3}\">{}</h3>\n<ul style=\"margin:0\">",
            html_escape(heading)
        );
        for item in items {
            let _ = writeln!(self.text, "- {item}");
            let _ = writeln!(self.html, "<li>{}</li>", html_escape(item));
        }
        self.text.push('\n');
        self.html.push_str("</ul>\n");
    }

    fn facts(&mut self, facts: &[(String, String)]) {
        if facts.is_empty() {
            return;
        }
        self.html
            .push_str("<table style=\"border-collapse:collapse;margin-top:16px\">\n");
        for (name, value) in facts {
            let _ = writeln!(self.text, "{name}: {value}");
            let _ = writeln!(
                self.html,
                "<tr><th style=\"{TH}\">{}</th><td>{}</td></tr>",
                html_escape(name),
                html_escape(value)
            );
        }
        self.text.push('\n');
        self.html.push_str("</table>\n");
    }

    fn links(&mut self, links: &[(&str, &str)]) {
        if links.is_empty() {
            return;
        }
        let mut anchors = Vec::new();
        for (title, url) in links {
            let _ = writeln!(self.text, "{title}: {url}");
            anchors.push(format!(
                "<a href=\"{}\">{}</a>",
                html_escape(url),
                html_escape(title)
            ));
        }
        self.text.push('\n');
        let _ = writeln!(
            self.html,
            "<p style=\"margin-top:16px\">{}</p>",
            anchors.join(" &middot; ")
        );
    }

    fn footer(&mut self, footer: &str) {
        let _ = writeln!(self.text, "-- \n{footer}");
        let _ = writeln!(
            self.html,
            "<p style=\"{FOOTER}\">{}</p>",
            html_escape(footer)
        );
    }

    fn finish(self, subject: String) -> RenderedEmail {
        let html = format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
             <body style=\"font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#1a1a1a;line-height:1.5\">\n\
             {}</body></html>\n",
            html_escape(&subject),
            self.html
        );
        RenderedEmail {
            subject,
            text: self.text,
            html,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::sample;
    use super::*;
    use crate::events::Label;

    #[test]
    fn the_team_email_tells_everything() {
        let mail = email(&sample::notice(), Audience::Team);
        assert_eq!(
            mail.subject,
            "[spa SpaDemo] BudgetAlert: Alice's sandbox (111111111111)"
        );
        assert_eq!(
            mail.text,
            "BudgetAlert: Alice's sandbox (111111111111)\n\
             Environment SpaDemo, 2026-10-03 14:05 UTC\n\n\
             What happened\nActual cost reached 120.00 USD.\n\n\
             What spa did\nOpened an incident.\n\n\
             Next steps\n- spa status --account 111111111111\n\n\
             Account: Alice's sandbox (111111111111)\n\
             Holder: a***@example.com\n\
             OU path: Root / Sandboxes\n\
             Cost center: CC-42\n\
             Amount: 120.00 USD\n\
             Threshold: 100%\n\n\
             Open the incident: https://console.aws.amazon.com/systems-manager/incidents/x\n\
             Read the workbook: https://wiki.example.com/spa/BudgetAlert\n\
             See the cost report: https://reports.example.com/111111111111.xlsx?X-Amz-Signature=abc&X-Amz-Expires=3600\n\n\
             -- \nSent by spa for environment SpaDemo: its notification routes send BudgetAlert to e-mail.\n"
        );
        assert!(mail.html.starts_with("<!DOCTYPE html>"));
        assert!(mail.html.contains(
            "<title>[spa SpaDemo] BudgetAlert: Alice&#39;s sandbox (111111111111)</title>"
        ));
        assert!(mail.html.contains(
            "<a href=\"https://reports.example.com/111111111111.xlsx?X-Amz-Signature=abc&amp;X-Amz-Expires=3600\">See the cost report</a>"
        ));
        assert!(mail.html.contains("<tr><th style=\"text-align:left;vertical-align:top;padding:2px 16px 2px 0;color:#555555;font-weight:normal\">Holder</th><td>a***@example.com</td></tr>"));
    }

    #[test]
    fn the_holder_email_is_friendlier_and_has_no_operator_links() {
        let mail = email(&sample::notice(), Audience::Holder);
        assert_eq!(
            mail.subject,
            "[spa SpaDemo] Budget alert on your sandbox account Alice's sandbox (111111111111)"
        );
        assert!(mail.text.starts_with(
            "Hello,\n\nThe spending of your sandbox account has crossed a budget threshold. \
             This message is about your sandbox account Alice's sandbox (111111111111).\n"
        ));
        for part in [&mail.text, &mail.html] {
            assert!(!part.contains("incidents/x"), "{part}");
            assert!(!part.contains("wiki.example.com"), "{part}");
            assert!(!part.contains("Holder"), "{part}");
            assert!(part.contains("See the cost report"));
        }
        assert!(mail.text.contains("is assigned to you"));
    }

    #[test]
    fn html_is_escaped_and_no_full_address_anywhere() {
        for audience in [Audience::Team, Audience::Holder] {
            let mail = email(&sample::hostile(), audience);
            assert!(!mail.html.contains("<script>"), "{}", mail.html);
            assert!(!mail.html.contains("<b>"), "{}", mail.html);
            assert!(!mail.html.contains("<at>"), "{}", mail.html);
            assert!(
                mail.html
                    .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more")
            );
            for part in [&mail.subject, &mail.text, &mail.html] {
                assert!(!sample::has_full_address(part), "{part}");
            }
            assert!(!mail.subject.contains('\n'));
        }
    }

    #[test]
    fn a_subject_stays_on_one_line() {
        let mut notice = sample::notice();
        notice.account_name = "evil\r\nBcc: x@example.com".into();
        let mail = email(&notice, Audience::Team);
        assert!(
            !mail.subject.contains('\r') && !mail.subject.contains('\n'),
            "{}",
            mail.subject
        );
    }

    #[test]
    fn every_exception_has_its_own_holder_lead() {
        let exceptions = [
            Label::BudgetAlert,
            Label::ConsoleLoginWithRoot,
            Label::ConsoleLoginWithIamUser,
            Label::BuildFailed,
            Label::PurgeDryRun,
            Label::AccountQuarantined,
            Label::OnboardingTimedOut,
            Label::MaintenanceTimedOut,
            Label::Drift,
            Label::StaleAccessKey,
            Label::ResidualCost,
            Label::DeadLetter,
        ];
        let leads: std::collections::BTreeSet<&str> =
            exceptions.iter().map(|l| holder_lead(*l)).collect();
        assert_eq!(leads.len(), exceptions.len());
        let titles: std::collections::BTreeSet<&str> =
            exceptions.iter().map(|l| title(*l)).collect();
        assert_eq!(titles.len(), exceptions.len());
    }

    #[test]
    fn the_welcome_says_what_the_account_is_the_lease_and_where_to_get_help() {
        let mail = welcome(&sample::welcome());
        assert_eq!(
            mail.subject,
            "[spa SpaDemo] Your sandbox account Alice's sandbox (111111111111) is ready"
        );
        assert!(mail.text.contains("The sandbox account Alice's sandbox (111111111111) is yours since 2026-10-03 14:05 UTC."));
        assert!(mail.text.contains("Lease: until 2026-12-31 (90 days)\n"));
        assert!(
            mail.text
                .contains("Sign in: https://example.awsapps.com/start\n")
        );
        assert!(
            mail.text
                .contains("Where to get help\n- #sandbox-help on Slack\n")
        );
        assert!(mail.html.contains("<li>#sandbox-help on Slack</li>"));

        let mut no_lease = sample::welcome();
        no_lease.lease = None;
        no_lease.help = vec!["mail sre@example.com <now>".into()];
        let mail = welcome(&no_lease);
        assert!(
            mail.text
                .contains("Lease: none: the account stays yours until it is released\n")
        );
        assert!(
            mail.html
                .contains("<li>mail s***@example.com &lt;now&gt;</li>"),
            "{}",
            mail.html
        );
        assert!(!mail.text.contains("sre@"));
    }
}
