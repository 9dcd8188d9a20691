//! What `spa-deploy` makes: the synthesized templates and their rules, and the stacks
//! they make on the emulator. One test binary, so the SDK is linked once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod stacks;
mod synth;
