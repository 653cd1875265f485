"""PII model tier: a token-classification model in Hugging Face format (StarPII's label set,
docs/recipe.md §5.1/§5.3) run with transformers on batches of files. No Spark import: jobs/pii.py
calls `ModelDetector.detect_batch` from inside a pandas UDF, loading the model once per
Python worker (`get_detector` caches it per path).

This is the default back-end (pii.model_backend: transformers): it loads the model and its
own tokenizer directly from the folder (any tokenizer, StarPII's included) and runs batched
inference in 512-token windows (docs/recipe.md §5.3) in each worker. The other back-end runs the same
model exported to ONNX inside Spark NLP (udfs/pii_sparknlp.py); jobs/pii.py gives the
measured trade-off between the two.

Post-processing (docs/recipe.md §5.1): AMBIGUOUS is ignored; entities of ≤ 3 characters are ignored;
NAME only with ≥ 2 words; KEY only if longer than 8 characters and high-entropy; USERNAME is
ignored unless `redact_usernames` (StarCoder ignored it: handles in code are mostly
repository owners and public identifiers, and the model's USERNAME precision was lowest).
"""
from __future__ import annotations

from typing import Sequence

from udfs.pii import KEY, NAME, USERNAME, Span, shannon_entropy

STARPII_LABELS = ["O"] + [f"{p}-{t}" for t in ("AMBIGUOUS", "EMAIL", "IP_ADDRESS", "KEY", "NAME", "PASSWORD", "USERNAME")
                          for p in ("B", "I")]
WINDOW_TOKENS = 512  # docs/recipe.md §5.3: sliding window of 512 tokens, no overlap


def postprocess(text: str, entities: Sequence[tuple[int, int, str]], types: Sequence[str],
                redact_usernames: bool = False) -> list[Span]:
    """Apply docs/recipe.md §5.1's filters to raw (start, end, type) model entities."""
    keep = set(types) | ({USERNAME} if redact_usernames else set())
    spans = []
    for start, end, etype in entities:
        # trim whitespace and quotes the tokenizer may have glued on
        while start < end and text[start] in " \t\r\n\"'`":
            start += 1
        while end > start and text[end - 1] in " \t\r\n\"'`,;":
            end -= 1
        value = text[start:end]
        if etype not in keep or etype == "AMBIGUOUS" or len(value) <= 3:
            continue
        if etype == NAME and len(value.split()) < 2:
            continue
        if etype == KEY and (len(value) <= 8 or shannon_entropy(value) < 3.0):
            continue
        spans.append(Span(start, end, etype, "model"))
    return spans


def _label_type(label: str) -> tuple[str, str]:
    if label == "O" or "-" not in label:
        return "O", ""
    prefix, etype = label.split("-", 1)
    return prefix, etype


class ModelDetector:
    """Loads the model once; `detect_batch(texts)` returns spans per text."""

    def __init__(self, model_path: str, types: Sequence[str] = (NAME,), redact_usernames: bool = False,
                 batch_size: int = 16, max_tokens: int = WINDOW_TOKENS, device: str | None = None):
        import torch
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        if not getattr(self.tokenizer, "is_fast", False):
            raise ValueError("the PII model needs a fast tokenizer (offset mapping)")
        self.model = AutoModelForTokenClassification.from_pretrained(model_path).eval()
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device)
        self.id2label = {int(k): v for k, v in self.model.config.id2label.items()}
        self.types, self.redact_usernames = tuple(types), redact_usernames
        self.batch_size = batch_size
        self.max_tokens = min(max_tokens, getattr(self.model.config, "max_position_embeddings", max_tokens))

    def _windows(self, texts: Sequence[str]):
        """(text index, token offsets) per 512-token window, tokens without special tokens."""
        enc = self.tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True, truncation=False,
                             verbose=False)
        step = self.max_tokens - 2  # room for [CLS] and [SEP]
        for i, (ids, offsets) in enumerate(zip(enc["input_ids"], enc["offset_mapping"])):
            for s in range(0, len(ids), step):
                yield i, ids[s:s + step], offsets[s:s + step]

    def detect_batch(self, texts: Sequence[str]) -> list[list[Span]]:
        torch = self.torch
        raw: list[list[tuple[int, int, str]]] = [[] for _ in texts]
        windows = list(self._windows(texts))
        cls, sep, pad = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id, self.tokenizer.pad_token_id or 0
        for b in range(0, len(windows), self.batch_size):
            chunk = windows[b:b + self.batch_size]
            width = max(len(ids) for _, ids, _ in chunk) + 2
            input_ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for r, (_, ids, _) in enumerate(chunk):
                row = [cls] + list(ids) + [sep]
                input_ids[r, :len(row)] = torch.tensor(row)
                mask[r, :len(row)] = 1
            with torch.inference_mode():
                logits = self.model(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device)).logits
            preds = logits.argmax(-1).cpu().tolist()
            for r, (i, ids, offsets) in enumerate(chunk):
                labels = [self.id2label.get(p, "O") for p in preds[r][1:len(ids) + 1]]
                raw[i].extend(_group_entities(labels, offsets))
        return [postprocess(t, ents, self.types, self.redact_usernames) for t, ents in zip(texts, raw)]


def _group_entities(labels: Sequence[str], offsets: Sequence[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """BIO labels over tokens → (start, end, type) character spans (an I- continuing the same
    type extends the entity; a B- or a type change starts a new one)."""
    entities, cur = [], None
    for label, (start, end) in zip(labels, offsets):
        prefix, etype = _label_type(label)
        if prefix == "O" or start == end:
            if cur:
                entities.append(tuple(cur))
                cur = None
            continue
        if cur and prefix == "I" and etype == cur[2]:
            cur[1] = end
        else:
            if cur:
                entities.append(tuple(cur))
            cur = [start, end, etype]
    if cur:
        entities.append(tuple(cur))
    return entities


_DETECTORS: dict[tuple, ModelDetector] = {}


def get_detector(model_path: str, types: Sequence[str] = (NAME,), redact_usernames: bool = False,
                 batch_size: int = 16) -> ModelDetector:
    """One loaded model per (path, options) per process: Spark reuses Python workers, so
    each worker loads the model once, not once per batch."""
    key = (model_path, tuple(types), redact_usernames, batch_size)
    if key not in _DETECTORS:
        _DETECTORS[key] = ModelDetector(model_path, types, redact_usernames, batch_size)
    return _DETECTORS[key]
