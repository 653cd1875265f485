"""Training-document formatting (docs/recipe.md §1.5, §7.1, §7.3). No Spark here.

* StarCoder file-level format: each file is one document, optionally prefixed with
  `<reponame>`name, `<filename>`path, `<gh_stars>`bucket — each independently with
  probability 0.2 — and a newline after the prefix when any was added.
* StarCoder2 repository format: all files of a repository in one document, file order
  shuffled; with probability 0.5 `<repo_name>`name`<file_sep>`path\\ncode`<file_sep>`…,
  otherwise `<file_sep>`code`<file_sep>`code….
* Jupyter notebooks (.ipynb) in the structured format: `<jupyter_start>` then
  `<jupyter_text>`markdown`<jupyter_code>`code`<jupyter_output>`output per triplet.
* Every document ends with `<|endoftext|>`.

Randomness is seeded per file / per repository from (seed, id), so a rerun with the same
seed produces the same documents whatever the partitioning.
"""
from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from dataclasses import dataclass

EOD = "<|endoftext|>"

# docs/recipe.md §7.2: the 19 StarCoder special tokens, ids 0–18 in this order.
STARCODER_SPECIAL_TOKENS = (
    EOD, "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>", "<filename>", "<gh_stars>",
    "<issue_start>", "<issue_comment>", "<issue_closed>", "<jupyter_start>", "<jupyter_text>",
    "<jupyter_code>", "<jupyter_output>", "<empty_output>", "<commit_before>", "<commit_msg>",
    "<commit_after>", "<reponame>",
)
# docs/recipe.md §1.9: StarCoder2 pull-request tokens.
PR_TOKENS = (
    "<pr>", "<pr_status>", "<repo_name>", "<pr_is_merged>", "<pr_base>", "<pr_file>", "<pr_base_code>",
    "<pr_diff>", "<pr_diff_hunk>", "<pr_comment>", "<pr_event_id>", "<pr_review>", "<pr_review_state>",
    "<pr_review_comment>", "<pr_in_reply_to_review_id>", "<pr_in_reply_to_comment_id>",
    "<pr_diff_hunk_comment_line>",
)
# docs/recipe.md §5.1 / §7.3: PII placeholders the pii stage writes into content; they are tokens
# and stay in the text.
PII_PLACEHOLDERS = ("<NAME>", "<EMAIL>", "<KEY>", "<PASSWORD>")
# docs/recipe.md §7.3: StarCoder2 additions (order kept, duplicates of earlier tokens dropped).
STARCODER2_TOKENS = ("<repo_name>", "<file_sep>", "<jupyter_script>", "<code_to_intermediate>",
                     "<intermediate_to_code>") + PR_TOKENS + PII_PLACEHOLDERS


def special_tokens() -> list[str]:
    """Every reserved token: §7.2 first (ids 0–18), then §7.3, each once."""
    out: list[str] = []
    for tok in STARCODER_SPECIAL_TOKENS + STARCODER2_TOKENS:
        if tok not in out:
            out.append(tok)
    return out


# Structural tokens must only appear where the formatter puts them: a literal "<file_sep>"
# or "<|endoftext|>" inside a source file would otherwise become a document boundary.
STRUCTURAL_TOKENS = tuple(t for t in special_tokens() if t not in PII_PLACEHOLDERS)
_STRUCTURAL_RE = re.compile("|".join(re.escape(t) for t in sorted(STRUCTURAL_TOKENS, key=len, reverse=True)))


def strip_structural_tokens(text: str) -> tuple[str, int]:
    """Remove special-token strings from raw text (as BigCode did for its tokenizer data,
    docs/recipe.md §9 "special-tokens-stripped"); returns the text and how many were removed."""
    return _STRUCTURAL_RE.subn("", text)


# ---- seeded randomness ---------------------------------------------------------------

def seeded_rng(seed: int, key: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


# ---- StarCoder file-level metadata (docs/recipe.md §7.1) ------------------------------------------

def stars_bucket(stars: int | None) -> str:
    """0 (none or 0), 1-10 (1–9), 10-100 (10–99), 100-1000 (100–999), 1000+."""
    if stars is None or stars <= 0:
        return "0"
    if stars < 10:
        return "1-10"
    if stars < 100:
        return "10-100"
    if stars < 1000:
        return "100-1000"
    return "1000+"


def file_document(content: str, repo_name: str, path: str, stars: int | None, rng: random.Random,
                  metadata_prob: float = 0.2) -> str:
    prefix = ""
    if rng.random() < metadata_prob:
        prefix += f"<reponame>{repo_name}"
    if rng.random() < metadata_prob:
        prefix += f"<filename>{path}"
    if rng.random() < metadata_prob:
        prefix += f"<gh_stars>{stars_bucket(stars)}"
    if prefix:
        prefix += "\n"
    return prefix + content + EOD


# ---- StarCoder2 repository format (docs/recipe.md §7.3) -------------------------------------------

@dataclass(frozen=True)
class RepoFile:
    file_id: str
    path: str
    content: str


def repo_document(repo_name: str, files: list[RepoFile], rng: random.Random,
                  metadata_prob: float = 0.5) -> tuple[str, list[str]]:
    """One document for a repository; returns (text, file_ids in document order).
    Files are ordered by file_id first, so the shuffle depends only on the seed."""
    ordered = sorted(files, key=lambda f: f.file_id)
    rng.shuffle(ordered)
    with_meta = rng.random() < metadata_prob
    parts = [f"<repo_name>{repo_name}"] if with_meta else []
    for f in ordered:
        parts.append(f"<file_sep>{f.path}\n{f.content}" if with_meta else f"<file_sep>{f.content}")
    return "".join(parts) + EOD, [f.file_id for f in ordered]


def majority_language(languages: list[str | None]) -> str | None:
    counts = Counter(lang for lang in languages if lang)
    if not counts:
        return None
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


# ---- Jupyter structured format (docs/recipe.md §1.5) ----------------------------------------------

NO_OUTPUT = "_____no_output_____"
MAX_OUTPUT_CHARS = 1000
_HTML_TAG = re.compile(r"<[^>]+>")


class NotebookError(ValueError):
    """Why a notebook gives no structured document (the message is the rejection detail)."""


def is_notebook(path: str) -> bool:
    return path.lower().endswith(".ipynb")


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src or "")


def _first_output_text(cell: dict) -> str:
    for out in cell.get("outputs") or []:
        if not isinstance(out, dict):
            continue
        if "text" in out:
            text = out["text"]
        elif isinstance(out.get("data"), dict) and "text/plain" in out["data"]:
            text = out["data"]["text/plain"]
        elif out.get("output_type") == "error":
            text = f"{out.get('ename', '')}: {out.get('evalue', '')}"
        else:
            text = ""
        text = "".join(text) if isinstance(text, list) else str(text)
        return text if text.strip() else NO_OUTPUT
    return NO_OUTPUT


def clean_markdown(text: str) -> str:
    """Markdown cleaned as in docs/recipe.md §1.5 step 2: HTML tags, newlines and '#' removed."""
    text = _HTML_TAG.sub("", text)
    text = text.replace("\r", " ").replace("\n", " ").replace("#", "")
    return re.sub(r"[ \t]+", " ", text).strip()


def notebook_triplets(raw: str) -> list[tuple[str, str, str]]:
    """(markdown, code, output) triplets of a notebook, or NotebookError saying why none."""
    try:
        nb = json.loads(raw)
    except (json.JSONDecodeError, TypeError):
        raise NotebookError("notebook is not valid JSON") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotebookError("notebook has no cells list")
    if "py" not in json.dumps(nb.get("metadata") or {}).lower():
        raise NotebookError("notebook metadata does not mention Python")
    # Step 1: non-empty markdown/code cells, consecutive cells of one type grouped.
    groups: list[list] = []  # [type, [sources], last output]
    for cell in nb["cells"]:
        if not isinstance(cell, dict):
            continue
        kind = cell.get("cell_type")
        if kind not in ("markdown", "code"):
            continue
        src = _source(cell)
        if not src.strip():
            continue
        output = _first_output_text(cell) if kind == "code" else None
        if groups and groups[-1][0] == kind:
            groups[-1][1].append(src)
            groups[-1][2] = output
        else:
            groups.append([kind, [src], output])
    # Step 2: a leading code group and a trailing markdown group are dropped.
    if groups and groups[0][0] == "code":
        groups = groups[1:]
    if groups and groups[-1][0] == "markdown":
        groups = groups[:-1]
    if not groups or len(groups) % 2:
        raise NotebookError("no markdown/code triplets")
    triplets = []
    for md, code in zip(groups[0::2], groups[1::2]):
        triplets.append((clean_markdown("\n".join(md[1])), "\n".join(code[1]), code[2]))
    return triplets


def render_output(output: str) -> str:
    if output == NO_OUTPUT:
        return "<empty_output>"
    if len(output) > MAX_OUTPUT_CHARS:
        return output[:MAX_OUTPUT_CHARS] + "[...]"
    return output


def jupyter_document(raw: str) -> str:
    parts = ["<jupyter_start>"]
    for markdown, code, output in notebook_triplets(raw):
        parts.append(f"<jupyter_text>{markdown}<jupyter_code>{code}<jupyter_output>{render_output(output)}")
    return "".join(parts) + EOD
