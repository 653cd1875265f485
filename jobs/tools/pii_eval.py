"""Evaluate PII detection on a labelled JSONL set, with detect-secrets as a baseline.

    codemill eval-pii tests/data/pii_eval.jsonl [--model-path DIR] [--json OUT]

Each line: {"id", "content", "spans": [{"start", "end", "type"}], optional "path", "negative"}.

Scoring (codemill): a predicted span is a true positive when it overlaps a labelled span of
the same type; precision = matching predictions / predictions, recall = labelled spans found /
labelled spans, per type. False positives on negative records (no labelled span) are listed by
record id, type and detector — never the text.

Baseline: detect-secrets (Yelp, default plugin set, installed version) scans each snippet as a
file named like the record's `path`. It reports lines, not character spans, so KEY/PASSWORD
are compared line-level for both tools: a finding counts when it is on a line covered by a
labelled span of the same type. Type mapping: BasicAuthDetector → PASSWORD; KeywordDetector →
PASSWORD when its line names a password (pass/pwd), else KEY; every other plugin → KEY. A
type-agnostic "SECRET" row (KEY ∪ PASSWORD) is printed too, fair to the baseline's coarse types.
"""
from __future__ import annotations

import json
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

try:  # jobs/core/ (the layout being moved in) or jobs/ (before)
    from jobs.core.stage import UserError
except ImportError:  # pragma: no cover
    from jobs.stage import UserError

RULE_TYPES = ("EMAIL", "IP_ADDRESS", "KEY", "PASSWORD")


def pii_config(path: str | None = None) -> dict:
    """The pii: section of configs/pipeline.yaml (merged with `path`) as a plain dict, from
    either config loader (the typed PipelineConfig of jobs/core/config.py or the older dict)."""
    import dataclasses
    try:
        from jobs.core.config import load_config
    except ImportError:  # the layout before jobs/core/
        from jobs.config import load_config
    cfg = load_config(path)
    section = getattr(cfg, "pii", None)
    if section is None and isinstance(cfg, dict):
        section = cfg.get("pii")
    if dataclasses.is_dataclass(section):
        section = dataclasses.asdict(section)
    return dict(section or {})


@dataclass
class Counts:
    predicted: int = 0
    matched_pred: int = 0
    gold: int = 0
    matched_gold: int = 0

    @property
    def precision(self) -> float:
        return self.matched_pred / self.predicted if self.predicted else (1.0 if not self.gold else 0.0)

    @property
    def recall(self) -> float:
        return self.matched_gold / self.gold if self.gold else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Report:
    name: str
    unit: str
    by_type: dict[str, Counts] = field(default_factory=dict)
    negative_fps: list[tuple[str, str, str]] = field(default_factory=list)  # (record id, type, detector)

    def counts(self, t: str) -> Counts:
        return self.by_type.setdefault(t, Counts())


def load_dataset(path: str | Path, id_prefix: str | None = None) -> list[dict]:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"dataset not found: {p}")
    records = []
    for n, line in enumerate(p.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            content, spans = rec["content"], rec.get("spans", [])
            for s in spans:
                if not (0 <= int(s["start"]) < int(s["end"]) <= len(content)) or not s.get("type"):
                    raise ValueError
        except (ValueError, KeyError, TypeError):
            raise UserError(f"{p}: line {n} is not a labelled record "
                            '({"content": str, "spans": [{"start", "end", "type"}]})') from None
        rec.setdefault("id", f"line-{n}")
        records.append(rec)
    if id_prefix:
        records = [r for r in records if str(r["id"]).startswith(id_prefix)]
    if not records:
        raise UserError(f"{p}: no records" + (f" with an id starting with {id_prefix!r}" if id_prefix else ""))
    return records


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def score_spans(name: str, records: list[dict], predictions: list[list], types=RULE_TYPES) -> Report:
    """Span-level scores. predictions[i]: objects with start, end, type, detector."""
    report = Report(name, "span (same type, overlapping)")
    for rec, preds in zip(records, predictions):
        gold = [(s["start"], s["end"], s["type"]) for s in rec["spans"]]
        for t in types:
            c = report.counts(t)
            g = [x for x in gold if x[2] == t]
            p = [x for x in preds if x.type == t]
            c.gold += len(g)
            c.predicted += len(p)
            c.matched_gold += sum(any(_overlaps((x.start, x.end), y[:2]) for x in p) for y in g)
            c.matched_pred += sum(any(_overlaps((x.start, x.end), y[:2]) for y in g) for x in p)
        if not gold:
            report.negative_fps.extend((rec["id"], x.type, x.detector) for x in preds)
    return report


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def score_lines(name: str, records: list[dict], line_preds: list[set[tuple[int, str]]],
                types=("KEY", "PASSWORD")) -> Report:
    """Line-level scores for KEY/PASSWORD and the type-agnostic SECRET. line_preds[i]: {(line, type)}."""
    report = Report(name, "line (same type)")
    for rec, preds in zip(records, line_preds):
        text = rec["content"]
        gold = [(_line_of(text, s["start"]), _line_of(text, s["end"] - 1), s["type"]) for s in rec["spans"]
                if s["type"] in types]
        for t in (*types, "SECRET"):
            c = report.counts(t)
            g = [x for x in gold if t == "SECRET" or x[2] == t]
            p = {ln for ln, pt in preds if t == "SECRET" or pt == t}
            c.gold += len(g)
            c.predicted += len(p)
            c.matched_gold += sum(any(lo <= ln <= hi for ln in p) for lo, hi, _ in g)
            c.matched_pred += sum(any(lo <= ln <= hi for lo, hi, _ in g) for ln in p)
        if not rec["spans"]:
            report.negative_fps.extend((rec["id"], pt, "detect-secrets") for _, pt in sorted(preds))
    return report


def codemill_predictions(records: list[dict], model_path: str | None = None, config: dict | None = None) -> list[list]:
    from udfs import pii
    cfg = config or {}
    threshold = float(cfg.get("entropy_threshold", 3.0))
    preds = [pii.detect_rules(r["content"], r.get("path"), threshold) for r in records]
    if model_path:
        from udfs.pii_model import get_detector
        detector = get_detector(model_path, tuple(cfg.get("model_types", ["NAME"])),
                                bool(cfg.get("redact_usernames", False)))
        model = detector.detect_batch([r["content"] for r in records])
        preds = [pii.merge_spans(a + b) for a, b in zip(preds, model)]
    return preds


_PASSWORD_LINE = re.compile(r"(?i)pass|pwd")


def detect_secrets_predictions(records: list[dict]) -> list[set[tuple[int, str]]]:
    """Run detect-secrets (default settings: all its plugins and filters) on each snippet."""
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    out = []
    with tempfile.TemporaryDirectory(prefix="codemill-eval-") as tmp, default_settings():
        for i, rec in enumerate(records):
            name = Path(rec.get("path") or "snippet.txt").name
            f = Path(tmp) / str(i) / name
            f.parent.mkdir()
            f.write_text(rec["content"], "utf-8")
            collection = SecretsCollection(root=str(f.parent))
            collection.scan_file(name)
            lines = rec["content"].split("\n")
            found = set()
            for _, secret in collection:
                line = lines[secret.line_number - 1] if 0 < secret.line_number <= len(lines) else ""
                if secret.type == "Basic Auth Credentials":
                    t = "PASSWORD"
                elif secret.type == "Secret Keyword":
                    t = "PASSWORD" if _PASSWORD_LINE.search(line) else "KEY"
                else:
                    t = "KEY"
                found.add((secret.line_number, t))
            out.append(found)
    return out


def format_report(report: Report, types) -> str:
    rows = [f"{report.name} — unit: {report.unit}",
            f"  {'type':<11} {'gold':>5} {'pred':>5} {'precision':>9} {'recall':>7} {'F1':>6}"]
    for t in types:
        c = report.by_type.get(t)
        if c is None:
            continue
        rows.append(f"  {t:<11} {c.gold:>5} {c.predicted:>5} {c.precision:>9.3f} {c.recall:>7.3f} {c.f1:>6.3f}")
    fps = report.negative_fps
    rows.append(f"  false positives on negative records: {len(fps)}"
                + (" — " + ", ".join(f"{i}:{t}({d})" for i, t, d in fps[:30]) + (" …" if len(fps) > 30 else "")
                   if fps else ""))
    return "\n".join(rows)


def evaluate(dataset: str | Path, model_path: str | None = None, config: dict | None = None,
             baseline: bool = True, id_prefix: str | None = None) -> dict:
    """Scores for codemill (span-level and line-level) and detect-secrets (line-level)."""
    from udfs.pii import merge_spans  # noqa: F401  (import check before the long part)
    records = load_dataset(dataset, id_prefix)
    preds = codemill_predictions(records, model_path, config)
    types = RULE_TYPES + (("NAME", "USERNAME") if model_path else ())
    spans = score_spans("codemill", records, preds, types)
    line_preds = [{(_line_of(r["content"], p.start), p.type) for p in ps if p.type in ("KEY", "PASSWORD")}
                  for r, ps in zip(records, preds)]
    # a PEM block spans several lines: count it on each (as its labelled span does)
    lines_cm = score_lines("codemill", records, line_preds)
    result = {"records": len(records), "negatives": sum(1 for r in records if not r["spans"]),
              "codemill_spans": spans, "codemill_lines": lines_cm, "types": types}
    if baseline:
        result["detect_secrets_lines"] = score_lines("detect-secrets (baseline)", records,
                                                     detect_secrets_predictions(records))
    return result


def print_evaluation(result: dict, dataset) -> None:
    print(f"PII evaluation on {dataset}: {result['records']} records, {result['negatives']} negatives")
    print()
    print(format_report(result["codemill_spans"], result["types"]))
    print()
    print(format_report(result["codemill_lines"], ("KEY", "PASSWORD", "SECRET")))
    if "detect_secrets_lines" in result:
        print()
        print(format_report(result["detect_secrets_lines"], ("KEY", "PASSWORD", "SECRET")))
        a, b = result["codemill_lines"].by_type["KEY"], result["detect_secrets_lines"].by_type["KEY"]
        print()
        print(f"KEY F1 (line-level): codemill {a.f1:.3f} vs detect-secrets {b.f1:.3f}")


def as_json(result: dict) -> dict:
    def rep(r: Report) -> dict:
        return {"unit": r.unit, "negative_false_positives": len(r.negative_fps),
                "by_type": {t: {"gold": c.gold, "predicted": c.predicted, "precision": round(c.precision, 4),
                                "recall": round(c.recall, 4), "f1": round(c.f1, 4)} for t, c in r.by_type.items()}}
    return {"records": result["records"], "negatives": result["negatives"],
            **{k: rep(v) for k, v in result.items() if isinstance(v, Report)}}


# ---------------------------------------------------------------------------------------
# The real-file set (benchmarks/pii_evalset.py, issue 20): kinds, families, look-alikes
# ---------------------------------------------------------------------------------------
# A gold value counts as found when a prediction of the same class overlaps it: secrets are
# one class (a password redacted as <KEY> is still gone), EMAIL, IP_ADDRESS and NAME one
# each. For codemill spans a second figure counts "partial" finds: overlapped but not fully
# covered, i.e. part of the value would survive redaction. detect-secrets reports lines, so
# its predictions are whole lines of class SECRET (generous to it: a reported line counts as
# finding every secret on it, and as flagging every look-alike on it).
KINDS = ("api_key", "aws_secret", "password", "private_key", "token", "email", "ip", "name")
SECRET_KIND_SET = frozenset(("api_key", "aws_secret", "password", "private_key", "token"))
_CLASS = {"KEY": "SECRET", "PASSWORD": "SECRET", "SECRET": "SECRET", "EMAIL": "EMAIL", "IP_ADDRESS": "IP_ADDRESS",
          "NAME": "NAME", "USERNAME": "USERNAME"}


def is_real_set(records: list[dict]) -> bool:
    return bool(records) and all("family" in r and "lookalikes" in r for r in records)


@dataclass
class KindCounts:
    gold: int = 0
    found: int = 0
    partial: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else float("nan")


@dataclass
class SystemScores:
    name: str
    kinds: dict = field(default_factory=dict)          # kind -> KindCounts
    families: dict = field(default_factory=dict)       # family -> {"secrets": KindCounts, "pii": KindCounts, ...}
    lookalikes: dict = field(default_factory=dict)     # look-alike kind -> [total, kept]
    fam_lookalikes: dict = field(default_factory=dict)  # family -> [total, kept]
    predictions: int = 0
    false_positives: int = 0                            # predictions overlapping no gold value
    fp_on_lookalikes: int = 0
    fp_by_family: Counter = field(default_factory=Counter)
    fp_by_detector: Counter = field(default_factory=Counter)
    handles: frozenset = frozenset()                    # entity classes this system predicts at all

    def kind(self, k: str) -> KindCounts:
        return self.kinds.setdefault(k, KindCounts())


def line_spans(text: str, lines: set[int]) -> list[tuple[int, int]]:
    """Character spans of the given 1-based line numbers."""
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    out = []
    for ln in sorted(lines):
        if 0 < ln <= len(starts):
            s = starts[ln - 1]
            e = starts[ln] - 1 if ln < len(starts) else len(text)
            out.append((s, max(e, s + 1)))
    return out


def score_real(name: str, records: list[dict], predictions: list[list], handles=("SECRET", "EMAIL", "IP_ADDRESS", "NAME")
               ) -> SystemScores:
    """predictions[i]: objects with start, end, type (and detector) for records[i]."""
    sc = SystemScores(name, handles=frozenset(handles))
    for rec, preds in zip(records, predictions):
        fam = rec["family"]
        fs = sc.families.setdefault(fam, {"secrets": KindCounts(), "pii": KindCounts()})
        pcls = [(p.start, p.end, _CLASS.get(p.type, p.type), getattr(p, "detector", "")) for p in preds]
        for g in rec["spans"]:
            k, gcls = g["kind"], _CLASS[g["type"]]
            hits = [(s, e) for s, e, c, _ in pcls if c == gcls and s < g["end"] and g["start"] < e]
            covered = _covered(hits, g["start"], g["end"])
            for counts in (sc.kind(k), fs["secrets"] if k in SECRET_KIND_SET else fs["pii"]):
                counts.gold += 1
                counts.found += bool(hits)
                counts.partial += bool(hits) and not covered
        fl = sc.fam_lookalikes.setdefault(fam, [0, 0])
        for la in rec["lookalikes"]:
            flagged = any(s < la["end"] and la["start"] < e for s, e, _, _ in pcls)
            tot = sc.lookalikes.setdefault(la["kind"], [0, 0])
            tot[0] += 1
            tot[1] += not flagged
            fl[0] += 1
            fl[1] += not flagged
        for s, e, c, det in pcls:
            sc.predictions += 1
            if any(s < g["end"] and g["start"] < e for g in rec["spans"]):
                continue
            sc.false_positives += 1
            sc.fp_by_family[fam] += 1
            sc.fp_by_detector[det or c] += 1
            sc.fp_on_lookalikes += any(s < la["end"] and la["start"] < e for la in rec["lookalikes"])
    return sc


def _covered(hits: list[tuple[int, int]], start: int, end: int) -> bool:
    pos = start
    for s, e in sorted(hits):
        if s > pos:
            return False
        pos = max(pos, e)
        if pos >= end:
            return True
    return pos >= end


def detect_secrets_line_predictions(records: list[dict]) -> list[list]:
    """detect-secrets' reported lines as SECRET spans (whole lines)."""
    from udfs.pii import Span
    out = []
    for rec, found in zip(records, detect_secrets_predictions(records)):
        lines = {ln for ln, _ in found}
        out.append([Span(s, e, "SECRET", "detect-secrets") for s, e in line_spans(rec["content"], lines)])
    return out


def _pct(x: float) -> str:
    return "   —  " if x != x else f"{x:6.3f}"


def format_real(scores: list[SystemScores], records: list[dict], title: str) -> str:
    """Tables by kind, by family and by look-alike kind: counts and rates, never a value."""
    rows = [title, ""]
    w = max(14, *(len(s.name) for s in scores)) + 1
    rows.append(f"  {'recall by type':<15}{'gold':>6} " + "".join(f"{s.name:>{w}}" for s in scores))
    for k in KINDS:
        g = scores[0].kinds.get(k, KindCounts()).gold
        if not g:
            continue
        cls = "SECRET" if k in SECRET_KIND_SET else {"email": "EMAIL", "ip": "IP_ADDRESS", "name": "NAME"}[k]
        cells = []
        for s in scores:
            c = s.kinds.get(k, KindCounts())
            cells.append(f"{'—':>{w}}" if cls not in s.handles else f"{c.recall:>{w}.3f}")
        rows.append(f"  {k:<15}{g:>6} " + "".join(cells))
    partial = {s.name: sum(c.partial for c in s.kinds.values()) for s in scores if s.name != "detect-secrets"}
    rows.append("  found only in part (part of the value would survive redaction): "
                + ", ".join(f"{n} {v}" for n, v in partial.items()))
    rows.append("")
    rows.append(f"  {'look-alikes kept':<15}{'total':>6} " + "".join(f"{s.name:>{w}}" for s in scores))
    kinds = sorted(scores[0].lookalikes)
    for k in kinds:
        t = scores[0].lookalikes[k][0]
        rows.append(f"  {k:<15}{t:>6} " + "".join(f"{s.lookalikes[k][1] / t:>{w}.3f}" for s in scores))
    tot = sum(scores[0].lookalikes[k][0] for k in kinds)
    if tot:
        rows.append(f"  {'all':<15}{tot:>6} " + "".join(
            f"{sum(s.lookalikes[k][1] for k in kinds) / tot:>{w}.3f}" for s in scores))
    rows.append("")
    rows.append("  false positives (predictions overlapping no planted value; of them on look-alikes): "
                + ", ".join(f"{s.name} {s.false_positives} ({s.fp_on_lookalikes})" for s in scores))
    for s in scores:
        if s.fp_by_detector:
            rows.append(f"    {s.name} by detector: " + ", ".join(f"{d} {n}" for d, n in s.fp_by_detector.most_common()))
    rows.append("")
    n_by_fam = Counter(r["family"] for r in records)
    head = "".join(f"{s.name[:w - 1]:>{w}}" for s in scores)
    rows.append(f"  by family: secret recall | other PII recall (email, ip, name) | look-alikes kept")
    rows.append(f"  {'family':<10}{'recs':>5} {'secrets':>7} " + head + f" {'pii':>5} " + head
                + f" {'looks':>5} " + head)
    for fam in sorted(n_by_fam):
        f0 = scores[0].families.get(fam, {})
        sg, pg = f0.get("secrets", KindCounts()).gold, f0.get("pii", KindCounts()).gold
        lt = scores[0].fam_lookalikes.get(fam, [0, 0])[0]
        cells_s = "".join(f"{s.families[fam]['secrets'].recall:>{w}.3f}" if sg else f"{'—':>{w}}" for s in scores)
        cells_p = "".join(f"{'—':>{w}}" if not pg or not (s.handles - {'SECRET'})
                          else f"{s.families[fam]['pii'].recall:>{w}.3f}" for s in scores)
        cells_l = "".join(f"{s.fam_lookalikes[fam][1] / lt:>{w}.3f}" if lt else f"{'—':>{w}}" for s in scores)
        rows.append(f"  {fam:<10}{n_by_fam[fam]:>5} {sg:>7} " + cells_s + f" {pg:>5} " + cells_p + f" {lt:>5} " + cells_l)
    return "\n".join(rows)


def real_as_json(scores: list[SystemScores]) -> dict:
    out = {}
    for s in scores:
        out[s.name] = {
            "recall": {k: {"gold": c.gold, "found": c.found, "partial": c.partial,
                           "recall": None if c.gold == 0 else round(c.recall, 4)} for k, c in s.kinds.items()},
            "lookalikes_kept": {k: {"total": t, "kept": kept} for k, (t, kept) in s.lookalikes.items()},
            "families": {f: {part: {"gold": c.gold, "found": c.found} for part, c in d.items()}
                         for f, d in s.families.items()},
            "false_positives": s.false_positives, "false_positives_on_lookalikes": s.fp_on_lookalikes,
            "predictions": s.predictions}
    return out


def evaluate_real(records: list[dict], model_path: str | None = None, config: dict | None = None,
                  baseline: bool = True) -> dict[str, list[SystemScores]]:
    """Scores per split ("tune", "holdout", or "all") of a real-file set: the rules, the rules
    merged with the model when a model is given, and detect-secrets."""
    from udfs import pii
    cfg = config or {}
    threshold = float(cfg.get("entropy_threshold", 3.0))
    detector = None
    if model_path:
        from udfs.pii_model import get_detector
        detector = get_detector(model_path, tuple(cfg.get("model_types") or ["NAME"]),
                                bool(cfg.get("redact_usernames", False)))
    out = {}
    for split in sorted({r.get("split", "all") for r in records}):
        recs = [r for r in records if r.get("split", "all") == split]
        rules = [pii.detect_rules(r["content"], r.get("path"), threshold) for r in recs]
        systems = [score_real("rules", recs, rules)]
        if detector is not None:
            model = detector.detect_batch([r["content"] for r in recs])
            systems.append(score_real("rules+model", recs, [pii.merge_spans(a + b) for a, b in zip(rules, model)]))
        if baseline:
            systems.append(score_real("detect-secrets", recs, detect_secrets_line_predictions(recs),
                                      handles=("SECRET",)))
        out[split] = systems
    return out
