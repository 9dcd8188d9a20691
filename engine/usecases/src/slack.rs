//! The Slack slash command `/spa`: one request → an HTTP answer within Slack's 3
//! seconds, and, for what takes longer, a job answered later.
//!
//! [`on_slash_command`] runs in this order, and nothing else runs before the
//! signature is verified: the body size budget, the signing secret (the override of
//! the edge, else `notifications.slack_signing_secret` through the `Secrets` port),
//! the signature and its 5-minute window, the replay claim (a (timestamp, signature)
//! pair is taken once: `slack#<timestamp>#<signature>` in the store), then the form,
//! the response URL, the text. Any signature problem or a replay is 401, a malformed
//! verified request 400, each with a generic body.
//!
//! Who asks: Slack gives a user id, holders are e-mail addresses: the user's address
//! is read once per request with `users.info` (bot token from
//! `notifications.slack_bot_token`). `features.slack_admins` (user ids, never addresses)
//! may ask about any account; anyone else about the accounts whose holder tag is
//! their address, and a refusal never tells whether the account exists.
//!
//! `help` and `status ACCOUNT` (one tag read) are answered in the response;
//! `status [me]` (a tag read per managed account), `costs` and `find` (every
//! account and region: `usecases::find`) answer "working on it"
//! and hand a [`SlackReply`](spa_core::events::Action::SlackReply) command on: on
//! Lambda to the command queue (nothing may run after the handler returns), where
//! the `commands` function runs [`answer_later`] and posts to the response URL
//! through the `Webhooks` port; locally, `spa slack serve` runs it in a task.
//!
//! `request [LEASE]` and `extend ACCOUNT [DURATION]` are answered the same way, by
//! `usecases::requests`, as are the clicks on spa's buttons: a form whose one field is
//! `payload` ([`spa_core::chatops::interaction`]) is verified exactly as a command is
//! (size, signature, window, replay), then read, its workspace checked, its clicker
//! looked up, and handed on as a [`SlackButton`](spa_core::events::Action::SlackButton)
//! job, answered 200 at once. The `commands` function decides whether the clicker may.

use std::collections::BTreeMap;

use serde_json::Value;

use super::apply::{Outcome, Verdict};
use super::context::Engine;
use super::error::{Context, PortResultExt, UseCaseError};
use super::lease::{self, Taken};
use super::managed::managed_accounts;
use crate::ports::{
    Claim, Claims, Commands, KnownAccounts, Organization, Platform, PortError, Secret, Secrets,
    SlackUsers, Webhooks, WriterLeases,
};
use spa_core::chatops::reply::{self, AccountState};
use spa_core::chatops::{
    Button, Request, ResponseUrl, Target, is_interaction, parse_form, parse_interaction, verify,
};
use spa_core::events::{AccountCommand, AccountId, Action, redact_emails};
use spa_core::lifecycle::Holder;

/// Accounts whose costs one answer shows at most.
pub const COSTS_ACCOUNTS_MAX: usize = 5;

/// A request as the function URL (or the local server) received it.
#[derive(Debug, Clone, Copy)]
pub struct SlashRequest<'a> {
    /// `X-Slack-Request-Timestamp`, when present.
    pub timestamp: Option<&'a str>,
    /// `X-Slack-Signature`, when present.
    pub signature: Option<&'a str>,
    /// The raw body (decoded from base64 when the event said so).
    pub body: &'a [u8],
}

/// What the edge configures.
#[derive(Debug, Clone, Default)]
pub struct SlackOptions {
    /// The signing secret, instead of reading `notifications.slack_signing_secret`
    /// (`SLACK_SIGNING_SECRET` of `spa slack serve`).
    pub signing_secret: Option<Secret>,
    /// A response URL base accepted besides Slack's (a local server in tests).
    pub local_response_base: Option<String>,
}

/// The HTTP answer, and the job to hand on when the answer comes later.
#[derive(Debug, Clone, PartialEq)]
pub struct SlashAnswer {
    /// 200, 400, 401 or 500.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
    /// The job whose answer goes to the response URL later.
    pub later: Option<AccountCommand>,
}

impl SlashAnswer {
    fn ok(body: Value) -> Self {
        Self {
            status: 200,
            body,
            later: None,
        }
    }

    fn error(status: u16) -> Self {
        let text = match status {
            400 => "bad request",
            401 => "unauthorized",
            _ => "internal error",
        };
        Self {
            status,
            body: serde_json::json!({ "error": text }),
            later: None,
        }
    }
}

use super::requests::{self, Asker};

/// Answers one slash command request (see the module's documentation for the order).
pub async fn on_slash_command<P: Platform, U: SlackUsers>(
    engine: &Engine<'_, P>,
    users: &U,
    options: &SlackOptions,
    request: &SlashRequest<'_>,
) -> SlashAnswer {
    if request.body.len() > spa_core::chatops::verify::MAX_BODY {
        tracing::warn!(rejection = "body too large", "slash command refused");
        return SlashAnswer::error(401);
    }
    let settings = engine.settings();
    let platform = engine.platform();
    let secret = match (
        &options.signing_secret,
        &settings.notifications.slack_signing_secret,
    ) {
        (Some(secret), _) => secret.clone(),
        (None, Some(reference)) => match engine
            .retry()
            .run("read signing secret", || {
                platform.secrets().secret(reference.as_str())
            })
            .await
        {
            Ok(secret) => secret,
            Err(error) => {
                tracing::error!(%error, "the Slack signing secret could not be read");
                return SlashAnswer::error(500);
            }
        },
        (None, None) => {
            tracing::error!("no Slack signing secret (`notifications.slack_signing_secret`)");
            return SlashAnswer::error(500);
        }
    };
    let now = engine.now();
    let verified = match verify(
        secret.expose().as_bytes(),
        request.timestamp,
        request.signature,
        request.body,
        now,
    ) {
        Ok(verified) => verified,
        Err(rejection) => {
            tracing::warn!(%rejection, "slash command refused");
            return SlashAnswer::error(401);
        }
    };
    // a marker, never ended: whatever is found under the key is a replay
    let until = now + chrono::TimeDelta::minutes(5);
    match platform
        .store()
        .claim(&verified.replay_key(), now, until, false)
        .await
    {
        Ok(Claim::New) => {}
        Ok(_) => {
            tracing::warn!(rejection = "replayed", "slash command refused");
            return SlashAnswer::error(401);
        }
        Err(error) => {
            tracing::error!(%error, "the replay claim could not be written");
            return SlashAnswer::error(500);
        }
    }
    if is_interaction(request.body) {
        return on_click(engine, users, options, &verified, request.body).await;
    }
    let command = match parse_form(request.body, options.local_response_base.as_deref()) {
        Ok(command) => command,
        Err(error) => {
            tracing::warn!(%error, "malformed slash command");
            return SlashAnswer::error(400);
        }
    };
    if let Some(refused) = refused_here(engine, &command.team_id, &command.user_id, "slash command")
    {
        return refused;
    }
    let asked = Request::parse(&command.text);
    tracing::info!(
        user = command.user_id,
        request = asked.name(),
        "slash command"
    );
    let target = match &asked {
        Request::Help => return SlashAnswer::ok(reply::help(&command.command, None)),
        Request::Unknown(text) => {
            return SlashAnswer::ok(reply::help(&command.command, Some(text)));
        }
        Request::Status(target) | Request::Costs(target) => target,
        Request::Find(_) | Request::Ask { .. } => &Target::Mine,
        Request::Extend { account, .. } | Request::Snooze { account, .. } => {
            &Target::Account(account.clone())
        }
    };
    let asker = match asker(engine, users, &command.user_id).await {
        Ok(asker) => asker,
        Err(error) => {
            tracing::error!(%error, "the Slack user could not be looked up");
            return SlashAnswer::ok(reply::failed());
        }
    };
    if asker.email.is_none() && !asker.admin {
        return SlashAnswer::ok(reply::unknown_asker());
    }
    if asked.is_deferred() {
        let account = match target {
            Target::Account(account) => account.clone(),
            Target::Mine => settings.automation.account_id.clone(),
        };
        let job = AccountCommand::new(
            &job_cause(&verified),
            engine.environment(),
            account,
            Action::SlackReply {
                user: command.user_id.clone(),
                email: asker.email.clone(),
                admin: asker.admin,
                text: command.text.clone(),
                response_url: command.response_url.expose().into(),
            },
            now,
            "slack",
        );
        return SlashAnswer {
            status: 200,
            body: reply::working(command.text.trim()),
            later: Some(job),
        };
    }
    let Target::Account(account) = target else {
        return SlashAnswer::ok(reply::failed());
    };
    match account_state(engine, &asker, account).await {
        Ok(Some(state)) => SlashAnswer::ok(reply::status(&[state])),
        Ok(None) => SlashAnswer::ok(reply::refused(account)),
        Err(error) => {
            tracing::error!(error = %redact_emails(&error.to_string()), "status failed");
            SlashAnswer::ok(reply::failed())
        }
    }
}

/// The answer when a verified request may not be served here: the slash commands are
/// off, or it comes from another workspace (a channel shared with it lets its members
/// post: they are nobody's holders and nobody's admins here, whatever their e-mail says).
fn refused_here<P: Platform>(
    engine: &Engine<'_, P>,
    team: &str,
    user: &str,
    what: &'static str,
) -> Option<SlashAnswer> {
    let features = &engine.settings().features;
    if !features.slack_commands {
        return Some(SlashAnswer::ok(reply::disabled()));
    }
    if features.slack_team_id.as_deref() != Some(team) {
        tracing::warn!(
            security = "refused",
            team,
            user,
            what,
            "a request from another Slack workspace refused"
        );
        return Some(SlashAnswer::ok(reply::other_workspace()));
    }
    None
}

/// A click on one of spa's buttons, verified: read, its workspace checked, its clicker
/// looked up, and handed on (the `commands` function carries it out and answers on
/// the message's response URL). Slack wants a 200 within 3 seconds, with no body.
async fn on_click<P: Platform, U: SlackUsers>(
    engine: &Engine<'_, P>,
    users: &U,
    options: &SlackOptions,
    verified: &spa_core::chatops::Verified,
    body: &[u8],
) -> SlashAnswer {
    let settings = engine.settings();
    let click = match parse_interaction(body, options.local_response_base.as_deref()) {
        Ok(click) => click,
        Err(error) => {
            tracing::warn!(%error, "malformed button click");
            return SlashAnswer::error(400);
        }
    };
    if let Some(refused) = refused_here(engine, &click.team_id, &click.user_id, "button click") {
        return refused;
    }
    tracing::info!(
        user = click.user_id,
        button = click.button.action_id(),
        "button clicked"
    );
    let asker = match asker(engine, users, &click.user_id).await {
        Ok(asker) => asker,
        Err(error) => {
            tracing::error!(%error, "the Slack user could not be looked up");
            return SlashAnswer::ok(reply::failed());
        }
    };
    let account = match &click.button {
        Button::Extend(account) | Button::Unfreeze(account) | Button::Snooze(account) => {
            account.clone()
        }
        Button::Approve(_) | Button::Deny(_) => settings.automation.account_id.clone(),
    };
    let job = AccountCommand::new(
        &job_cause(verified),
        engine.environment(),
        account,
        Action::SlackButton {
            user: click.user_id.clone(),
            email: asker.email.clone(),
            admin: asker.admin,
            button: click.button.action_id().to_owned(),
            value: click.button.value(),
            response_url: click.response_url.map(|url| url.expose().to_owned()),
        },
        engine.now(),
        "slack",
    );
    SlashAnswer {
        status: 200,
        body: serde_json::json!({}),
        later: Some(job),
    }
}

/// The cause of the job of a verified request: `slack/<timestamp>/<signature start>`
/// (the command id appends the account).
fn job_cause(verified: &spa_core::chatops::Verified) -> String {
    format!(
        "slack/{}/{}",
        verified.timestamp,
        verified.signature.get(..16).unwrap_or(&verified.signature)
    )
}

/// The request id of a job's verified request (`slack/<timestamp>/<signature start>/…`).
fn request_id_of(command_id: &str) -> String {
    let mut parts = command_id.split('/').skip(1);
    let timestamp = parts
        .next()
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or(0);
    let signature = parts.next().unwrap_or_default();
    spa_core::requests::request_id(timestamp, signature)
}

/// Hands the job of an answer on to the command queue (Lambda): when the queue
/// refuses, the answer becomes "try again" (the job would be lost).
pub async fn defer_to_queue<P: Platform>(
    engine: &Engine<'_, P>,
    answer: SlashAnswer,
) -> SlashAnswer {
    let Some(job) = &answer.later else {
        return answer;
    };
    match engine
        .retry()
        .run("send the slash command job", || {
            engine.platform().commands().send(std::slice::from_ref(job))
        })
        .await
    {
        Ok(()) => SlashAnswer {
            later: None,
            ..answer
        },
        Err(error) => {
            tracing::error!(%error, "the slash command job could not be queued");
            SlashAnswer::ok(reply::failed())
        }
    }
}

/// One function URL invocation (Lambda): the event read, the request answered, the
/// job of a longer answer queued before the response is returned.
pub async fn on_function_url<P: Platform, U: SlackUsers>(
    engine: &Engine<'_, P>,
    users: &U,
    options: &SlackOptions,
    event: &Value,
) -> SlashAnswer {
    let request = spa_core::chatops::http::from_function_url(event);
    let Some(body) = &request.body else {
        tracing::warn!(
            rejection = "body too large or undecodable",
            "slash command refused"
        );
        return SlashAnswer::error(401);
    };
    let answer = on_slash_command(
        engine,
        users,
        options,
        &SlashRequest {
            timestamp: request.timestamp.as_deref(),
            signature: request.signature.as_deref(),
            body,
        },
    )
    .await;
    defer_to_queue(engine, answer).await
}

/// The asker's address and whether they are an admin; one `users.info` call.
async fn asker<P: Platform, U: SlackUsers>(
    engine: &Engine<'_, P>,
    users: &U,
    user_id: &str,
) -> Result<Asker, PortError> {
    let settings = engine.settings();
    let admins = &settings.features.slack_admins;
    let by_id = admins.iter().any(|a| a == user_id);
    let email = match &settings.notifications.slack_bot_token {
        Some(reference) => {
            let platform = engine.platform();
            let token = engine
                .retry()
                .run("read bot token", || {
                    platform.secrets().secret(reference.as_str())
                })
                .await?;
            users
                .email(&token, user_id)
                .await?
                .map(|e| e.trim().to_ascii_lowercase())
        }
        None => None,
    };
    // an admin is a user id of the workspace, never the address of a profile
    Ok(Asker {
        user: user_id.to_owned(),
        email,
        admin: by_id,
    })
}

/// The state of one account for the asker: `None` when they may not see it (not
/// theirs, or no such account: the same answer).
async fn account_state<P: Platform>(
    engine: &Engine<'_, P>,
    asker: &Asker,
    account: &AccountId,
) -> Result<Option<AccountState>, UseCaseError> {
    let organization = engine.platform().organization();
    let context = || Context::step("slash command status").account(account);
    let tags = match engine
        .retry()
        .run("tags", || organization.tags(account))
        .await
    {
        Ok(tags) => tags,
        Err(PortError::NotFound { .. }) => return Ok(None),
        Err(error) => return Err(error).within(context),
    };
    let view = engine.codec().decode(&tags).ok();
    let holder = view.as_ref().and_then(|v| v.holder.as_ref());
    let theirs = match (&asker.email, holder) {
        (Some(email), Some(holder)) => holder.as_str().eq_ignore_ascii_case(email),
        _ => false,
    };
    if !theirs && !asker.admin {
        return Ok(None);
    }
    let name = engine
        .retry()
        .run("describe_account", || {
            organization.describe_account(account)
        })
        .await
        .map(|record| record.name)
        .unwrap_or_default();
    Ok(Some(match view {
        Some(view) => AccountState {
            account: account.clone(),
            name,
            state: spa_core::lifecycle::state_name(view.state).to_owned(),
            holder: view.holder.map(|h| h.masked()),
            since: view.since,
        },
        None => AccountState {
            account: account.clone(),
            name,
            state: "drift: its tags do not decode".to_owned(),
            holder: None,
            since: None,
        },
    }))
}

/// The managed accounts whose holder is `email`, with their state: one query of the
/// holder → accounts index ([`WriterLeases::held_by`]), whatever the size of the
/// organization, then each account's tags checked (cached, or read again from
/// Organizations when in doubt) so that an account whose holder changed since is
/// left out. Names come from what spa last saw of the accounts.
pub(crate) async fn accounts_of<P: Platform>(
    engine: &Engine<'_, P>,
    email: &str,
) -> Result<Vec<AccountState>, UseCaseError> {
    let Ok(holder) = Holder::new(email) else {
        return Ok(Vec::new());
    };
    let platform = engine.platform();
    let (organization, store) = (platform.organization(), platform.store());
    let context = || Context::step("slash command: the asker's accounts");
    let fingerprint = super::holders::fingerprint(&holder);
    let candidates = engine
        .retry()
        .run("holder index", || store.held_by(&fingerprint))
        .await
        .within(context)?;
    let ids: Vec<AccountId> = candidates.keys().cloned().collect();
    let names: BTreeMap<AccountId, String> = engine
        .retry()
        .run("known accounts", || store.known_accounts(&ids))
        .await
        .within(context)?
        .into_iter()
        .map(|known| (known.account, known.name))
        .collect();
    let mut states = Vec::new();
    for (account, cache) in candidates {
        let tags = match cache.tags {
            Some(tags) => tags,
            None => match engine
                .retry()
                .run("tags", || organization.tags(&account))
                .await
            {
                Ok(tags) => tags,
                Err(PortError::NotFound { .. }) => continue,
                Err(error) => return Err(error).within(|| context().account(&account)),
            },
        };
        let Ok(view) = engine.codec().decode(&tags) else {
            continue;
        };
        if !view
            .holder
            .as_ref()
            .is_some_and(|h| h.as_str().eq_ignore_ascii_case(email))
        {
            continue;
        }
        let name = match names.get(&account) {
            Some(name) => name.clone(),
            None => engine
                .retry()
                .run("describe_account", || {
                    organization.describe_account(&account)
                })
                .await
                .map(|record| record.name)
                .unwrap_or_default(),
        };
        states.push(AccountState {
            account,
            name,
            state: spa_core::lifecycle::state_name(view.state).to_owned(),
            holder: view.holder.map(|h| h.masked()),
            since: view.since,
        });
    }
    Ok(states)
}

/// Works out the answer of a job handed on by [`on_slash_command`] and posts it to
/// its response URL (claimed once: a re-delivered job posts once). `local_base`: the
/// response URL base accepted besides Slack's (`spa slack serve` in tests).
pub async fn answer_later<P: Platform>(
    engine: &Engine<'_, P>,
    command: &AccountCommand,
    local_base: Option<&str>,
) -> Result<Outcome, UseCaseError> {
    let (asker, response_url, work) = match &command.action {
        Action::SlackReply {
            user,
            email,
            admin,
            text,
            response_url,
        } => (
            Asker {
                user: user.clone(),
                email: email.clone(),
                admin: *admin,
            },
            Some(response_url.as_str()),
            Work::Text(Request::parse(text)),
        ),
        Action::SlackButton {
            user,
            email,
            admin,
            button,
            value,
            response_url,
        } => (
            Asker {
                user: user.clone(),
                email: email.clone(),
                admin: *admin,
            },
            response_url.as_deref(),
            Work::Click(Button::parse(button, value)),
        ),
        _ => {
            return Err(UseCaseError::bad_input(
                Context::step("answer a slash command").cause(&command.id),
                "not a Slack job",
            ));
        }
    };
    let context = || Context::step("answer a slash command").cause(&command.id);
    let url = match response_url {
        Some(url) => Some(ResponseUrl::parse(url, local_base).map_err(|_| {
            UseCaseError::bad_input(context(), "the response URL is not Slack's: nothing posted")
        })?),
        None => None,
    };
    let platform = engine.platform();
    let key = format!("slack-reply#{}", command.id);
    if lease::take(engine, &key, context).await? == Taken::Seen {
        return Ok(Outcome::new(&command.id, None, Verdict::Seen));
    }
    let body = match work_out(engine, command, &asker, &work).await {
        Ok(body) => body,
        Err(error) if error.is_transient() => return lease::end(engine, &key, Err(error)).await,
        Err(error) => {
            tracing::error!(error = %redact_emails(&error.to_string()), "slash command answer failed");
            reply::failed()
        }
    };
    let Some(url) = url else {
        tracing::info!(
            user = asker.user,
            cause = command.id,
            "Slack job done (no response URL)"
        );
        let done = Ok(Outcome::new(
            &command.id,
            None,
            Verdict::Notified("Slack job done".to_owned()),
        ));
        return lease::end(engine, &key, done).await;
    };
    let posted = platform
        .webhooks()
        .post_json(&Secret::new(url.expose()), &body)
        .await
        .within(context)
        .map(|()| {
            tracing::info!(
                user = asker.user,
                cause = command.id,
                "slash command answered"
            );
            Outcome::new(
                &command.id,
                None,
                Verdict::Notified("slash command answered".to_owned()),
            )
        });
    lease::end(engine, &key, posted).await
}

/// What a Slack job asks.
enum Work {
    /// A slash command's text.
    Text(Request),
    /// A button's click (`None`: not one of spa's buttons).
    Click(Option<Button>),
}

/// The answer of a Slack job.
async fn work_out<P: Platform>(
    engine: &Engine<'_, P>,
    command: &AccountCommand,
    asker: &Asker,
    work: &Work,
) -> Result<Value, UseCaseError> {
    let cause = command.id.as_str();
    match work {
        Work::Text(Request::Ask { lease }) => {
            requests::ask(engine, asker, *lease, &request_id_of(cause)).await
        }
        Work::Text(Request::Extend { account, by }) => {
            requests::extend(engine, asker, account, *by, cause).await
        }
        Work::Text(Request::Snooze { account, by }) => {
            requests::snooze(engine, asker, account, *by, cause).await
        }
        Work::Click(Some(Button::Snooze(account))) => {
            requests::snooze(engine, asker, account, None, cause).await
        }
        Work::Text(request) => compute(engine, asker, request).await,
        Work::Click(Some(Button::Approve(id))) => requests::answer(engine, asker, id, true).await,
        Work::Click(Some(Button::Deny(id))) => requests::answer(engine, asker, id, false).await,
        Work::Click(Some(Button::Extend(account))) => {
            requests::extend(engine, asker, account, None, cause).await
        }
        Work::Click(Some(Button::Unfreeze(account))) => {
            requests::unfreeze(engine, asker, account, cause).await
        }
        Work::Click(None) => Ok(reply::failed()),
    }
}

/// `find`: admins search every managed account, holders the accounts they hold.
async fn find<P: Platform>(
    engine: &Engine<'_, P>,
    asker: &Asker,
    text: &str,
) -> Result<Value, UseCaseError> {
    let query = match super::find::FindQuery::parse(text) {
        Ok(query) => query,
        Err(error) => return Ok(reply::bad_query(&error.to_string())),
    };
    let accounts: Vec<AccountId> = if asker.admin {
        managed_accounts(engine, None)
            .await?
            .into_iter()
            .map(|a| a.id)
            .collect()
    } else {
        match &asker.email {
            Some(email) => accounts_of(engine, email)
                .await?
                .into_iter()
                .map(|a| a.account)
                .collect(),
            None => Vec::new(),
        }
    };
    let report = super::find::find_instances(engine, &query, &accounts).await?;
    let lines: Vec<String> = report
        .found
        .iter()
        .map(|f| {
            format!(
                "*{}* {} in {} {}: {}{}",
                f.instance_id,
                f.name.as_deref().unwrap_or(""),
                f.account,
                f.region,
                f.state,
                f.private_ip
                    .as_deref()
                    .map(|ip| format!(", {ip}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let failed: Vec<String> = report
        .failed
        .iter()
        .map(|f| match &f.region {
            Some(region) => format!("{} {region}", f.account),
            None => f.account.to_string(),
        })
        .collect();
    Ok(reply::found(&lines, report.searched, &failed))
}

/// The answer of a deferred request.
async fn compute<P: Platform>(
    engine: &Engine<'_, P>,
    asker: &Asker,
    request: &Request,
) -> Result<Value, UseCaseError> {
    let accounts: Vec<AccountState> = match request {
        Request::Status(Target::Account(account)) | Request::Costs(Target::Account(account)) => {
            match account_state(engine, asker, account).await? {
                Some(state) => vec![state],
                None => return Ok(reply::refused(account)),
            }
        }
        Request::Status(Target::Mine) | Request::Costs(Target::Mine) => match &asker.email {
            Some(email) => accounts_of(engine, email).await?,
            None => Vec::new(),
        },
        Request::Help => return Ok(reply::help("/spa", None)),
        Request::Unknown(text) => return Ok(reply::help("/spa", Some(text))),
        Request::Find(text) => return find(engine, asker, text).await,
        // answered by `work_out`
        Request::Ask { .. } | Request::Extend { .. } | Request::Snooze { .. } => {
            return Ok(reply::failed());
        }
    };
    if let Request::Status(_) = request {
        return Ok(reply::status(&accounts));
    }
    let today = engine.now().date_naive();
    let mut digests = Vec::new();
    for state in accounts.iter().take(COSTS_ACCOUNTS_MAX) {
        digests.push(
            super::digest::read_digest(
                engine,
                engine.platform().cost_source(),
                today,
                Some(&state.account),
            )
            .await?,
        );
    }
    Ok(reply::costs(&digests))
}
