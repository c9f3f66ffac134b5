//! Shared by every target: each feeds arbitrary bytes to one parser through the public
//! `parse_bytes_as` with tight limits. Panics pdf-extract raises by design are contained
//! inside the PDF parser; any other panic, abort, timeout or out-of-memory is a finding.

use std::sync::Once;

use trawl_ingest::{Format, Limits};

static QUIET: Once = Once::new();

pub fn run(data: &[u8], name: &str, format: Format) {
    // The default hook would print every contained pdf-extract panic.
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let limits = Limits::default()
        .max_file_bytes(1 << 20)
        .max_decompressed_bytes(16 << 20)
        .max_cells(1_000_000)
        .max_rows(100_000);
    let _ = trawl_ingest::parse_bytes_as(data, name, format, &limits);
}
