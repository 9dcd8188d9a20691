//! Chat operations: the Slack slash command `/spa` and spa's buttons, their pure core.
//!
//! - [`verify`]: Slack's request signature (HMAC-SHA256, 5-minute window,
//!   constant-time comparison) and the body size budget, checked before anything else;
//! - [`command`]: the form body → a [`SlashCommand`], its text → a [`Request`], the
//!   response URL held to Slack's;
//! - [`interaction`]: a click on one of spa's buttons (`payload`, `block_actions`) →
//!   an [`Interaction`], its `action_id` and `value` held to spa's [`Button`]s;
//! - [`http`]: the Lambda function URL event in, its response out;
//! - [`reply`]: the answers as ephemeral Block Kit messages, addresses masked;
//! - [`answers`]: the messages of requests, approvals, lease extensions and unfreezes.
//!
//! No I/O and no clock: `now` is passed in. The use case that runs a command is
//! `usecases::slack`.

pub mod answers;
pub mod command;
pub mod http;
pub mod interaction;
pub mod reply;
pub mod verify;

pub use command::{FormError, Request, ResponseUrl, SlashCommand, Target, parse_form};
pub use interaction::{Button, Interaction, InteractionError, is_interaction, parse_interaction};
pub use verify::{Rejection, Verified, sign, verify};
