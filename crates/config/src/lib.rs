//! Scenario configuration: placeholder while the crate is written.
mod spec;
pub use spec::*;
