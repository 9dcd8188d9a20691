//! The FinOps e-mail of the month: the operator's template, then the totals per cost
//! center against the previous month, the forecast, and the top movers.
//!
//! Totals are net (every record type: charges less credits and refunds), like the
//! summary's `Total` column; when a source gives no record types, the charges by
//! service stand in. Everything from tags, names or settings is HTML-escaped in the
//! HTML part.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use super::super::model::{CostBreakdowns, NO_COST_CENTER};
use super::summary::extra_currencies;
use super::{CostReportInput, known_accounts};
use crate::text::html_escape as escape;

/// How many accounts the movers list shows.
pub const MOVERS: usize = 5;

/// The e-mail to FinOps (its attachments are the summary files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinopsEmail {
    /// `[spa <env>] Cloud costs of <month>`.
    pub subject: String,
    /// The HTML body.
    pub html: String,
    /// The plain-text body.
    pub text: String,
}

/// The FinOps e-mail body: the template (`{month}` replaced, markdown-ish text), totals
/// per cost center, top movers vs the previous month.
///
/// The template is rendered simply: a line starting with `# ` (or `## `, `### `) is a
/// heading, blocks separated by a blank line are paragraphs, other line breaks stay.
pub fn finops_email(input: &CostReportInput<'_>, template: &str) -> FinopsEmail {
    let month = input.month.to_string();
    let currency = input.costs.currency.as_str();
    let environment = one_line(input.environment);
    let subject = format!("[spa {environment}] Cloud costs of {month}");
    let template = template.replace("{month}", &month);

    let known = known_accounts(input.accounts);
    let center_of = |id: &str| -> String {
        known
            .get(id)
            .map(|a| a.cost_center_or_bucket().to_owned())
            .unwrap_or_else(|| NO_COST_CENTER.to_owned())
    };
    let current = net_per_account(input.costs);
    let previous = input.previous.map(net_per_account);

    // totals per cost center: (this month, the month before)
    let mut centers: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for (id, amount) in &current {
        centers.entry(center_of(id)).or_default().0 += amount;
    }
    if let Some(previous) = &previous {
        for (id, amount) in previous {
            centers.entry(center_of(id)).or_default().1 += amount;
        }
    }
    let mut centers: Vec<(String, f64, f64)> =
        centers.into_iter().map(|(c, (a, b))| (c, a, b)).collect();
    centers.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let total: f64 = centers.iter().map(|c| c.1).sum();
    let total_before: f64 = centers.iter().map(|c| c.2).sum();

    let mut html = String::new();
    let mut text = String::new();
    html.push_str(
        "<!DOCTYPE html>\n<html><body style=\"font-family: Arial, Helvetica, sans-serif; \
         font-size: 14px; color: #222\">\n",
    );
    render_template(&template, &mut html);
    text.push_str(template.trim_end());
    text.push_str("\n\n");

    // totals
    let before = input.month.previous().to_string();
    let _ = writeln!(html, "<h2>Costs of {month} per cost center</h2>");
    let _ = writeln!(text, "Costs of {month} per cost center");
    let cell = "style=\"padding: 4px 10px; border-bottom: 1px solid #ddd\"";
    let right = "style=\"padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: right\"";
    let _ = writeln!(
        html,
        "<table style=\"border-collapse: collapse\">\n<tr style=\"background: #D9E1F2\">\
         <th {cell}>Cost center</th><th {right}>{month}</th><th {right}>{before}</th>\
         <th {right}>Change</th></tr>"
    );
    let has_previous = previous.is_some();
    let change_of = |now: f64, then: f64| {
        if has_previous {
            change(now, then, currency)
        } else {
            "n/a".to_owned()
        }
    };
    let then_of = |then: f64| {
        if has_previous {
            money(then, currency)
        } else {
            "n/a".to_owned()
        }
    };
    for (center, now, then) in centers
        .iter()
        .map(|(c, a, b)| (c.as_str(), *a, *b))
        .chain([("Total", total, total_before)])
    {
        let strong = center == "Total";
        let (open, close) = if strong { ("<b>", "</b>") } else { ("", "") };
        let _ = writeln!(
            html,
            "<tr><td {cell}>{open}{}{close}</td><td {right}>{open}{}{close}</td>\
             <td {right}>{}</td><td {right}>{}</td></tr>",
            escape(center),
            escape(&money(now, currency)),
            escape(&then_of(then)),
            escape(&change_of(now, then)),
        );
        let _ = writeln!(
            text,
            "- {center}: {} ({before}: {}, change {})",
            money(now, currency),
            then_of(then),
            change_of(now, then)
        );
    }
    html.push_str("</table>\n");

    let extras = extra_currencies(input);
    if !extras.is_empty() {
        let shown: Vec<String> = extras
            .iter()
            .map(|(code, rate)| format!("{} (rate {rate})", money(total * rate, code)))
            .collect();
        let line = format!("Total in other currencies: {}.", shown.join(", "));
        let _ = writeln!(html, "<p>{}</p>", escape(&line));
        let _ = writeln!(text, "\n{line}");
    }

    if let Some(forecast) = input.forecast {
        let line = format!(
            "Forecast of {}: {}.",
            forecast.month,
            money(forecast.amount, &forecast.currency)
        );
        let _ = writeln!(html, "<p><b>{}</b></p>", escape(&line));
        let _ = writeln!(text, "\n{line}");
    }

    // movers
    let _ = writeln!(html, "<h2>Top movers since {before}</h2>");
    let _ = writeln!(text, "\nTop movers since {before}");
    match &previous {
        None => {
            let line = format!("No costs of {before} to compare with.");
            let _ = writeln!(html, "<p>{}</p>", escape(&line));
            let _ = writeln!(text, "{line}");
        }
        Some(previous) => {
            let movers = movers(&current, previous);
            if movers.is_empty() {
                let _ = writeln!(html, "<p>No account changed.</p>");
                let _ = writeln!(text, "No account changed.");
            } else {
                let _ = writeln!(
                    html,
                    "<table style=\"border-collapse: collapse\">\n\
                     <tr style=\"background: #D9E1F2\"><th {cell}>Account</th>\
                     <th {cell}>Cost center</th><th {right}>{month}</th>\
                     <th {right}>{before}</th><th {right}>Change</th></tr>"
                );
                for (id, now, then) in movers {
                    let name = known
                        .get(id)
                        .map(|a| {
                            if a.left {
                                format!("{} (left)", a.name)
                            } else {
                                a.name.clone()
                            }
                        })
                        .unwrap_or_default();
                    let account = if name.is_empty() {
                        id.to_owned()
                    } else {
                        format!("{name} ({id})")
                    };
                    let center = center_of(id);
                    let _ = writeln!(
                        html,
                        "<tr><td {cell}>{}</td><td {cell}>{}</td><td {right}>{}</td>\
                         <td {right}>{}</td><td {right}>{}</td></tr>",
                        escape(&account),
                        escape(&center),
                        escape(&money(now, currency)),
                        escape(&money(then, currency)),
                        escape(&change(now, then, currency)),
                    );
                    let _ = writeln!(
                        text,
                        "- {account}, {center}: {} ({before}: {}, change {})",
                        money(now, currency),
                        money(then, currency),
                        change(now, then, currency)
                    );
                }
                html.push_str("</table>\n");
            }
        }
    }
    let note =
        format!("Environment {environment}. The summary workbook and CSV of {month} are attached.");
    let _ = writeln!(
        html,
        "<p style=\"color: #666; font-size: 12px\">{}</p>\n</body></html>",
        escape(&note)
    );
    let _ = writeln!(text, "\n{note}");
    FinopsEmail {
        subject,
        html,
        text,
    }
}

/// Net amount per account: every record type; the charges by service when the source
/// gave no record types.
fn net_per_account(costs: &CostBreakdowns) -> HashMap<&str, f64> {
    let rows = if costs.by_record_type.is_empty() {
        &costs.by_service
    } else {
        &costs.by_record_type
    };
    let mut net: HashMap<&str, f64> = HashMap::new();
    for row in rows {
        *net.entry(row.account.as_str()).or_default() += row.amount;
    }
    net
}

/// The accounts with the largest absolute change, at most [`MOVERS`], largest first
/// (ties by id); unchanged accounts are not movers.
fn movers<'a>(
    current: &HashMap<&'a str, f64>,
    previous: &HashMap<&'a str, f64>,
) -> Vec<(&'a str, f64, f64)> {
    let mut all: Vec<(&str, f64, f64)> = current
        .iter()
        .map(|(id, now)| (*id, *now, previous.get(id).copied().unwrap_or(0.0)))
        .chain(
            previous
                .iter()
                .filter(|(id, _)| !current.contains_key(*id))
                .map(|(id, then)| (*id, 0.0, *then)),
        )
        .filter(|(_, now, then)| (now - then).abs() >= 0.005)
        .collect();
    all.sort_by(|a, b| {
        (b.1 - b.2)
            .abs()
            .total_cmp(&(a.1 - a.2).abs())
            .then_with(|| a.0.cmp(b.0))
    });
    all.truncate(MOVERS);
    all
}

/// `1,234.56 USD` (`-` for negative amounts).
pub(crate) fn money(amount: f64, currency: &str) -> String {
    let cents = (amount.abs() * 100.0).round();
    let whole = (cents / 100.0).trunc();
    let fraction = cents - whole * 100.0;
    let digits = format!("{whole:.0}");
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if amount < 0.0 && cents > 0.0 { "-" } else { "" };
    let mut out = format!("{sign}{grouped}.{fraction:02.0}");
    if !currency.is_empty() {
        out.push(' ');
        out.push_str(currency);
    }
    out
}

/// `+12.30 USD (+5.2%)`; `(new)` when there was nothing before.
fn change(now: f64, then: f64, currency: &str) -> String {
    let delta = now - then;
    let sign = if delta >= 0.0 { "+" } else { "" };
    let amount = format!("{sign}{}", money(delta, currency));
    if then == 0.0 {
        if now == 0.0 {
            amount
        } else {
            format!("{amount} (new)")
        }
    } else {
        let percent = delta / then.abs() * 100.0;
        let sign = if percent >= 0.0 { "+" } else { "" };
        format!("{amount} ({sign}{percent:.1}%)")
    }
}

/// The markdown-ish template as HTML: `#` headings, blank-line paragraphs, line breaks
/// kept; everything escaped.
fn render_template(template: &str, html: &mut String) {
    let mut paragraph: Vec<&str> = Vec::new();
    let flush = |paragraph: &mut Vec<&str>, html: &mut String| {
        if !paragraph.is_empty() {
            let lines: Vec<String> = paragraph.iter().map(|l| escape(l.trim())).collect();
            let _ = writeln!(html, "<p>{}</p>", lines.join("<br>\n"));
            paragraph.clear();
        }
    };
    for line in template.lines() {
        let trimmed = line.trim_start();
        let level = trimmed.chars().take_while(|c| *c == '#').count();
        if (1..=3).contains(&level) && trimmed[level..].starts_with(' ') {
            flush(&mut paragraph, html);
            let _ = writeln!(
                html,
                "<h{level}>{}</h{level}>",
                escape(trimmed[level..].trim())
            );
        } else if trimmed.is_empty() {
            flush(&mut paragraph, html);
        } else {
            paragraph.push(line);
        }
    }
    flush(&mut paragraph, html);
}

/// One line: control characters (line breaks included) become spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_groups_thousands_and_rounds_to_cents() {
        assert_eq!(money(1234567.891, "USD"), "1,234,567.89 USD");
        assert_eq!(money(-0.004, "USD"), "0.00 USD");
        assert_eq!(money(-12.5, "EUR"), "-12.50 EUR");
        assert_eq!(money(999.999, ""), "1,000.00");
    }

    #[test]
    fn changes_say_the_direction_and_the_share() {
        assert_eq!(change(110.0, 100.0, "USD"), "+10.00 USD (+10.0%)");
        assert_eq!(change(50.0, 100.0, "USD"), "-50.00 USD (-50.0%)");
        assert_eq!(change(5.0, 0.0, "USD"), "+5.00 USD (new)");
    }

    #[test]
    fn the_template_is_escaped_and_shaped() {
        let mut html = String::new();
        render_template("# Costs <b>\n\nLine 1\nLine & 2\n\n## Next", &mut html);
        assert_eq!(
            html,
            "<h1>Costs &lt;b&gt;</h1>\n<p>Line 1<br>\nLine &amp; 2</p>\n<h2>Next</h2>\n"
        );
    }
}
