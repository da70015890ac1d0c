//! Traces: placeholder while the crate is written.
mod synthetic_spec;
pub use synthetic_spec::{ArrivalPattern, SyntheticSpec, TraceFormat};
