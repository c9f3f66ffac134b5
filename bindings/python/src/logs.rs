//! trawl's `tracing` events delivered to Python's `logging`, under loggers named after
//! their module (`trawl.collection.ingest`, `trawl.index.worker`, ...).
//!
//! An event is queued where it happens, on any thread, with or without the GIL; the
//! queue is emitted by a thread that holds the GIL anyway: when a call returns to
//! Python, and when an ingest reports progress. No trawl thread ever waits for the GIL
//! to log, so logging cannot deadlock against a Python thread waiting for trawl.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::Layer as _;

/// Events kept until a thread with the GIL emits them; past this, the oldest go.
const CAPACITY: usize = 10_000;

struct Record {
    level: Level,
    target: String,
    message: String,
}

static QUEUE: Mutex<VecDeque<Record>> = Mutex::new(VecDeque::new());
static DROPPED: AtomicUsize = AtomicUsize::new(0);

/// Queues every trawl event at DEBUG and above (Python's logger levels then decide
/// what is shown). Installed once, when the module loads.
pub(crate) fn install() {
    let layer = QueueLayer.with_filter(tracing_subscriber::filter::filter_fn(|meta| {
        meta.target().starts_with("trawl") && *meta.level() <= Level::DEBUG
    }));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

struct QueueLayer;

impl<S: Subscriber> tracing_subscriber::Layer<S> for QueueLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut message = Message::default();
        event.record(&mut message);
        let meta = event.metadata();
        let record = Record {
            level: *meta.level(),
            target: meta.target().to_owned(),
            message: message.text,
        };
        let mut queue = QUEUE.lock().unwrap_or_else(PoisonError::into_inner);
        if queue.len() >= CAPACITY {
            queue.pop_front();
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
        queue.push_back(record);
    }
}

/// The event's message, then its other fields as `key=value`.
#[derive(Default)]
struct Message {
    text: String,
}

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let fields = std::mem::take(&mut self.text);
            let _ = write!(self.text, "{value:?}");
            self.text.push_str(&fields);
        } else {
            let _ = write!(self.text, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.text.insert_str(0, value);
        } else {
            let _ = write!(self.text, " {}={value}", field.name());
        }
    }
}

/// The Python logger name for a Rust module path: `trawl_index::index::worker`
/// becomes `trawl.index.worker` (a module named as its crate is not repeated).
fn logger_name(target: &str) -> String {
    let target = target
        .strip_prefix("trawl_")
        .map_or_else(|| target.to_owned(), |rest| format!("trawl::{rest}"));
    let mut parts: Vec<&str> = target.split("::").collect();
    parts.dedup();
    parts.join(".")
}

fn python_level(level: Level) -> u8 {
    match level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

/// Emits the queued events to Python's `logging`. Called with the GIL held; errors
/// from a logging handler are left to Python's `logging` (which reports them itself),
/// never raised into the trawl call that happened to emit them.
pub(crate) fn emit(py: Python<'_>) {
    let records = std::mem::take(&mut *QUEUE.lock().unwrap_or_else(PoisonError::into_inner));
    let dropped = DROPPED.swap(0, Ordering::Relaxed);
    if records.is_empty() && dropped == 0 {
        return;
    }
    let Ok(logging) = py.import("logging") else {
        return;
    };
    let log = |name: &str, level: u8, message: &str| -> PyResult<()> {
        let logger = logging.call_method1("getLogger", (name,))?;
        if logger.call_method1("isEnabledFor", (level,))?.is_truthy()? {
            logger.call_method1("log", (level, "%s", message))?;
        }
        Ok(())
    };
    if dropped > 0 {
        let _ = log(
            "trawl",
            30,
            &format!("{dropped} log records were dropped (more than {CAPACITY} queued)"),
        );
    }
    for r in records {
        let _ = log(&logger_name(&r.target), python_level(r.level), &r.message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loggers_are_named_after_the_module() {
        assert_eq!(
            logger_name("trawl::collection::ingest"),
            "trawl.collection.ingest"
        );
        assert_eq!(
            logger_name("trawl_index::index::worker"),
            "trawl.index.worker"
        );
        assert_eq!(logger_name("trawl_ingest"), "trawl.ingest");
        assert_eq!(logger_name("trawl"), "trawl");
    }
}
