//! The pure core of spa: what spa knows and decides, with no SDK, no async runtime, no
//! I/O and no clock (its dependency tree has none of them: the compiler keeps it so).
//!
//! - [`settings`]: the one YAML file, validated with positions, resolved per account.
//! - [`lifecycle`]: states, the tag codec and `decide`, the one transition function.
//! - [`events`]: decoders of the AWS events spa consumes, and spa's own domain events.
//! - [`rules`]: the rules of spa's bus (synthesized and routed locally from one source).
//! - [`footprint`]: what spa keeps in each member account, and the purge's aws-nuke configuration.
//! - [`guardrails`]: the service control policies that keep holders from breaking spa.
//! - [`reports`], [`notify`]: cost rows and exceptions rendered as bytes and texts.
//! - [`chatops`]: the Slack slash command's and buttons' verification and parsing.
//! - [`requests`]: requests for a pool account, who answers them, which accounts are free.
//! - [`emf`]: metrics as CloudWatch Embedded Metric Format lines.
//! - [`fuzz`]: the checks the fuzz targets and their regression tests run.
//! - [`vocabulary`], [`text`]: the words and text helpers every module shares (they
//!   depend on nothing else of spa, so the modules above form no cycle).
//!
//! Time enters through the triggers, files through [`settings::Sources`].

pub mod chatops;
pub mod emf;
pub mod events;
pub mod footprint;
pub mod fuzz;
pub mod guardrails;
pub mod lifecycle;
pub mod notify;
pub mod reports;
pub mod requests;
pub mod rules;
pub mod settings;
pub mod spend;
pub mod text;
pub mod vocabulary;
