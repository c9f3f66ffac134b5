//! The `dump` tool writes one JSON line per query with the fields the offline studies
//! read, from a BEIR dataset the test writes itself.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn tiny_beir(dir: &Path) {
    let docs = [
        (
            "d1",
            "Volcanoes",
            "Magma rises through the crust and erupts as lava. It cools.",
        ),
        (
            "d2",
            "Honeybees",
            "Worker bees dance to tell the hive where flowers are.",
        ),
        (
            "d3",
            "Glaciers",
            "Compacted snow turns to ice that flows slowly downhill.",
        ),
    ];
    let corpus: String = docs
        .iter()
        .map(|(id, title, text)| {
            serde_json::json!({"_id": id, "title": title, "text": text}).to_string() + "\n"
        })
        .collect();
    std::fs::write(dir.join("corpus.jsonl"), corpus).unwrap();
    let queries = "{\"_id\": \"q1\", \"text\": \"where does lava come from\"}\n\
                   {\"_id\": \"q2\", \"text\": \"how do bees find flowers\"}\n";
    std::fs::write(dir.join("queries.jsonl"), queries).unwrap();
    std::fs::create_dir(dir.join("qrels")).unwrap();
    std::fs::write(
        dir.join("qrels/test.tsv"),
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n",
    )
    .unwrap();
}

fn dump(what: &str, beir: &Path, out: &Path) -> Vec<Value> {
    let status = Command::new(env!("CARGO_BIN_EXE_dump"))
        .args([what, beir.to_str().unwrap(), "--index"])
        .arg(beir.join("index"))
        .arg("--out")
        .arg(out)
        .env("TRAWL_MODEL", trawl_benches::model_dir())
        .status()
        .unwrap();
    assert!(status.success(), "dump {what} failed");
    std::fs::read_to_string(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn candidates_and_windows_are_dumped_per_query() {
    let beir = tempfile::tempdir().unwrap();
    tiny_beir(beir.path());

    let lines = dump("candidates", beir.path(), &beir.path().join("c.jsonl"));
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["qid"], "q1");
    for line in &lines {
        // [chunk id, document id, raw score]; the dense side finds every document.
        let dense = line["dense"].as_array().unwrap();
        assert_eq!(dense.len(), 3, "{line}");
        assert!(dense[0][1].is_string() && dense[0][2].is_number(), "{line}");
        assert!(!line["keyword"].as_array().unwrap().is_empty(), "{line}");
        assert!(
            line["coverage"].is_number() && line["terms"].is_array(),
            "{line}"
        );
    }
    assert_eq!(lines[0]["dense"][0][1], "d1");

    let lines = dump("windows", beir.path(), &beir.path().join("w.jsonl"));
    assert_eq!(lines.len(), 2);
    for line in &lines {
        let hits = line["hits"].as_array().unwrap();
        assert!(!hits.is_empty(), "{line}");
        for hit in hits {
            // [doc id, first-stage score, chunk cosine, [best window of 1, 2, 3 sentences]]
            assert!(hit[0].is_string() && hit[1].is_number(), "{hit}");
            assert_eq!(hit[3].as_array().unwrap().len(), 3, "{hit}");
        }
    }
}
