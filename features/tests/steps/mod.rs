//! Step definitions, one module per feature area, over one world.

#[derive(Debug, Default, cucumber::World)]
pub struct SpaWorld {}
