"""Regenerate configs/languages.json from GitHub Linguist's language data.

    python scripts/generate_language_map.py [--version 9.5.0] [--out configs/languages.json]

Source: the npm package `linguist-languages` (a data-only mirror of Linguist's
languages.yml). The script fetches it with `npm pack`, loads it with node, and applies
the clean-up rules The Stack v1.1 applied to its Linguist-derived list (docs/recipe.md §1.1):
dropped ambiguous extensions, forced owners for clashing extensions, renames, added
languages, and Dockerfile/Makefile filename rules. Where Linguist (newer than the list
The Stack used) has clashes the recipe (docs/recipe.md §1.1) does not settle, codemill's own forced owners below
decide; every other clash is resolved only when exactly one candidate lists the extension
as its primary (first) extension, otherwise the extension is dropped as ambiguous (a file
with it gets `unknown_language`). The 36 excluded extensions of docs/recipe.md §1.4 are not
removed here: the select stage drops them with their own reason (`excluded_extension`).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "configs" / "languages.json"
DEFAULT_VERSION = "9.5.0"

# docs/recipe.md §1.1: ambiguous extensions The Stack v1.1 dropped entirely.
DROPPED_EXTENSIONS = [".asc", ".b", ".cgi", ".ch", ".cls", ".d", ".es", ".fcgi", ".fr", ".gml", ".gs", ".inc",
                      ".l", ".m", ".mod", ".moo", ".ms", ".n", ".ncl", ".nl", ".pluginspec", ".pp", ".pro",
                      ".sc", ".tst", ".v"]
DROPPED_EXTENSION_PREFIXES = [".sublime-", ".sublime_"]  # all Sublime Text config extensions
DROPPED_LANGUAGES = ["HyPhy"]
# docs/recipe.md §1.1: forced owners for clashing extensions (the ones the notebook names).
RECIPE_FORCED_OWNERS = {
    ".h": "C", ".hh": "C++", ".cp": "C++", ".cs": "C#", ".cake": "C#", ".cl": "OpenCL",
    ".f": "Fortran", ".for": "Fortran", ".fs": "F#", ".pl": "Perl", ".pm": "Perl", ".t": "Perl",
    ".r": "R", ".rs": "Rust", ".sql": "SQL", ".ts": "TypeScript", ".tsx": "TypeScript",
    ".nb": "Wolfram Language",  # Linguist renamed Mathematica to Wolfram Language
    ".php": "PHP", ".st": "Smalltalk", ".lisp": "Common Lisp", ".lsp": "Common Lisp", ".mm": "Objective-C++",
}
# codemill's own owners for clashes in the newer Linguist data that the recipe does not settle
# (the language a person expects for the extension; the other candidates are rare formats).
CODEMILL_FORCED_OWNERS = {
    ".json": "JSON", ".yaml": "YAML", ".yml": "YAML", ".html": "HTML", ".md": "Markdown",
    ".asm": "Assembly", ".bas": "Visual Basic 6.0", ".frm": "Visual Basic 6.0", ".frag": "GLSL",
    ".scm": "Scheme", ".lean": "Lean", ".ml": "OCaml", ".m4": "M4", ".prc": "SQL", ".ddl": "SQL",
    ".s": "Assembly", ".sol": "Solidity", ".spec": "RPM Spec", ".rpy": "Python", ".sch": "Scheme",
    ".sls": "Scheme", ".shader": "GLSL", ".re": "Reason", ".yy": "Yacc", ".vba": "VBA", ".plt": "Gnuplot",
    ".trigger": "Apex",
}
# docs/recipe.md §1.1 renames (TSQL joins the SQL family too: Linguist added it after The Stack's list).
RENAMES = {"M4Sugar": "M4", "PLSQL": "SQL", "PLpgSQL": "SQL", "SQLPL": "SQL", "TSQL": "SQL", "TSX": "TypeScript"}
# docs/recipe.md §1.1 additions missing from the source list (kept where Linguist still lacks them).
ADDED_EXTENSIONS = {".mpl": "Maple", ".oct": "Octave", ".wat": "WebAssembly", ".sol": "Solidity",
                    ".csd": "Csound Document", ".zig": "Zig", ".C": "C++", ".H": "C++"}
ADDED_FILENAMES = {"Dockerfile": "Dockerfile", "Makefile": "Makefile", "makefile": "Makefile",
                   "GNUmakefile": "Makefile", "CMakeLists.txt": "CMake", "Containerfile": "Dockerfile"}
# Linguist gives LICENSE, COPYING, README... to "Text"; The Stack assigned languages by
# extension (plus Dockerfile/Makefile names), so such files stay unknown_language here.
FILENAME_RULES_SKIPPED = {"Text"}
ADDED_TYPES = {"Maple": "programming", "Octave": "programming"}


def fetch_linguist(version: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", f"linguist-languages@{version}", "--silent"], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        tarball = next(Path(tmp).glob("linguist-languages-*.tgz"))
        subprocess.run(["tar", "xzf", tarball.name], cwd=tmp, check=True)
        index = Path(tmp) / "package" / "index.js"
        script = (f"import * as L from {json.dumps(index.as_uri())};"
                  "const o = {}; for (const [k, v] of Object.entries(L)) o[k] = v;"
                  "process.stdout.write(JSON.stringify(o));")
        out = subprocess.run(["node", "--input-type=module", "-e", script], check=True, capture_output=True)
        return json.loads(out.stdout)


def build_mapping(languages: dict, version: str) -> dict:
    owners: dict[str, list[str]] = defaultdict(list)
    primary: dict[str, str] = {}
    types: dict[str, str] = dict(ADDED_TYPES)
    filenames: dict[str, str] = {}
    for name, data in sorted(languages.items()):
        if name in DROPPED_LANGUAGES:
            continue
        target = RENAMES.get(name, name)
        types.setdefault(target, data.get("type", "programming"))
        exts = data.get("extensions", [])
        for i, ext in enumerate(exts):
            if target not in owners[ext]:
                owners[ext].append(target)
            if i == 0:
                primary.setdefault(ext, target)
        if target not in FILENAME_RULES_SKIPPED:
            for fn in data.get("filenames", []):
                filenames.setdefault(fn, target)
    filenames.update(ADDED_FILENAMES)
    for ext, lang in ADDED_EXTENSIONS.items():
        if lang not in owners[ext]:
            owners[ext].append(lang)
        types.setdefault(lang, "programming")

    extensions: dict[str, str] = {}
    ambiguous: dict[str, list[str]] = {}
    dropped: dict[str, list[str]] = {}
    forced = {**CODEMILL_FORCED_OWNERS, **ADDED_EXTENSIONS, **RECIPE_FORCED_OWNERS}
    for ext, candidates in sorted(owners.items()):
        if ext in DROPPED_EXTENSIONS or any(ext.startswith(p) for p in DROPPED_EXTENSION_PREFIXES):
            dropped[ext] = candidates
            continue
        if ext in forced:
            extensions[ext] = forced[ext]
            continue
        if len(candidates) == 1:
            extensions[ext] = candidates[0]
            continue
        firsts = [c for c in candidates if primary.get(ext) == c]
        if len(firsts) == 1:
            extensions[ext] = firsts[0]
        else:
            ambiguous[ext] = candidates
    used = sorted(set(extensions.values()) | set(filenames.values()))
    return {
        "_source": f"GitHub Linguist languages.yml via npm package linguist-languages@{version} "
                   "(https://www.npmjs.com/package/linguist-languages), cleaned per docs/recipe.md §1.1",
        "_generated_by": "scripts/generate_language_map.py",
        "_version": version,
        "_counts": {"extensions": len(extensions), "filenames": len(filenames), "languages": len(used),
                    "dropped_ambiguous_facts": len(dropped), "dropped_ambiguous_unresolved": len(ambiguous)},
        "extensions": extensions,
        "filenames": dict(sorted(filenames.items())),
        "dropped_extensions": sorted(dropped),
        "ambiguous_extensions": {k: v for k, v in sorted(ambiguous.items())},
        "types": {k: types.get(k, "programming") for k in used},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default=DEFAULT_VERSION, help="linguist-languages version (default %(default)s)")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--from-json", help="use an already exported languages JSON instead of npm")
    args = parser.parse_args(argv)
    languages = json.loads(Path(args.from_json).read_text()) if args.from_json else fetch_linguist(args.version)
    mapping = build_mapping(languages, args.version)
    Path(args.out).write_text(json.dumps(mapping, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}: {mapping['_counts']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
