# ruff: noqa: RUF001  (the sentences are in many scripts, on purpose)
"""Writes two tiny random multilingual sentence-transformers models and their outputs.

The models have the shapes of the multilingual families (a SentencePiece Unigram
tokenizer with XLM-R's special tokens; an XLM-RoBERTa encoder, whose positions start
after the padding id, and a BERT encoder read with the same tokenizer, as
multilingual-e5-small and paraphrase-multilingual-MiniLM are), with random weights and
a vocabulary trained on a few sentences in eleven languages. They are small enough to
commit, and the tests check trawl's loading and forward pass against the vectors
transformers computes here.

Run once, in a virtualenv of its own (never a test dependency):

    python -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install "transformers==4.46.3" flax jax tokenizers numpy
    /tmp/refvenv/bin/python benches/embed/make_tiny_multilingual.py \
        crates/core/tests/fixtures

The vocabulary training is not bit-for-bit repeatable, so a rerun writes different
(equally valid) files: commit them together. transformers' Flax models are the reference (the same architecture code as its PyTorch
models, without the PyTorch install).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers.trainers import UnigramTrainer

SENTENCES = [
    "The committee approved the budget for the new library after a long debate.",
    "Rain is expected in the north this weekend, with clearer skies on Monday.",
    "Die Bibliothek öffnet am Montag wieder, nachdem das Dach repariert wurde.",
    "Der Zug nach München hat heute zwanzig Minuten Verspätung.",
    "La réunion du conseil municipal est reportée à jeudi prochain.",
    "Les étudiants ont présenté leurs travaux sur l'énergie solaire.",
    "El museo abre sus puertas gratis el primer domingo de cada mes.",
    "Los agricultores esperan una buena cosecha de aceitunas este año.",
    "Библиотека снова открыта после ремонта крыши.",
    "Поезд в Москву отправляется в восемь часов утра.",
    "المكتبة مفتوحة من الساعة التاسعة صباحا حتى الخامسة مساء.",
    "وصل القطار إلى المحطة بعد تأخير قصير بسبب الطقس.",
    "הספרייה פתוחה מחר משעה שמונה בבוקר.",
    "图书馆在屋顶修好以后重新开放了。",
    "明天北方有雨，周一天气转晴。",
    "図書館は屋根の修理のあと月曜日に再開します。",
    "富士山の近くの公園で桜が咲きました。",
    "도서관은 지붕 수리 후 월요일에 다시 문을 엽니다.",
    "내일 북쪽 지역에 비가 올 예정입니다.",
    "Η βιβλιοθήκη ανοίγει ξανά τη Δευτέρα.",
    "query: passage: what? when! (yes); no - 0 1 2 3 4 5 6 7 8 9 % & / 'a' \"b\"",
    "¿Qué? ¡Sí! «Да» 「はい」、？！",
]

CASES = [
    ("passage", "The library opens again on Monday after the roof was repaired."),
    ("passage", "Die Bibliothek öffnet am Montag wieder."),
    ("passage", "المكتبة مفتوحة من الساعة التاسعة صباحا."),
    ("passage", "図書館は月曜日に再開します。富士山の公園で桜が咲きました。"),
    ("passage", "图书馆重新开放了。"),
    ("passage", "도서관은 월요일에 다시 문을 엽니다."),
    ("passage", "Emoji and unseen scripts: ☃ ሰላም ᚠᚢᚦ, and numbers 3.14159."),
    ("passage", " ".join(SENTENCES[:6])),
    ("query", "when does the library open?"),
    ("query", "图书馆什么时候开放？"),
]

QUERY_PROMPT = "query: "
PASSAGE_PROMPT = "passage: "
MAX_POSITIONS = 66
PAD = 1


def tokenizer() -> Tokenizer:
    """A Unigram tokenizer laid out as XLM-R's tokenizer.json is."""
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace("  ", " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = UnigramTrainer(
        vocab_size=600,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
        unk_token="<unk>",
        shrinking_factor=0.75,
    )
    tok.train_from_iterator(SENTENCES + [t for _, t in CASES[:6]], trainer)
    tok.add_special_tokens(["<mask>"])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    return tok


def pytorch_names(params: dict[str, Any], prefix: str = "") -> dict[str, np.ndarray]:
    """Flax parameters under the names and layouts of the PyTorch checkpoint."""
    out: dict[str, np.ndarray] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(pytorch_names(value, f"{name}."))
            continue
        array = np.asarray(value, dtype=np.float32)
        if key == "kernel":
            out[f"{prefix}weight"] = np.ascontiguousarray(array.T)
        elif key in ("embedding", "scale"):
            out[f"{prefix}weight"] = array
        else:
            out[name] = array
    return out


def write_model(out: Path, family: str, tok: Tokenizer) -> None:
    """Writes one model directory and its reference vectors (`reference.json`)."""
    from transformers import BertConfig, FlaxBertModel, FlaxXLMRobertaModel, XLMRobertaConfig

    shape = {
        "vocab_size": tok.get_vocab_size(),
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 64,
        "max_position_embeddings": MAX_POSITIONS,
        "pad_token_id": PAD,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "hidden_act": "gelu",
        # Weights large enough that every input (each position among them) moves the
        # output well beyond the tests' tolerance.
        "initializer_range": 0.2,
    }
    if family == "xlm-roberta":
        config: Any = XLMRobertaConfig(type_vocab_size=1, **shape)
        model: Any = FlaxXLMRobertaModel(config, seed=7, add_pooling_layer=False)
        positions = MAX_POSITIONS - PAD - 1
    else:
        config = BertConfig(type_vocab_size=2, **shape)
        model = FlaxBertModel(config, seed=11, add_pooling_layer=False)
        positions = MAX_POSITIONS
    out.mkdir(parents=True, exist_ok=True)
    config.to_json_file(out / "config.json")
    save_file(pytorch_names(model.params), str(out / "model.safetensors"))
    tok.save(str(out / "tokenizer.json"))
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
        {
            "idx": 2,
            "name": "2",
            "path": "2_Normalize",
            "type": "sentence_transformers.models.Normalize",
        },
    ]
    (out / "modules.json").write_text(json.dumps(modules, indent=2) + "\n")
    (out / "1_Pooling").mkdir(exist_ok=True)
    pooling = {"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True}
    (out / "1_Pooling" / "config.json").write_text(json.dumps(pooling, indent=2) + "\n")
    # More than the positions allow, as some published configs say: the model's
    # positions are the limit.
    sbert = {"max_seq_length": 128, "do_lower_case": False}
    (out / "sentence_bert_config.json").write_text(json.dumps(sbert, indent=2) + "\n")
    prompts = {
        "prompts": {"query": QUERY_PROMPT, "passage": PASSAGE_PROMPT},
        "default_prompt_name": None,
    }
    (out / "config_sentence_transformers.json").write_text(json.dumps(prompts, indent=2) + "\n")

    cases = []
    for kind, text in CASES:
        prompt = QUERY_PROMPT if kind == "query" else PASSAGE_PROMPT
        ids = tok.encode(prompt + text).ids[:positions]
        if len(ids) == positions:
            ids[-1] = 2  # truncation keeps the closing </s>
        hidden = np.asarray(model(np.array([ids], dtype=np.int32)).last_hidden_state)[0]
        pooled = hidden.astype(np.float64).mean(axis=0)
        pooled /= np.linalg.norm(pooled)
        cases.append(
            {
                "kind": kind,
                "text": text,
                "ids": ids,
                "unknown": ids.count(3),
                "embedding": [round(float(x), 7) for x in pooled],
            }
        )
    check_sensitivity(model, family, cases)
    reference = {"family": family, "max_tokens": positions, "cases": cases}
    (out / "reference.json").write_text(json.dumps(reference, ensure_ascii=False, indent=1) + "\n")


def check_sensitivity(model: Any, family: str, cases: list[dict[str, Any]]) -> None:
    """Prints how far apart the vectors are, and how far off positions counted from 0
    (BERT's rule, wrong for XLM-R) would put them: both must exceed the tests' 1e-4."""
    vectors = np.array([c["embedding"] for c in cases])
    cosines = vectors @ vectors.T
    closest = float(np.max(cosines - 2 * np.eye(len(cases))))
    print(f"{family}: closest two cases at cosine {closest:.4f}")
    if family != "xlm-roberta":
        return
    ids = np.array([cases[0]["ids"]], dtype=np.int32)
    from_zero = np.arange(ids.shape[1], dtype=np.int32)[None, :]
    hidden = np.asarray(model(ids, position_ids=from_zero).last_hidden_state)[0]
    pooled = hidden.astype(np.float64).mean(axis=0)
    pooled /= np.linalg.norm(pooled)
    print(f"{family}: positions from 0 give cosine {float(pooled @ vectors[0]):.4f}")


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "crates/core/tests/fixtures")
    tok = tokenizer()
    write_model(root / "tiny-xlm-roberta", "xlm-roberta", tok)
    write_model(root / "tiny-multilingual-bert", "bert", tok)


if __name__ == "__main__":
    main()
