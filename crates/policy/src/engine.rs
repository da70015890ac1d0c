//! The sandbox: a rhai [`Engine`] built from nothing (`Engine::new_raw`) plus
//! the packages a routing policy needs, with every limit set.
//!
//! Why `new_raw` and a hand-picked list rather than `Engine::new()`? The
//! standard engine brings a file module resolver (`import "x"` reads files),
//! `print` to stdout, `timestamp()` (wall time) and `sleep()` (which blocks
//! the thread for real seconds: one call would stall a simulated day). None
//! of those may reach a policy: a wind tunnel replays in virtual time and must
//! give the same answer on every run (STYLE §5). What is left is pure
//! computation: arithmetic, logic, strings, arrays, maps, math, iteration and
//! function pointers (closures), plus the windtunnel types of `api`.
//!
//! Why these limits? A policy runs once per request, millions of times in a
//! run, inside the simulator or the proxy. An endless loop, endless recursion
//! or a string that doubles forever must fail *that call*, quickly, and leave
//! the next call unharmed; rhai turns each limit into an error.

use rhai::packages::{
    ArithmeticPackage, BasicArrayPackage, BasicFnPackage, BasicIteratorPackage, BasicMapPackage, BasicMathPackage,
    BasicStringPackage, LogicPackage, MoreStringPackage, Package,
};
use rhai::{Engine, OptimizationLevel};

/// Operations (statements, expressions, calls) one hook call may run. A
/// typical route (`candidates → by_cost → take → names` plus a plan map) takes
/// well under a hundred; a loop over a few dozen endpoints a few thousand.
/// 200 000 stops an endless loop within about 10 ms in a release build.
pub(crate) const MAX_OPERATIONS: u64 = 200_000;

/// Operations one `fn test_*()` may run: tests call hooks many times and
/// build contexts, so they get ten hook calls' worth.
pub(crate) const MAX_TEST_OPERATIONS: u64 = 2_000_000;

/// Nested script function calls. Deep enough for any helper structure; low
/// enough that runaway recursion stops long before the Rust stack does, even
/// in an unoptimised (test) build on a 2 MiB thread stack.
pub(crate) const MAX_CALL_LEVELS: usize = 32;

/// Nesting of expressions at top level and inside functions, for the same
/// stack reason (the parser and evaluator recurse on nesting).
pub(crate) const MAX_EXPR_DEPTH: usize = 64;
/// See [`MAX_EXPR_DEPTH`].
pub(crate) const MAX_FN_EXPR_DEPTH: usize = 32;

/// Longest string in bytes. Endpoint names, tenants and messages are short;
/// 64 KiB leaves room and stops a doubling string after 16 steps.
pub(crate) const MAX_STRING_SIZE: usize = 64 * 1024;

/// Largest array. A chain has a handful of entries; 10 000 covers any
/// endpoint list with room to spare.
pub(crate) const MAX_ARRAY_SIZE: usize = 10_000;

/// Largest object map, for the same reason.
pub(crate) const MAX_MAP_SIZE: usize = 10_000;

/// Variables alive at once across the call stack. With the string limit it
/// bounds what one call can hold in memory (about 64 MiB at worst).
///
/// Nesting depth of values and the data one call may read are limited by
/// `meter`, which also counts the operations of closures that rhai loses.
pub(crate) const MAX_VARIABLES: usize = 1_000;

/// Which engine to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Running a policy's hooks (simulation, proxy, lint).
    Hooks,
    /// Running `fn test_*()` functions: a larger operation budget.
    Tests,
}

/// A sandboxed engine with the windtunnel API registered.
pub(crate) fn sandbox(purpose: Purpose) -> Engine {
    let mut engine = Engine::new_raw();
    for module in [
        ArithmeticPackage::new().as_shared_module(),
        LogicPackage::new().as_shared_module(),
        BasicStringPackage::new().as_shared_module(),
        MoreStringPackage::new().as_shared_module(),
        BasicIteratorPackage::new().as_shared_module(),
        BasicFnPackage::new().as_shared_module(),
        BasicMathPackage::new().as_shared_module(),
        BasicArrayPackage::new().as_shared_module(),
        BasicMapPackage::new().as_shared_module(),
    ] {
        engine.register_global_module(module);
    }

    // `eval` would compile new code at run time, outside lint and the limits
    // on expression depth checked at load.
    engine.disable_symbol("eval");
    // `this` (in a function called as a method) would let a loop grow a
    // value without reading a variable, unseen by the depth and data-read
    // checks of `meter`; a policy has no use for methods of its own.
    engine.disable_symbol("this");
    // `print` and `debug` go nowhere: a policy has no stdout.
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});

    engine.set_strict_variables(true);
    engine.set_fail_on_invalid_map_property(true);
    engine.set_optimization_level(OptimizationLevel::Simple);

    engine.set_max_operations(match purpose {
        Purpose::Hooks => MAX_OPERATIONS,
        Purpose::Tests => MAX_TEST_OPERATIONS,
    });
    engine.set_max_call_levels(MAX_CALL_LEVELS);
    engine.set_max_expr_depths(MAX_EXPR_DEPTH, MAX_FN_EXPR_DEPTH);
    engine.set_max_string_size(MAX_STRING_SIZE);
    engine.set_max_array_size(MAX_ARRAY_SIZE);
    engine.set_max_map_size(MAX_MAP_SIZE);
    engine.set_max_variables(MAX_VARIABLES);
    // What an operation costs, beyond rhai's own limits: see `meter`.
    let max_items = match purpose {
        Purpose::Hooks => crate::meter::MAX_ITEMS_READ,
        Purpose::Tests => crate::meter::MAX_TEST_ITEMS_READ,
    };
    crate::meter::install(&mut engine, max_operations(purpose), max_items);

    crate::api::register(&mut engine);
    engine
}

/// The operation limit of an engine built for `purpose`, for messages.
pub(crate) fn max_operations(purpose: Purpose) -> u64 {
    match purpose {
        Purpose::Hooks => MAX_OPERATIONS,
        Purpose::Tests => MAX_TEST_OPERATIONS,
    }
}
