//! Prints what trawl-ingest makes of each file named on the command line, as JSON.
//!
//! `cargo run -p trawl-ingest --example dump -- FILE...`

fn main() {
    for arg in std::env::args().skip(1) {
        let path = std::path::Path::new(&arg);
        match trawl_ingest::parse_path_all(path, &trawl_ingest::Limits::default()) {
            Ok(docs) => {
                for d in docs {
                    let meta = serde_json::to_string(&d.metadata).unwrap_or_default();
                    println!("# {} [{}] title={:?} {meta}", d.id, d.format, d.title);
                    for s in &d.sections {
                        let loc = serde_json::to_string(&s.location).unwrap_or_default();
                        let text: String = s.text.chars().take(100).collect();
                        let path = s.heading_path.join(" > ");
                        println!("  {:?} {loc} [{path}] {text:?}", s.kind);
                    }
                }
            }
            Err(e) => println!("{arg}: error: {e}"),
        }
    }
}
