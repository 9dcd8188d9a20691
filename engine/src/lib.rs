//! The spa engine: the whole domain of keeping personal sandbox accounts sustainable.
//!
//! Pure modules (`settings`, `lifecycle`, `events`, `footprint`) hold no SDK type, do no I/O and
//! never read the clock; `ports` names what the use cases need from the outside world.

pub mod aws;
pub mod chatops;
pub mod emf;
pub mod events;
pub mod files;
pub mod footprint;
pub mod fuzz;
pub mod lifecycle;
pub mod local;
pub mod notify;
pub mod ports;
pub mod reports;
pub mod rules;
pub mod settings;
pub mod slack_api;
pub mod usecases;
pub mod webhooks;
