//! The objects a script sees (`req`, `ctx`, endpoint views and lists, `err`,
//! `attempt`, `resp`) as registered rhai types with getters.
//!
//! Why registered types and not maps? A map would be rebuilt for every call,
//! with every field, whether the script reads it or not. A registered type is
//! a small struct moved into rhai once; a getter runs only when the script
//! reads that field. The endpoint data of one call live in one [`Snapshot`]
//! behind an `Rc`, so views and lists are an `Rc` plus indices, and cloning
//! one (rhai clones method arguments) is a reference-count bump.

mod attempt;
mod context;
mod endpoint;
mod endpoint_list;
mod request;
mod response;

pub(crate) use attempt::{AttemptView, ErrView};
pub(crate) use context::{BudgetView, CtxView, EndpointTable, Snapshot};
pub(crate) use endpoint::EndpointView;
pub(crate) use endpoint_list::EndpointList;
pub(crate) use request::{ReqView, Tags};
pub(crate) use response::RespView;

/// A `u64` as a rhai integer (saturating: no real value reaches `i64::MAX`).
pub(crate) fn int(v: u64) -> rhai::INT {
    rhai::INT::try_from(v).unwrap_or(rhai::INT::MAX)
}
