//! Account lifecycle: states, the tag codec and the pure transition function.

mod build;
mod codec;
mod decide;
mod holder;
mod label;
mod policy;
mod state;
mod view;

#[cfg(test)]
mod tests;

pub use build::{
    AwaitedBuild, BuildId, BuildIdError, BuildKind, BuildStatus, ParseBuildStatusError,
};
pub use codec::{CodecError, DecodeError, TagChanges, TagCodec};
pub use decide::{Command, Decision, Departure, Invalid, Rejection, Trigger, TriggerKind, decide};
pub use holder::{Holder, HolderError};
pub use label::{Label, LabelKind, ParseLabelError};
pub use policy::Policy;
pub use state::{ParseStateError, State, state_name};
pub use view::{AccountView, Inconsistency, Transaction, TransactionKind};
