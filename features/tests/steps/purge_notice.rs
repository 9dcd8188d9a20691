//! Steps of `purge_notice.feature`: the holder's notice before a purge and its snooze,
//! on the emulator. The dry run's list is what the buildspec would write to the
//! reports bucket (moto's builds run no buildspec), put there through the engine's
//! own `Objects` port; the holder's e-mail is read back from moto's SES.

use chrono::{DateTime, TimeDelta, Utc};
use cucumber::gherkin::Step;
use cucumber::{then, when};
use serde_json::Value;
use spa_core::events::{Action, BuildStatus};
use spa_core::lifecycle::BuildId;
use spa_core::notify::preview::list_key;
use spa_usecases::ports::{Objects, Platform};

use super::SpaWorld;
use super::accounts::Live;
use super::accounts::operator_sends;

const NOTICE: &str = "account-purge-notice";

impl Live {
    /// The purge the holder of `name` is (being) told of, and its dry run while it runs.
    async fn notice(&self, name: &str) -> (DateTime<Utc>, Option<BuildId>) {
        let tags = self.tags(name).await;
        let value = tags
            .get(NOTICE)
            .unwrap_or_else(|| panic!("`{name}` has no `{NOTICE}` tag: {tags:?}"));
        let (purge, build) = match value.split_once('/') {
            Some((purge, build)) => (
                purge,
                Some(BuildId::new(build).unwrap_or_else(|e| panic!("{e}"))),
            ),
            None => (value.as_str(), None),
        };
        let purge = DateTime::parse_from_rfc3339(purge)
            .unwrap_or_else(|e| panic!("`{purge}`: {e}"))
            .to_utc();
        (purge, build)
    }

    /// The dry run `name`'s notice waits for.
    async fn dry_run(&self, name: &str) -> (DateTime<Utc>, BuildId) {
        match self.notice(name).await {
            (purge, Some(build)) => (purge, build),
            (_, None) => panic!("`{name}`'s notice waits for no dry run"),
        }
    }

    /// The bodies of the e-mails moto's SES sent to `to`.
    async fn mail_bodies(&self, to: &str) -> Vec<(String, String)> {
        let url = format!("{}/moto-api/data.json", self._moto.endpoint());
        let data: Value = reqwest::get(&url)
            .await
            .unwrap_or_else(|e| panic!("moto's model dump could not be read: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("moto's model dump is not JSON: {e}"));
        data["ses"]["Message"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter(|m| {
                m["destinations"]["ToAddresses"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(to)))
            })
            .map(|m| {
                (
                    m["subject"].as_str().unwrap_or_default().to_owned(),
                    m["body"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

#[when(regex = r#"^the dry run of "([^"]+)" ends ([A-Z_]+) with the list:$"#)]
async fn dry_run_ends(world: &mut SpaWorld, name: String, ended: String, step: &Step) {
    let list = super::docstring(step);
    let live = world.acting(step).await;
    let (purge, build) = live.dry_run(&name).await;
    let key = list_key(
        &live.settings.reporting.exceptions_prefix,
        &live.id(&name),
        purge,
    );
    live.runtime
        .platform()
        .objects()
        .put(&key, list.into_bytes(), "text/plain")
        .await
        .unwrap_or_else(|e| panic!("the list could not be written to {key}: {e}"));
    let status = ended
        .parse::<BuildStatus>()
        .unwrap_or_else(|e| panic!("`{ended}`: {e}"));
    live.build_ended(&name, &build, status);
    live.run().await;
}

#[when(regex = r#"^the dry run of "([^"]+)" ends ([A-Z_]+)$"#)]
async fn dry_run_ends_bare(world: &mut SpaWorld, name: String, ended: String, step: &Step) {
    let live = world.acting(step).await;
    let (_, build) = live.dry_run(&name).await;
    let status = ended
        .parse::<BuildStatus>()
        .unwrap_or_else(|e| panic!("`{ended}`: {e}"));
    live.build_ended(&name, &build, status);
    live.run().await;
}

#[then(regex = r#"^"([^"]+)" awaits the dry run of its next purge$"#)]
async fn awaits_dry_run(world: &mut SpaWorld, name: String) {
    let live = world.checking().await;
    let (purge, _) = live.dry_run(&name).await;
    assert!(purge > Utc::now(), "the purge announced is past: {purge}");
}

#[then(regex = r#"^"([^"]+)" was told by e-mail that "([^"]+)" will be purged, with:$"#)]
async fn told(world: &mut SpaWorld, holder: String, name: String, step: &Step) {
    let expected = super::docstring(step);
    let live = world.checking().await;
    let (purge, _) = live.notice(&name).await;
    let mails = live.mail_bodies(&holder).await;
    let when = purge.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let notices: Vec<_> = mails
        .iter()
        .filter(|(subject, _)| subject.contains(&format!("will be purged at {when}")))
        .collect();
    assert_eq!(notices.len(), 1, "one notice to {holder}: {mails:#?}");
    let body = &notices[0].1;
    for line in expected.lines().filter(|l| !l.trim().is_empty()) {
        let line = line.trim().replace("ACCOUNT", live.id(&name).as_str());
        assert!(body.contains(&line), "no `{line}` in the notice:\n{body}");
    }
    // nothing the holder named comes through as markup
    assert!(!body.contains("<script"), "{body}");
}

#[when(regex = r#"^"([^"]+)" snoozes the purge of "([^"]+)"(?: by (\w+))?$"#)]
async fn snoozes(world: &mut SpaWorld, asker: String, name: String, by: String, step: &Step) {
    let action = Action::Snooze {
        by: (!by.is_empty()).then_some(by),
        holder: Some(asker),
    };
    operator_sends(world, &name, action, step).await;
}

#[then(regex = r#"^the purge of "([^"]+)" is put off by (\d+) days$"#)]
async fn put_off(world: &mut SpaWorld, name: String, days: i64) {
    let live = world.checking().await;
    let (purge, _) = live.notice(&name).await;
    let tags = live.tags(&name).await;
    let until = (purge + TimeDelta::days(days))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    assert_eq!(
        tags.get("account-snoozed-until"),
        Some(&until),
        "{tags:?}\ntimeline:\n{}",
        live.timeline.join("\n")
    );
}

#[then(regex = r#"^spa said no to "([^"]+)" because "(.*)"$"#)]
async fn said_no(world: &mut SpaWorld, name: String, reason: String) {
    let live = world.checking().await;
    let refusal = format!("{} rejected: {reason}", live.id(&name));
    assert!(
        live.timeline.iter().any(|line| line.contains(&refusal)),
        "no `{refusal}` in the timeline:\n{}",
        live.timeline.join("\n")
    );
}
