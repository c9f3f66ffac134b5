#![no_main]

//! The front door: detection by content and name, then whichever parser that picks.

use std::sync::Once;

static QUIET: Once = Once::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let names = ["a.txt", "a.docx", "a.xlsx", "a", "a.json", "a.eml"];
    let name = names[data.first().map_or(0, |b| usize::from(*b) % names.len())];
    let limits = trawl_ingest::Limits::default().max_decompressed_bytes(16 << 20);
    let _ = trawl_ingest::parse_bytes_all(data, name, &limits);
});
