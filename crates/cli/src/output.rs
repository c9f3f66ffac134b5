//! What the commands print: progress bars and hits.

use indicatif::{ProgressBar, ProgressStyle};
use trawl::Hit;

pub(crate) fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {what} [{{bar:30}}] {{pos}}/{{len}} ({{per_sec}}, eta {{eta}}) {{msg}}"
        ))
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar
}

pub(crate) fn print_hit(rank: usize, hit: &Hit) {
    let mut place = hit.source.clone().unwrap_or_else(|| hit.doc_id.clone());
    if let Some(line) = hit.location.line {
        place.push_str(&format!(":{line}"));
    }
    if let Some(page) = hit.location.page {
        place.push_str(&format!(" page {page}"));
    }
    println!("{rank}. [{:.4}] {place}", hit.score);
    if !hit.heading_path.is_empty() {
        println!("   {}", hit.heading_path.join(" > "));
    }
    let text: String = hit.text.split_whitespace().collect::<Vec<_>>().join(" ");
    let preview: String = text.chars().take(300).collect();
    let ellipsis = if text.chars().count() > 300 {
        "..."
    } else {
        ""
    };
    println!("   {preview}{ellipsis}\n");
}
