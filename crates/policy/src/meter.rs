//! What one hook call may cost, beyond what rhai's own limits see.
//!
//! rhai counts operations and checks sizes, but one operation can cost far
//! more than another: reading a variable copies its value (a deep copy for an
//! array or a map), and building, checking and dropping that copy walks all
//! of it. A loop that copies a 10 000-entry map stays within every size limit
//! and runs 200 000 operations of 10 000 entries each: a minute and a half in
//! a debug build. A map nested 9 999 deep (`m = #{ a: m }` in a loop) stays
//! within the map limit too (rhai counts nested entries), costs time
//! quadratic in its depth, and every copy, check and drop of it recurses once
//! per level: past a few thousand levels that overflows the stack and aborts
//! the process. So, counting, never timing (a wind tunnel must give the same
//! answer on every run):
//!
//! - **Depth.** A variable read whose value nests arrays, maps or function
//!   pointers deeper than [`MAX_VALUE_DEPTH`] fails the call. Every value that
//!   outlives one expression lives in a variable and is checked when read, so
//!   no value gets much deeper than that (one expression adds at most its own
//!   nesting, itself limited), and nothing recurses far. `this` is disabled
//!   (`engine`): it is the one way to keep a value across loop turns without
//!   a variable read.
//! - **Data read.** Each variable read is charged what copying its value
//!   costs: one per array item, map entry and string byte, nested included
//!   (a method on a string, `split("")` say, can make one value per byte); a
//!   call may read [`MAX_ITEMS_READ`]. A method call on a variable
//!   (`list.len()`) is charged too: rhai does not tell a read that copies
//!   from one that does not, and a method that changes a value checks all of
//!   it afterwards. So building an array one `push` at a time costs the sum
//!   of its sizes, as it does in rhai: about 1 400 items that way in one call
//!   (`pad` and `+=` build faster).
//! - **Generators.** `pad` makes a large value out of small arguments, so it
//!   is replaced by a version charged for what it adds. rhai's string `pad`
//!   also loops for ever, inside native code where no operation is counted,
//!   on an empty padding string (`"x".pad(10, "")`); this one does nothing.
//! - **Operations in closures.** rhai runs a closure called from a native
//!   function (`map`, `filter`, `sort`, ...) on a copy of the call's state, so
//!   the operations it counts there are forgotten when the closure returns: a
//!   `map` over 10 000 items whose closure runs 100 000 operations each was
//!   never stopped. The progress callback counts every operation, including
//!   those, against the same limit.
//!
//! The counters live in the engine, shared by the callbacks, and are reset
//! at the first operation of each call: rhai starts every `call_fn` with a
//! fresh operation count, and a closure's copy of the state continues the
//! count of the call it runs in, so a count of 1 means a new call.

use crate::engine::{MAX_ARRAY_SIZE, MAX_STRING_SIZE};
use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, INT, ImmutableString, Position};
use std::cell::Cell;
use std::rc::Rc;

/// Arrays, maps and function pointers nested in one another. A plan is two
/// levels deep; a table of tables three. 32 leaves room for any data a
/// policy keeps and stays far from the stack.
pub(crate) const MAX_VALUE_DEPTH: usize = 32;

/// Array items, map entries and string bytes one hook call may read (see
/// the module doc). A typical route reads a few hundred; copying a 10 000
/// entry map in a loop hits it after 100 copies. Copying an item costs a few
/// times what an operation does, so this stops such a loop within a few
/// times the time the operation limit gives an endless one (in a debug
/// build about 0.3 s against 0.07 s; copying a map 200 000 times took 93 s).
pub(crate) const MAX_ITEMS_READ: u64 = 1_000_000;

/// Items one `fn test_*()` may read: ten hook calls' worth, as for operations.
pub(crate) const MAX_TEST_ITEMS_READ: u64 = 10_000_000;

/// The message of the operation limit.
pub(crate) fn too_many_operations(limit: u64) -> String {
    format!("too many operations (the limit is {limit} per call): an endless loop?")
}

/// The message of the depth limit.
pub(crate) fn too_deep() -> String {
    format!("a value nests arrays and maps deeper than the limit of {MAX_VALUE_DEPTH} levels")
}

/// The message of the data-read limit.
pub(crate) fn too_much_read(limit: u64) -> String {
    format!(
        "too much data read (the limit is {limit} per call, counting each array item, map entry and \
         string byte every time a variable holding it is read): a large value read in a loop?"
    )
}

/// What the current call has used.
#[derive(Debug, Default)]
struct Meter {
    ops: Cell<u64>,
    items: Cell<u64>,
    max_ops: u64,
    max_items: u64,
}

impl Meter {
    /// Charges `items`; an error when the call is over its limit.
    fn charge(&self, items: u64) -> Result<(), Box<EvalAltResult>> {
        let total = self.items.get().saturating_add(items);
        self.items.set(total);
        if total > self.max_items { Err(stop(too_much_read(self.max_items))) } else { Ok(()) }
    }
}

/// A limit error: not catchable by `try`, and passed up through script
/// functions without wrapping (`script_error` reads the message back).
fn stop(message: String) -> Box<EvalAltResult> {
    EvalAltResult::ErrorTerminated(message.into(), Position::NONE).into()
}

/// What reading `value` costs in items, or `None` when it nests deeper than
/// [`MAX_VALUE_DEPTH`] below `depth`. Never recurses deeper than that.
fn weigh(value: &Dynamic, depth: usize) -> Option<u64> {
    let mut items = 0;
    weigh_into(value, depth, &mut items).then_some(items)
}

fn weigh_into(value: &Dynamic, depth: usize, items: &mut u64) -> bool {
    // Most reads are of the API's types (`req`, `ctx`, endpoints) and numbers.
    if value.is_variant() || value.is_int() || value.is_float() || value.is_bool() || value.is_unit() {
        return true;
    }
    if let Ok(s) = value.as_immutable_string_ref() {
        *items += s.len() as u64;
        return true;
    }
    if let Ok(a) = value.as_array_ref() {
        *items += a.len() as u64;
        return depth < MAX_VALUE_DEPTH && a.iter().all(|v| weigh_into(v, depth + 1, items));
    }
    if let Ok(m) = value.as_map_ref() {
        *items += m.len() as u64;
        return depth < MAX_VALUE_DEPTH && m.values().all(|v| weigh_into(v, depth + 1, items));
    }
    if let Some(f) = value.read_lock::<FnPtr>() {
        let curry = f.curry();
        *items += curry.len() as u64;
        return curry.is_empty() || depth < MAX_VALUE_DEPTH && curry.iter().all(|v| weigh_into(v, depth + 1, items));
    }
    true
}

/// Installs the meter on `engine`: operations counted across closures,
/// variable reads charged and checked for depth, `pad` charged.
pub(crate) fn install(engine: &mut Engine, max_ops: u64, max_items: u64) {
    let meter = Rc::new(Meter { max_ops, max_items, ..Meter::default() });

    let m = meter.clone();
    engine.on_progress(move |count| {
        if count == 1 {
            m.ops.set(0);
            m.items.set(0);
        }
        let ops = m.ops.get() + 1;
        m.ops.set(ops);
        (ops > m.max_ops).then(|| too_many_operations(m.max_ops).into())
    });

    let m = meter.clone();
    #[expect(deprecated, reason = "rhai marks on_var volatile, not deprecated")]
    engine.on_var(move |name, _, ctx| {
        let Some(value) = ctx.scope().get(name) else { return Ok(None) };
        match weigh(value, 0) {
            Some(0) => Ok(None),
            Some(items) => m.charge(items).map(|()| None),
            None => Err(stop(too_deep())),
        }
    });

    let m = meter.clone();
    engine.register_fn("pad", move |array: &mut Array, len: INT, item: Dynamic| pad_array(&m, array, len, item));
    let m = meter.clone();
    engine.register_fn("pad", move |s: &mut ImmutableString, len: INT, c: char| pad_string(&m, s, len, &c.to_string()));
    let m = meter;
    engine.register_fn("pad", move |s: &mut ImmutableString, len: INT, padding: &str| pad_string(&m, s, len, padding));
}

/// `array.pad(len, item)`: adds copies of `item` until `array` has `len`
/// items, charged for every item added (with what `item` holds).
fn pad_array(meter: &Meter, array: &mut Array, len: INT, item: Dynamic) -> Result<(), Box<EvalAltResult>> {
    let Ok(len) = usize::try_from(len) else { return Ok(()) };
    if len <= array.len() {
        return Ok(());
    }
    if len > MAX_ARRAY_SIZE {
        return Err(EvalAltResult::ErrorDataTooLarge("Size of array/BLOB".to_string(), Position::NONE).into());
    }
    let Some(each) = weigh(&item, 1) else { return Err(stop(too_deep())) };
    let added = (len - array.len()) as u64;
    meter.charge(added.saturating_mul(each.saturating_add(1)))?;
    // rhai checks the nested sizes of the padded array when the call returns.
    array.resize(len, item);
    Ok(())
}

/// `string.pad(len, padding)`: appends `padding` (cut short at the end) until
/// `string` has `len` characters, charged for what it appends. An empty
/// padding does nothing.
fn pad_string(meter: &Meter, s: &mut ImmutableString, len: INT, padding: &str) -> Result<(), Box<EvalAltResult>> {
    let too_long = || EvalAltResult::ErrorDataTooLarge("Length of string".to_string(), Position::NONE).into();
    let Ok(len) = usize::try_from(len) else { return Ok(()) };
    if len > MAX_STRING_SIZE {
        return Err(too_long());
    }
    let have = s.chars().count();
    if len <= have || padding.is_empty() {
        return Ok(());
    }
    let added: String = padding.chars().cycle().take(len - have).collect();
    meter.charge(added.len() as u64)?;
    if s.len() + added.len() > MAX_STRING_SIZE {
        return Err(too_long());
    }
    s.make_mut().push_str(&added);
    Ok(())
}
