//! Tells the tests which CPU paths this machine runs, so that a path it cannot run is
//! reported as ignored, by name, rather than passing without running (the tests run
//! on the machine that builds them).

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let flags = [
        "avx2",
        "fma",
        "avx512f",
        "avx512_bf16",
        "amx_bf16",
        "avx_vnni",
        "avx512_vnni",
        "avx512vl",
    ];
    for f in flags {
        println!("cargo::rustc-check-cfg=cfg(trawl_cpu_{f})");
    }
    let native = std::env::var("HOST").ok() == std::env::var("TARGET").ok();
    if !native || std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("x86_64") {
        return;
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let Some(line) = cpuinfo.lines().find(|l| l.starts_with("flags")) else {
        return;
    };
    let have: Vec<&str> = line.split_whitespace().collect();
    for f in flags {
        if have.contains(&f) {
            println!("cargo::rustc-cfg=trawl_cpu_{f}");
        }
    }
}
