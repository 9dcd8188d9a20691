//! The one `bootstrap` binary that serves every spa Lambda function.
//!
//! The routing to use cases comes with the lifecycle issue; this binary only proves
//! that the handlers crate builds against the engine.

fn main() {
    eprintln!(
        "spa bootstrap {}: no Lambda route is wired yet",
        env!("CARGO_PKG_VERSION")
    );
    std::process::exit(2);
}
