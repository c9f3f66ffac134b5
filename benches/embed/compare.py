#!/usr/bin/env python3
"""trawl's embedder next to sentence-transformers (PyTorch, fp32) on the same texts.

Both embed the same SciFact passages (title + abstract, cut to 75 words, about 100
tokens) in batches of 32 with the same maximum length, one after the other, several
rounds interleaved; the best round of each counts, because other work shares the cores.
The CPU model and features head the output.

    .venv-bench/bin/python benches/embed/compare.py [--texts 320] [--rounds 5]
        [--precision f32 --precision int8] [--path avx2] [--avx2-only]

`--path` runs trawl on one CPU path (portable, avx2, avx512, avx512-amx; default: the
fastest this CPU has). `--avx2-only` measures an AVX2 + FMA machine on a CPU with
AVX-512: PyTorch is held to AVX2 (ATEN_CPU_CAPABILITY, MKL_ENABLE_INSTRUCTIONS,
ONEDNN_MAX_CPU_ISA), trawl runs its avx2 path with int8 products on vpmaddubsw
(TRAWL_INT8_DOT=maddubs) rather than VNNI (`--vnni` keeps VNNI, as on AVX2 CPUs that
have AVX-VNNI). `--path candle` runs candle-transformers' BertModel, the baseline.

Needs a virtualenv with `torch` and `sentence-transformers` (never a test dependency):
    python3 -m venv .venv-bench && .venv-bench/bin/pip install torch sentence-transformers
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def texts_from_scifact(path, n, words):
    out = []
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            out.append(" ".join((d["title"] + " " + d["text"]).split()[:words]))
            if len(out) == n:
                break
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default="/work/shared/data/scifact/corpus.jsonl")
    ap.add_argument("--model", default=str(ROOT / "models/all-MiniLM-L6-v2"))
    ap.add_argument("--texts", type=int, default=320)
    ap.add_argument("--words", type=int, default=75)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--precision",
        action="append",
        default=None,
        help="trawl precision(s) to run: f32 (default), bf16, int8",
    )
    ap.add_argument("--path", default=None, help="trawl's CPU path (default: the fastest)")
    ap.add_argument(
        "--avx2-only",
        action="store_true",
        help="hold PyTorch and trawl to AVX2 + FMA (no AVX-512, no VNNI)",
    )
    ap.add_argument(
        "--vnni",
        action="store_true",
        help="with --avx2-only: let trawl's int8 products use VNNI (AVX2 CPUs with AVX-VNNI)",
    )
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    precisions = args.precision or ["f32"]

    trawl_env = dict(os.environ, TRAWL_MODEL=args.model)
    if args.avx2_only:
        # Before torch is imported: its kernels are chosen at load.
        os.environ.update(
            ATEN_CPU_CAPABILITY="avx2", MKL_ENABLE_INSTRUCTIONS="AVX2", ONEDNN_MAX_CPU_ISA="AVX2"
        )
        args.path = args.path or "avx2"
        if not args.vnni:
            trawl_env["TRAWL_INT8_DOT"] = "maddubs"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    texts = texts_from_scifact(args.corpus, args.texts, args.words)
    tmp = tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False)
    for t in texts:
        tmp.write(json.dumps(t) + "\n")
    tmp.close()

    exe = ROOT / "target/release/embed-speed"
    if not args.no_build:
        subprocess.run(
            ["cargo", "build", "--release", "-q", "-p", "trawl-benches", "--bin", "embed-speed"],
            cwd=ROOT,
            check=True,
        )

    model = SentenceTransformer(args.model, device="cpu")
    tokens = sum(
        len(ids)
        for ids in model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)[
            "input_ids"
        ]
    )
    model.encode(texts[: args.batch], batch_size=args.batch)  # warm-up

    def torch_round():
        start = time.perf_counter()
        with torch.inference_mode():
            for i in range(0, len(texts), args.batch):
                model.encode(texts[i : i + args.batch], batch_size=args.batch)
        return time.perf_counter() - start

    info = {}

    def trawl_round(precision):
        cmd = [str(exe), tmp.name, "--batch", str(args.batch), "--rounds", "1"]
        cmd += ["--precision", precision] + (["--path", args.path] if args.path else [])
        out = json.loads(
            subprocess.run(cmd, env=trawl_env, check=True, capture_output=True, text=True).stdout
        )
        info.update(cpu=out["cpu"], path=out["path"])
        return out["seconds"]

    best = {"torch": float("inf"), **{p: float("inf") for p in precisions}}
    for r in range(args.rounds):
        best["torch"] = min(best["torch"], torch_round())
        for p in precisions:
            best[p] = min(best[p], trawl_round(p))
        print(
            f"round {r + 1}: " + ", ".join(f"{k} {v:.2f}s" for k, v in best.items()),
            file=sys.stderr,
        )
    os.unlink(tmp.name)

    n = len(texts)
    print(f"CPU: {info['cpu']}")
    print(f"trawl path: {info['path']}; PyTorch kernels: {torch.backends.cpu.get_cpu_capability()}")
    print(
        f"{n} texts, {tokens} tokens (~{tokens / n:.0f}/text), batch {args.batch}, "
        f"max length {model.max_seq_length}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), best of {args.rounds} rounds\n"
    )
    print("| engine | texts/s | tokens/s | vs sentence-transformers |")
    print("|---|---:|---:|---:|")
    rows = [("sentence-transformers (PyTorch fp32)", best["torch"])]
    rows += [(f"trawl ({p}, {info['path']})", best[p]) for p in precisions]
    for name, secs in rows:
        print(f"| {name} | {n / secs:,.1f} | {tokens / secs:,.0f} | {best['torch'] / secs:.2f}x |")


if __name__ == "__main__":
    main()
