//! Account lifecycle: states, the tag codec and the pure transition function.

mod policy;

pub use policy::Policy;
