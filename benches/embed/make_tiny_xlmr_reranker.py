"""Writes a tiny random XLM-RoBERTa cross-encoder and the scores transformers gives it.

Multilingual rerankers (bge-reranker-base, bge-reranker-v2-m3) are
`XLMRobertaForSequenceClassification` models: an XLM-R encoder whose positions start
after the padding id, and a head reading the `<s>` token through a dense layer, tanh
and an output projection (no pooler). This script builds one with random weights on
the tokenizer and shapes of the tiny XLM-R fixture (crates/core/tests/fixtures/
tiny-xlm-roberta), scores query-passage pairs with transformers (in one padded batch,
as trawl scores them), and writes the model directory with `reference.json`. The test
`crates/core/tests/rerank.rs` checks trawl's scores against them.

Run once, in a virtualenv of its own (never a test dependency):

    python -m venv /tmp/stvenv
    /tmp/stvenv/bin/pip install torch transformers safetensors tokenizers
    /tmp/stvenv/bin/python benches/embed/make_tiny_xlmr_reranker.py \
        crates/core/tests/fixtures
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer
from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

QUERY = "Wann öffnet die Bibliothek wieder?"
PASSAGES = [
    "Die Bibliothek öffnet am Montag wieder, nachdem das Dach repariert wurde.",
    "Der Zug nach München hat heute zwanzig Minuten Verspätung.",
    "The committee approved the budget for the new library after a long debate.",
    "図書館は月曜日に再開します。",
    "المكتبة تفتح يوم الاثنين.",
]


def main() -> None:
    fixtures = Path(sys.argv[1])
    base = fixtures / "tiny-xlm-roberta"
    out = fixtures / "tiny-xlm-roberta-reranker"
    out.mkdir(parents=True, exist_ok=True)
    config_dict = json.loads((base / "config.json").read_text())
    config_dict.update(
        architectures=["XLMRobertaForSequenceClassification"],
        num_labels=1,
        id2label={"0": "LABEL_0"},
        label2id={"LABEL_0": 0},
        # Room for a query and a passage together (the encoder fixture has 64).
        max_position_embeddings=130,
    )
    config = XLMRobertaConfig.from_dict(config_dict)
    torch.manual_seed(5)
    model = XLMRobertaForSequenceClassification(config).eval()
    model.save_pretrained(out, safe_serialization=True)
    shutil.copy(base / "tokenizer.json", out / "tokenizer.json")

    tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
    encodings = [tokenizer.encode(QUERY, passage) for passage in PASSAGES]
    width = max(len(e.ids) for e in encodings)
    pad = config.pad_token_id
    ids = torch.tensor([e.ids + [pad] * (width - len(e.ids)) for e in encodings])
    mask = torch.tensor([[1] * len(e.ids) + [0] * (width - len(e.ids)) for e in encodings])
    with torch.no_grad():
        scores = model(input_ids=ids, attention_mask=mask).logits[:, 0].tolist()
        # Each pair alone gives the same scores: padding is masked.
        alone = [model(input_ids=torch.tensor([e.ids])).logits[0, 0].item() for e in encodings]
    assert max(abs(a - b) for a, b in zip(scores, alone, strict=True)) < 1e-5
    reference = {"query": QUERY, "passages": PASSAGES, "scores": scores}
    (out / "reference.json").write_text(json.dumps(reference, ensure_ascii=False, indent=1))
    print(out, [round(s, 4) for s in scores])


if __name__ == "__main__":
    main()
