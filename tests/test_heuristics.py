"""Each filter heuristic at its boundaries (just under / just over) and each exemption. No Spark."""
from __future__ import annotations

import base64

import pytest

from jobs.core.config import load_config
from udfs import heuristics as h

RULES = load_config().filter


def check(text, ext="py"):
    return h.check(text, ext, RULES)


def code_lines(n_lines, width=40):
    line = ("value = compute(alpha, beta) + 1" * 10)[:width]
    return "\n".join([line] * n_lines) + "\n"


def test_ordinary_code_is_kept():
    v = check("def add(a, b):\n    return a + b\n")
    assert v.reason is None and v.metrics["line_count"] == 2 and v.metrics["max_line_length"] == 16


@pytest.mark.parametrize("n,reason", [(1000, None), (1001, h.MAX_LINE_LENGTH)])
def test_max_line_length_boundary(n, reason):
    text = "x = 1\n" * 50 + "a" * n + "\n"   # mean stays far below 100
    v = check(text)
    assert v.reason == reason
    if reason:
        assert v.detail == "1001 > 1000"


@pytest.mark.parametrize("width,reason", [(100, None), (101, h.AVG_LINE_LENGTH)])
def test_avg_line_length_boundary(width, reason):
    text = "\n".join(["ab cd " * 20][0][:width] for _ in range(20))
    v = check(text)
    assert v.metrics["avg_line_length"] == width
    assert v.reason == reason


@pytest.mark.parametrize("ext", ["md", "tex", "sql", "r", "asm", "markdown", "rst", "json"])
def test_long_line_exemptions(ext):
    text = "word " * 400 + "\n"           # one 2000-char line, mean 2000
    if ext == "json":
        text = '{"k": "' + "a b " * 1000 + '"}'
    v = check(text, ext)
    assert v.reason not in (h.MAX_LINE_LENGTH, h.AVG_LINE_LENGTH)
    assert check(text, "py").reason == h.MAX_LINE_LENGTH


def test_fsh_has_500_char_limit():
    assert check("a" * 500 + "\n" + "b\n" * 20, "fsh").reason is None
    assert check("a" * 501 + "\n" + "b\n" * 20, "fsh").reason == h.MAX_LINE_LENGTH


def test_alphanum_fraction_boundary():
    # 100 chars: 25 alphanumeric -> exactly 0.25 is kept; 24 -> dropped.
    kept = "a" * 25 + "-" * 74 + "\n"
    dropped = "a" * 24 + "-" * 75 + "\n"
    assert check(kept).metrics["alphanum_fraction"] == pytest.approx(0.25)
    assert check(kept).reason is None
    v = check(dropped)
    assert v.reason == h.ALPHANUM_FRACTION and v.detail == "0.240 < 0.25"


def test_alpha_fraction_only_for_listed_extensions():
    # 40% letters, the rest digits: alphanumeric is fine, alphabetic < 0.5.
    text = ("ab1 2 3\n" * 30)
    assert check(text, "json").reason in (h.ALPHA_FRACTION, h.JSON_YAML_SIZE)
    assert check(text, "py").reason is None
    body = '{"a": [\n' + ",\n".join(["1"] * 40) + "]}"   # mostly digits, within the size window
    v = check(body, "json")
    assert v.reason == h.ALPHA_FRACTION and v.detail.endswith("< 0.5")
    assert check(body, "yaml").reason == h.ALPHA_FRACTION


@pytest.mark.parametrize("letters,reason", [(25, None), (24, h.ALPHA_FRACTION)])
def test_alpha_fraction_025_boundary(letters, reason):
    text = "a" * letters + ("1." * 60)[:99 - letters] + "\n"   # 100 chars, alphanumeric >= 0.25
    assert check(text, "sv").reason == reason
    assert check(text, "c").reason is None


def test_json_yaml_size_window():
    def doc(n):
        return ('{"name": "' + "a" * (n - 12) + '"}')[:n]
    assert len(doc(50)) == 50
    assert check(doc(50), "json").reason is None
    assert check(doc(49), "json").reason == h.JSON_YAML_SIZE
    assert check(doc(49), "json").detail == "49 chars outside [50, 5000]"
    big = "key: value\n" * 500
    assert check(big[:5000], "yaml").reason is None
    assert check(big[:5001], "yml").reason == h.JSON_YAML_SIZE
    assert check(doc(49), "py").reason is None  # not a JSON/YAML extension


def test_xml_header_and_xslt_exemption():
    body = "\n<root>\n" + "  <item>hello world</item>\n" * 5 + "</root>\n"
    at_99 = " " * 85 + '<?xml version="1.0"?>' + body   # marker starts at offset 85, ends before 100
    after = " " * 87 + '<?xml version="1.0"?>' + body    # marker ends at offset 101: outside the window
    assert check(at_99, "xml").reason == h.XML_HEADER
    assert check(after, "xml").reason is None
    assert check('<?xml version="1.0"?>' + body, "xslt").reason is None
    assert check('<?xml version="1.0"?>' + body, "xsl").reason is None


def test_html_visible_text_rule():
    text = "<p>\n" + "Readable words for the page.\n" * 10 + "</p>"
    page = f"<html><body>\n{text}\n</body></html>"
    assert check(page, "html").reason is None
    scripty = "<html><script>\n" + "var x = 1;\n" * 200 + "</script><p>Hi there</p></html>"
    v = check(scripty, "html")
    assert v.reason == h.HTML_VISIBLE_TEXT and "ratio" in v.detail
    # > 100 visible chars is required even when the ratio is high
    short = "<p>" + "w" * 49 + "\n" + "w" * 50 + "</p>"   # visible text "w..w w..w": 100 chars
    long_ = "<p>" + "w" * 50 + "\n" + "w" * 50 + "</p>"   # 101 chars
    assert check(short, "html").reason == h.HTML_VISIBLE_TEXT
    assert check(long_, "html").reason is None
    assert check(scripty, "py").reason != h.HTML_VISIBLE_TEXT  # only for HTML


def test_html_visible_ratio_boundary():
    assert h.html_visible_text("<b>" + "a" * 200 + "</b>") == (200, 200 / 207)


@pytest.mark.parametrize("line", ["# This file is AUTO-GENERATED by protoc", "// Code generated ... DO NOT EDIT.",
                                  "/* autogenerated */", "# this file is generated by a tool"])
def test_auto_generated_markers(line):
    assert check(line + "\nx = 1\n").reason == h.AUTO_GENERATED


def test_auto_generated_only_first_five_lines():
    assert check("a = 1\n" * 4 + "# DO NOT EDIT\n").reason == h.AUTO_GENERATED
    assert check("a = 1\n" * 5 + "# DO NOT EDIT\n").reason is None


def test_encoded_data_long_run():
    blob = base64.b64encode(bytes(range(256)) * 4).decode()     # 1368 chars, one line
    text = "x = 1\n" * 400 + f"DATA = '{blob[:1024]}'\n"
    # the line is under the long-line limit only when short; use a file where lines stay < 1000
    v = check("x = 1\n" * 10 + "\n".join(blob[i:i + 76] for i in range(0, len(blob), 76)), "py")
    assert v.reason == h.ENCODED_DATA and "fraction" in v.detail
    assert check(text, "md").reason in (h.ENCODED_DATA, None)


@pytest.mark.parametrize("n,reason", [(1024, None), (1025, h.ENCODED_DATA)])
def test_encoded_longest_run_boundary(n, reason):
    # a single base64-alphabet run of n chars in a markdown file (no long-line limit), < 50% of the file
    run = ("Qk9N2a+/" * 200)[:n]
    text = "Some prose words here.\n" * 60 + run + "\n" + "More prose words.\n" * 60
    v = check(text, "md")
    assert v.metrics["encoded_max_run"] == n
    assert v.reason == reason


def test_encoded_hex_and_unicode_escapes():
    hexes = ", ".join(f"0x{i:02x}" for i in range(256))
    text = "static const unsigned char data[] = {\n" + hexes + "\n};\n"
    v = h.check(text, "md", RULES)
    assert v.reason == h.ENCODED_DATA
    escapes = "\\u0041" * 7
    assert h.encoded_runs(escapes, h.encoded_pattern()) == (0, 0) or h.encoded_runs(escapes, h.encoded_pattern())[1] < 42
    total, longest = h.encoded_runs("\\u0041" * 8, h.encoded_pattern())
    assert longest == 48


def test_encoded_fraction_boundary():
    run = "Qk9N2a+/" * 8  # 64-char base64 run per line
    mostly = "\n".join([run] * 10 + ["plain words here"] * 1)
    assert check(mostly, "md").reason == h.ENCODED_DATA
    half = "\n".join([run] * 2 + ["p" * 10 + " " + "q" * 10 + " " + "z" * 40 + " end words"] * 3)
    assert check(half, "md").metrics["encoded_fraction"] < 0.5
    assert check(half, "md").reason is None


def test_max_lines_boundary():
    assert check("a\n" * 100_000).reason is None
    v = check("a\n" * 100_001)
    assert v.reason == h.MAX_LINES and v.detail == "100001 lines > 100000"


def test_rule_order_first_rule_wins():
    # auto-generated AND one very long line: auto_generated is first.
    text = "# Code generated. DO NOT EDIT.\n" + "a" * 2000 + "\n"
    assert check(text).reason == h.AUTO_GENERATED
    # long line AND low alphanumeric fraction: max_line_length comes first.
    assert check("-" * 1500 + "\n").reason == h.MAX_LINE_LENGTH


def test_metrics_line_counting_matches_splitlines():
    for text in ["", "a", "a\n", "a\nbb\n\nccc", "a\r\nbb\r\n", "x" * 5 + "\n" * 3]:
        m = check(text).metrics
        lines = text.splitlines()
        assert m["line_count"] == len(lines), text
        assert m["max_line_length"] == (max(map(len, lines)) if lines else 0)


def test_batch_matches_single_and_unicode():
    texts = ["héllo wörld = 1\n", "日本語のテキスト\n", "…—…\n"]
    metrics, reasons, _ = h.evaluate(texts, ["py"] * 3, RULES)
    for i, t in enumerate(texts):
        assert metrics["alphanum_fraction"][i] == pytest.approx(sum(c.isalnum() for c in t) / len(t))
        assert metrics["alpha_fraction"][i] == pytest.approx(sum(c.isalpha() for c in t) / len(t))
    assert reasons[2] == h.ALPHANUM_FRACTION


def test_config_overrides_and_unknown_setting():
    rules = load_config(overrides={"filter": {"defaults": {"max_line_length": 10},
                                              "per_extension": {".go": {"max_line_length": None}}}}).filter
    assert h.check("a" * 11, "py", rules).reason == h.MAX_LINE_LENGTH
    assert h.check("a" * 11, "go", rules).reason is None
    assert rules.for_extension("go").alphanum_fraction == rules.defaults.alphanum_fraction  # the rest inherited
    with pytest.raises(ValueError, match=r"filter.defaults.max_line_lenght: unknown key; did you mean 'max_line_length'"):
        load_config(overrides={"filter": {"defaults": {"max_line_lenght": 10}}})
    with pytest.raises(ValueError, match=r"filter.per_extension.py.alpha_fraction: expected float"):
        load_config(overrides={"filter": {"per_extension": {"py": {"alpha_fraction": "high"}}}})


def test_every_rule_is_one_entry_read_by_the_settings_the_decision_and_the_limits():
    """RULES is the one list: ExtensionRules has one setting per rule, decide() names only
    rules of the list, and the limits a kept file satisfies name stored metric columns."""
    import dataclasses

    from schemas.tables import QUALITY_METRICS
    assert [f.name for f in dataclasses.fields(h.ExtensionRules)] == list(h.RULE_ORDER)
    assert list(h.METRIC_COLUMNS) == [f.name for f in QUALITY_METRICS]
    metric_names = set(h.METRIC_COLUMNS)
    for rule in h.RULES:
        if rule.limits:
            for metric, side, _limit in rule.limits(RULES.defaults, RULES):
                assert metric in metric_names and side in ("max", "min")
    assert set(RULES.limits("py")) == {r.name for r in h.RULES if r.limits}


def test_suggest_threshold():
    assert h.suggest_threshold(list(range(101)), 99) == pytest.approx(99.0)
    assert h.suggest_threshold([]) is None


# ---- the vectorized metrics against their plain definitions --------------------------------

def _reference_metrics(text: str, rules) -> dict:
    """The metrics of one text by their definitions, in plain Python (the batch code in
    udfs.heuristics.measure works on UTF-8 bytes with numpy and must agree)."""
    import re as _re
    lines = text.replace("\r\n", "\n").split("\n")
    line_count = 0 if not text else len(lines) - (1 if text.replace("\r\n", "\n").endswith("\n") else 0)
    chars = len(text)
    alnum = len(_re.sub(r"[^\w]|_", "", text))   # letters and digits of any script
    alpha = sum(c.isalpha() for c in text)
    enc = rules.encoded_data
    total, longest = h.encoded_runs(text, h.encoded_pattern(enc.base64_min_chars, enc.hex_min_bytes,
                                                              enc.unicode_min_escapes))
    return {"chars": chars, "line_count": line_count,
            "max_line_length": max(map(len, lines)) if text else 0,
            "avg_line_length": (sum(map(len, lines)) / line_count) if line_count else 0.0,
            "alphanum_fraction": alnum / chars if chars else 0.0, "alpha_fraction": alpha / chars if chars else 0.0,
            "encoded_fraction": total / chars if chars else 0.0, "encoded_max_run": longest}


def test_batch_metrics_agree_with_their_definitions_on_tricky_and_real_texts():
    from pathlib import Path
    b64 = base64.b64encode(bytes(range(256)) * 3).decode()
    texts = ["", "a", "\n", "\n\n", "a\n", "a\r\nbb\r\n", "x\ry\n", "caf\u00e9 na\u00efve\n\u65e5\u672c\u8a9e",
             "\U0001f600 emoji\r\n", "lines\nwithout\nend", f"key = '{b64}'\n", "0x00, 0x01, 0x02, 0x03, 0x04, 0x05, "
             "0x06, 0x07, 0x08\n", "\\u0041" * 10 + "\n" + "deadbeef" * 20, "a\x00b " + b64, "\t  \n \r\n"]
    corpus = Path(__file__).parent / "data" / "sample_corpus"
    texts += [p.read_bytes().decode("utf-8") for p in sorted(corpus.rglob("*")) if p.is_file()
              and p.stat().st_size < 64_000 and _utf8(p)]
    got = h.measure(texts, RULES)
    for i, text in enumerate(texts):
        want = _reference_metrics(text, RULES)
        for key, value in want.items():
            assert got[key][i] == pytest.approx(value), (key, text[:60])


def _utf8(path) -> bool:
    try:
        path.read_bytes().decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False
