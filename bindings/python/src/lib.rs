//! Python bindings for trawl (`import trawl`).
//!
//! A placeholder until the Python issue fills it with pyo3: it only proves the
//! workspace wiring, so the Rust API the bindings will wrap is visible from here.

/// The crate version the bindings will expose as `trawl.__version__`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The Rust library the bindings wrap.
pub use trawl as core;
