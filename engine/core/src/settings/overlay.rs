//! CSV overlays: each row overlays (or adds) one account item.
//!
//! Columns: `Account` (required), `Note`, `Holder`, `Budget`, `Cost center`,
//! `Tag: KEY`, `Preparation: VAR`, `Purge: VAR`. Empty cells change nothing.

use super::diagnostic::{Diagnostic, Place, did_you_mean};
use super::node::MAX_FILE_BYTES;
use super::schema::{Account, AccountId, BudgetSpec, Build, Email, Item};
use super::values;

#[derive(Debug, Clone, PartialEq)]
enum Column {
    Account,
    Note,
    Holder,
    Budget,
    CostCenter,
    Tag(String),
    Preparation(String),
    Purge(String),
}

const PLAIN: [&str; 5] = ["Account", "Note", "Holder", "Budget", "Cost center"];
const PREFIXED: [&str; 3] = ["Tag", "Preparation", "Purge"];

fn classify(header: &str) -> Result<Column, String> {
    let header = header.trim();
    if let Some((label, key)) = header.split_once(':') {
        let (label, key) = (label.trim(), key.trim());
        if key.is_empty() {
            return Err(format!(
                "column `{header}` names no key; expected e.g. `{label}: owner`"
            ));
        }
        return match label.to_ascii_lowercase().as_str() {
            "tag" => Ok(Column::Tag(key.to_owned())),
            "preparation" | "prepare" => Ok(Column::Preparation(key.to_owned())),
            "purge" => Ok(Column::Purge(key.to_owned())),
            _ => Err(match did_you_mean(label, PREFIXED) {
                Some(close) => format!("unknown column `{header}`; did you mean `{close}: {key}`?"),
                None => format!(
                    "unknown column `{header}`; expected `Tag: KEY`, `Preparation: VAR` or `Purge: VAR`"
                ),
            }),
        };
    }
    match header
        .to_ascii_lowercase()
        .replace(['-', '_'], " ")
        .as_str()
    {
        "account" => Ok(Column::Account),
        "note" => Ok(Column::Note),
        "holder" => Ok(Column::Holder),
        "budget" => Ok(Column::Budget),
        "cost center" | "costcenter" => Ok(Column::CostCenter),
        _ => Err(
            match did_you_mean(header, PLAIN.iter().copied().chain(PREFIXED)) {
                Some(close) if PREFIXED.contains(&close) => {
                    format!("unknown column `{header}`; did you mean `{close}: {header}`?")
                }
                Some(close) => format!("unknown column `{header}`; did you mean `{close}`?"),
                None => format!(
                    "unknown column `{header}`; expected one of `Account`, `Note`, `Holder`, `Budget`, `Cost center`, `Tag: KEY`, `Preparation: VAR`, `Purge: VAR`"
                ),
            },
        ),
    }
}

/// Applies the rows of one CSV file to `accounts`; returns every error found.
pub fn overlay(file: &str, text: &str, accounts: &mut Vec<Account>) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    if text.len() > MAX_FILE_BYTES {
        errors.push(Diagnostic::error(
            file,
            Place::File,
            "",
            format!(
                "the file has {} bytes; the limit is {MAX_FILE_BYTES} bytes (4 MiB)",
                text.len()
            ),
        ));
        return errors;
    }
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(headers) => headers.clone(),
        Err(error) => {
            errors.push(Diagnostic::error(
                file,
                Place::File,
                "",
                format!("cannot read the CSV header: {error}"),
            ));
            return errors;
        }
    };
    let mut columns = Vec::new();
    for (index, header) in headers.iter().enumerate() {
        if header.is_empty() {
            // a spreadsheet's stray column: name it by its number, since it has no name
            let number = index + 1;
            errors.push(Diagnostic::error(
                file,
                Place::Cell {
                    row: 1,
                    column: format!("column {number}"),
                },
                "",
                format!("column {number} has no name in the header row; name it (`Note`, `Tag: KEY`, ...) or remove it"),
            ));
            columns.push(None);
            continue;
        }
        match classify(header) {
            Ok(column) => columns.push(Some(column)),
            Err(message) => {
                errors.push(Diagnostic::error(
                    file,
                    Place::Cell {
                        row: 1,
                        column: header.to_owned(),
                    },
                    "",
                    message,
                ));
                columns.push(None);
            }
        }
    }
    if !columns.iter().any(|c| c == &Some(Column::Account)) {
        errors.push(Diagnostic::error(
            file,
            Place::Text { line: 1, column: 1 },
            "",
            "missing column `Account` (the 12-digit account id of each row)",
        ));
        return errors;
    }
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map_or(0, csv::Position::line);
                let place = if line > 0 {
                    Place::Cell {
                        row: line,
                        column: String::from("*"),
                    }
                } else {
                    Place::File
                };
                errors.push(Diagnostic::error(
                    file,
                    place,
                    "",
                    format!("invalid CSV row: {error}"),
                ));
                continue;
            }
        };
        let row = record.position().map_or(0, csv::Position::line);
        let cell = |name: &str| Place::Cell {
            row,
            column: name.to_owned(),
        };
        let mut account = None;
        let mut holder = None;
        let mut item = Item::default();
        let mut ok = true;
        for ((column, header), value) in columns.iter().zip(headers.iter()).zip(record.iter()) {
            let Some(column) = column else { continue };
            if value.is_empty() {
                continue;
            }
            if let Some(kind) = values::looks_like_secret(value) {
                errors.push(Diagnostic::error(
                    file,
                    cell(header),
                    "",
                    format!("this looks like {kind}: secrets never go in settings; store it in SSM Parameter Store or Secrets Manager"),
                ));
                ok = false;
                continue;
            }
            let mut fail = |expected: String| {
                errors.push(Diagnostic::error(
                    file,
                    cell(header),
                    "",
                    format!("expected {expected}, found {value:?}"),
                ));
            };
            match column {
                Column::Account => match values::check_account_id(value).and_then(|()| {
                    AccountId::parse(value).ok_or_else(|| AccountId::EXPECTED.to_owned())
                }) {
                    Ok(id) => account = Some(id),
                    Err(expected) => {
                        fail(expected);
                        ok = false;
                    }
                },
                Column::Note => item.note = Some(value.to_owned()),
                Column::Holder => match values::check_email(value) {
                    Ok(()) => holder = Some(Email(value.to_owned())),
                    Err(expected) => {
                        fail(expected);
                        ok = false;
                    }
                },
                Column::Budget => match value.parse::<f64>() {
                    Ok(amount) if amount.is_finite() && amount > 0.0 => {
                        item.budget = Some(BudgetSpec {
                            amount: Some(amount),
                            ..BudgetSpec::default()
                        });
                    }
                    _ => {
                        fail("a budget amount greater than 0, e.g. `500`".to_owned());
                        ok = false;
                    }
                },
                Column::CostCenter => item.cost_center = Some(value.to_owned()),
                Column::Tag(key) => {
                    item.account_tags.insert(key.clone(), value.to_owned());
                }
                Column::Preparation(key) => {
                    item.preparation
                        .get_or_insert_with(Build::default)
                        .variables
                        .insert(key.clone(), value.to_owned());
                }
                Column::Purge(key) => {
                    item.purge
                        .get_or_insert_with(Build::default)
                        .variables
                        .insert(key.clone(), value.to_owned());
                }
            }
        }
        let Some(identifier) = account else {
            if ok {
                errors.push(Diagnostic::error(
                    file,
                    cell("Account"),
                    "",
                    "expected a 12-digit AWS account id, found an empty cell",
                ));
            }
            continue;
        };
        if !ok {
            continue;
        }
        match accounts.iter_mut().find(|a| a.identifier == identifier) {
            Some(existing) => {
                super::resolve::merge(&mut existing.item, &item);
                if holder.is_some() {
                    existing.holder = holder;
                }
            }
            None => accounts.push(Account {
                identifier,
                holder,
                item,
            }),
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rows_overlay_and_add_accounts() {
        let mut accounts = vec![Account {
            identifier: AccountId::parse("123456789012").unwrap(),
            holder: None,
            item: Item {
                note: Some("from yaml".to_owned()),
                ..Item::default()
            },
        }];
        let text = "Account,Note,Holder,Budget,Cost center,Tag: owner,Preparation: BUDGET_NAME,Purge: MAXIMUM_AGE\n\
                    123456789012,,alice@example.com,500,FIN-1,alice,AliceBudget,6M\n\
                    210987654321,new one,,,,bob,,\n";
        let errors = overlay("accounts.csv", text, &mut accounts);
        assert_eq!(errors, vec![]);
        assert_eq!(accounts.len(), 2);
        let alice = &accounts[0];
        assert_eq!(
            alice.item.note.as_deref(),
            Some("from yaml"),
            "an empty cell changes nothing"
        );
        assert_eq!(alice.holder.as_ref().unwrap().as_str(), "alice@example.com");
        assert_eq!(alice.item.budget.as_ref().unwrap().amount, Some(500.0));
        assert_eq!(alice.item.cost_center.as_deref(), Some("FIN-1"));
        assert_eq!(alice.item.account_tags["owner"], "alice");
        assert_eq!(
            alice.item.preparation.as_ref().unwrap().variables["BUDGET_NAME"],
            "AliceBudget"
        );
        assert_eq!(
            alice.item.purge.as_ref().unwrap().variables["MAXIMUM_AGE"],
            "6M"
        );
        assert_eq!(accounts[1].item.note.as_deref(), Some("new one"));
    }

    #[test]
    fn errors_name_row_and_column() {
        let mut accounts = Vec::new();
        let text = "Account,Holder,Budget\n123456789012,alice@example.com,10\n210987654321,alice@example.com,5\n123,bob,-1\n";
        let errors = overlay("accounts.csv", text, &mut accounts);
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "accounts.csv:4:Account: error: expected a 12-digit AWS account id such as `123456789012`, found \"123\"",
                "accounts.csv:4:Holder: error: expected an e-mail address, found \"bob\"",
                "accounts.csv:4:Budget: error: expected a budget amount greater than 0, e.g. `500`, found \"-1\"",
            ]
        );
        assert_eq!(
            accounts.len(),
            2,
            "good rows still apply; the caller refuses the whole on any error"
        );
    }

    #[test]
    fn unknown_headers_suggest() {
        let mut accounts = Vec::new();
        let errors = overlay(
            "a.csv",
            "Account,Hodler,Tags: owner,Colour\n",
            &mut accounts,
        );
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "a.csv:1:Hodler: error: unknown column `Hodler`; did you mean `Holder`?",
                "a.csv:1:Tags: owner: error: unknown column `Tags: owner`; did you mean `Tag: owner`?",
                "a.csv:1:Colour: error: unknown column `Colour`; expected one of `Account`, `Note`, `Holder`, `Budget`, `Cost center`, `Tag: KEY`, `Preparation: VAR`, `Purge: VAR`",
            ]
        );
    }

    #[test]
    fn a_column_without_a_name_is_named_by_its_number() {
        // found by the csv_overlay fuzz target: the error named the column ``
        let mut accounts = Vec::new();
        let text = include_str!("../../tests/fuzz_regressions/csv_overlay/empty-header.csv");
        let errors = overlay("a.csv", text, &mut accounts);
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "a.csv:1:column 3: error: column 3 has no name in the header row; name it (`Note`, `Tag: KEY`, ...) or remove it"
            ]
        );
    }

    #[test]
    fn missing_account_column_and_ragged_rows() {
        let mut accounts = Vec::new();
        let errors = overlay("a.csv", "Note\nhello\n", &mut accounts);
        assert!(errors[0].message.contains("missing column `Account`"));
        let errors = overlay("a.csv", "Account,Note\n123456789012,a,b\n", &mut accounts);
        assert!(errors[0].message.contains("invalid CSV row"), "{errors:?}");
        let errors = overlay(
            "a.csv",
            "Account,Note\n123456789012,https://hooks.slack.com/services/x\n",
            &mut accounts,
        );
        assert!(errors[0].message.contains("Slack webhook"), "{errors:?}");
    }
}
