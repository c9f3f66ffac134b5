//! Containing parser panics quietly.
//!
//! Some parsers panic on malformed input (pdf-extract by design, calamine on crafted
//! files). trawl turns each such panic into a typed error for that file, so the
//! default hook's message and backtrace on stderr would only be noise: one per broken
//! file in a folder of thousands. A hook installed once stays silent for panics inside
//! [`contain`] on the thread that runs it and passes every other panic to the hook
//! that was there before.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// How many [`contain`] calls this thread is inside.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

static HOOK: Once = Once::new();

/// Runs `f`, returning its panic as an error instead of unwinding further, without
/// printing it.
pub(crate) fn contain<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if DEPTH.with(Cell::get) == 0 {
                previous(info);
            }
        }));
    });
    DEPTH.with(|d| d.set(d.get() + 1));
    let result = catch_unwind(AssertUnwindSafe(f));
    DEPTH.with(|d| d.set(d.get() - 1));
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contained_panic_is_an_error_and_the_thread_goes_on() {
        let result = contain(|| -> u32 { panic!("bad cell") });
        let panic = result.unwrap_err();
        assert_eq!(crate::parse::panic_message(&*panic), "bad cell");
        assert_eq!(DEPTH.with(Cell::get), 0);
        assert_eq!(contain(|| 7).unwrap(), 7);
    }
}
