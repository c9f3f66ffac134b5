//! Running the `trawl` binary from the CLI tests.

use std::process::{Command, Output};

/// Runs `trawl` with `args`, ignoring any `$TRAWL_MODEL` of the caller.
pub(crate) fn trawl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trawl"))
        .args(args)
        .env_remove("TRAWL_MODEL")
        .output()
        .expect("trawl runs")
}

/// Runs `trawl`, asserts it succeeded, and returns its standard output.
pub(crate) fn ok(args: &[&str]) -> String {
    let out = trawl(args);
    assert!(
        out.status.success(),
        "trawl {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
