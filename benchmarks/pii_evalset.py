"""The PII evaluation set built from real files (issue 20): real code, config and docs of
every language family codemill keeps, screened so that the only PII is what is planted, then
planted with secrets, emails, IPs and names the way each format writes them, and with
look-alikes (private and documentation IPs, versions, hashes, UUIDs, placeholders, decorators,
package specs) that must stay.

    .venv/bin/python benchmarks/pii_evalset.py --split holdout --out /tmp/holdout.jsonl
    .venv/bin/python benchmarks/pii_evalset.py --sample      # rewrites tests/data/pii_real_sample.jsonl

Five splits, disjoint in files (package lists of benchmarks/real_corpus.py), templates, key
names, person names, mail domains and value shapes:

* `tune`: corpus `main`, TUNE_* templates and pools; the rules were tuned on it.
* `dev`: corpus `holdout`, DEV_* templates and pools. It was the held-out split until the rules
  had been looked at on it; from then on it is a second tuning split (its records are drawn
  with the old held-out seed, so they are the records the earlier held-out figures came from).
* `dev2`: corpus `holdout2`, DEV2_* templates and pools: the second held-out split, rotated into
  tuning the same way once its figures had been read (drawn with its old seed name `holdout2`).
* `dev3`: corpus `holdout3`, DEV3_* templates and pools: the third held-out split (rounds 3-4),
  rotated into tuning in round 5 once its figures had been read (drawn with its old seed name
  `holdout3`).
* `holdout`: corpus `holdout4`, HOLDOUT_* templates and pools, written in round 5 before any
  rules result on it was seen and not changed after. The split the issue's targets are
  reported against; never tuned on (its misses are never printed).

`--source DIR` takes any folder with one sub-folder per package release instead (e.g. a
site-packages folder).

Screening (before planting, per window of real lines): a line is dropped when codemill's rules
fire on it, when detect-secrets (default plugins and filters) reports it, or when the
generator's own broad screen matches (anything email-like, any dotted quad, key/password
assignments, PEM markers, author/copyright lines: real names), so that planted values are the
only PII; the counts per screen and family are in the split's `stats`.

Each record (JSONL):
    {"id", "split", "family", "path", "source", "content",
     "spans": [{"start", "end", "type", "kind", "template"}],
     "lookalikes": [{"start", "end", "kind", "template"}]}
`type` is codemill's entity type (KEY, PASSWORD, EMAIL, IP_ADDRESS, NAME); `kind` the finer
secret type the issue's targets name (api_key, aws_secret, password, private_key, token, email,
ip, name). Every value is random (seeded): no real credential, no real person's address.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import re
import string
import sys
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SEED = 20250120
SPLITS = ("tune", "dev", "dev2", "dev3", "holdout")
# the real corpus of each split (benchmarks/real_corpus.py CORPORA)
SPLIT_CORPUS = {"tune": "main", "dev": "holdout", "dev2": "holdout2", "dev3": "holdout3", "holdout": "holdout4"}
# the name a split's random draws are seeded with: `dev`, `dev2` and `dev3` keep the seeds they had
# as the held-out split (so their records are the ones the earlier held-out figures came from)
SPLIT_SEED_NAME = {"tune": "tune", "dev": "holdout", "dev2": "holdout2", "dev3": "holdout3", "holdout": "holdout4"}
SAMPLE = ROOT / "tests" / "data" / "pii_real_sample.jsonl"

# ---------------------------------------------------------------------------------------
# Language families (the extensions udfs/languages.py keeps for each)
# ---------------------------------------------------------------------------------------
FAMILIES = {
    "python": (".py", ".pyi", ".pyx"),
    "js_ts": (".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".mts", ".cts"),
    "java": (".java", ".kt"),
    "c_cpp": (".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh"),
    "go": (".go",),
    "rust": (".rs",),
    "shell": (".sh", ".bash", ".zsh"),
    "config": (".yaml", ".yml", ".toml", ".ini", ".cfg", ".json", ".conf", ".properties"),
    "html_css": (".html", ".htm", ".css", ".scss", ".less", ".vue"),
    "markdown": (".md", ".markdown"),
    "rst": (".rst",),
    "text": (".txt",),
    "notebook": (".ipynb",),
}
EXT_FAMILY = {ext: fam for fam, exts in FAMILIES.items() for ext in exts}
CODE_FAMILIES = {"python", "js_ts", "java", "c_cpp", "go", "rust", "shell"}
# a family's templates: config files by their own syntax
CONFIG_SYNTAX = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".ini": "ini", ".cfg": "ini", ".conf": "ini",
                 ".properties": "ini", ".json": "json"}
STYLE_SYNTAX = {".css": "css", ".scss": "css", ".less": "css"}

KIND_TYPE = {"api_key": "KEY", "aws_secret": "KEY", "private_key": "KEY", "token": "KEY", "password": "PASSWORD",
             "email": "EMAIL", "ip": "IP_ADDRESS", "name": "NAME"}
SECRET_KINDS = ("api_key", "aws_secret", "password", "private_key", "token")
LOOKALIKE_KINDS = ("private_ip", "doc_ip", "version", "hash", "integrity", "uuid", "placeholder_email", "decorator",
                   "pkg_spec", "placeholder_secret", "public_key", "org_name", "digest", "data_uri")

ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
HEXL = "0123456789abcdef"


# ---------------------------------------------------------------------------------------
# Value pools, one per split (disjoint)
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pools:
    first: tuple
    last: tuple
    domains: tuple
    words: tuple
    key_names: tuple      # words of generic key names
    token_names: tuple
    pass_names: tuple
    token_vendors: tuple  # vendor token formats drawn for `token`
    password_styles: tuple
    orgs: tuple
    # look-alike values of the split's own (empty: the shared lists of gen_lookalike)
    placeholder_emails: tuple = ()
    pkg_specs: tuple = ()       # "name@{a}.{b}": {a} 0-20, {b} 0-9


TUNE_POOLS = Pools(
    first=("maria", "wei", "fatima", "lukas", "aiko", "carlos", "olga", "samir", "priya", "diego", "hannah", "yusuf",
           "ingrid", "kenji", "amara", "tomasz", "elena", "rafael", "sofia", "mehmet"),
    last=("garcia", "zhang", "khan", "müller", "tanaka", "silva", "ivanova", "haddad", "patel", "rossi", "novak",
          "okafor", "larsen", "dubois", "kowalski", "nguyen", "schmidt", "moreau", "van der berg", "o'connor"),
    domains=("gmail.com", "outlook.com", "protonmail.ch", "acme-corp.io", "univ-lyon1.fr", "cs.stanford.edu",
             "mail.ru", "yahoo.co.jp", "fastmail.fm", "startup.ai"),
    words=("sunflower", "dragon", "winter", "coffee", "rocket", "purple", "tiger", "harbor", "maple", "falcon"),
    key_names=(("api", "key"), ("stripe", "api", "key"), ("secret", "key"), ("client", "secret"), ("app", "secret"),
               ("openai", "api", "key"), ("maps", "api", "key"), ("encryption", "key"), ("signing", "key"),
               ("private", "api", "key")),
    token_names=(("github", "token"), ("access", "token"), ("auth", "token"), ("slack", "token"), ("api", "token"),
                 ("bot", "token")),
    pass_names=(("password",), ("db", "password"), ("admin", "password"), ("smtp", "password"), ("passwd",),
                ("db", "pass"), ("redis", "password"), ("pwd",)),
    token_vendors=("ghp", "xoxb", "jwt", "glpat", "sk_live", "npm"),
    password_styles=("word_digits_symbol", "random12", "leet"),
    orgs=("The Apache Software Foundation", "Google LLC", "Microsoft Corporation", "The Project Authors",
          "Cloudhop Networks Inc"),
)
DEV_POOLS = Pools(
    first=("anika", "joão", "chen", "oluwaseun", "marta", "hiroshi", "leila", "pavel", "ines", "kwame", "astrid",
           "ravi", "nadia", "mateus", "yuki", "emre", "sigrid", "tariq", "lucia", "bogdan"),
    last=("fernandes", "liu", "adeyemi", "sorensen", "yamamoto", "rahimi", "petrov", "almeida", "mensah", "lindqvist",
          "sharma", "hosseini", "costa", "kobayashi", "yilmaz", "halvorsen", "aziz", "romero", "popescu", "de la cruz"),
    domains=("hotmail.com", "icloud.com", "posteo.de", "fincorp.co.uk", "tu-berlin.de", "uni-heidelberg.de",
             "yandex.ru", "naver.com", "zoho.com", "bigdata-labs.io"),
    words=("lantern", "glacier", "meadow", "cobalt", "ember", "willow", "quartz", "thunder", "saffron", "orbit"),
    key_names=(("sendgrid", "api", "key"), ("mapbox", "key"), ("license", "key"), ("hmac", "secret"),
               ("webhook", "secret"), ("consumer", "secret"), ("master", "key"), ("x", "api", "key"),
               ("mailgun", "key"), ("service", "account", "key")),
    token_names=(("refresh", "token"), ("deploy", "token"), ("personal", "access", "token"), ("oauth", "token"),
                 ("session", "token"), ("ci", "token")),
    pass_names=(("mysql", "root", "password"), ("ldap", "bind", "password"), ("keystore", "pass"),
                ("postgres", "password"), ("user", "pass"), ("mail", "passwd"), ("vault", "password"),
                ("ftp", "pwd")),
    token_vendors=("gho", "github_pat", "xoxp", "jwt", "aiza", "rk_live"),
    password_styles=("random16", "two_words_digits", "pronounceable"),
    orgs=("Mozilla Foundation", "Meta Platforms Inc", "The Rust Project Developers", "Free Software Foundation",
          "Example Systems Ltd"),
)
DEV2_POOLS = Pools(
    first=("siobhan", "thandiwe", "björn", "ngozi", "kaito", "zoë", "rohan", "ayesha", "dmitri", "camille", "oskar",
           "noor", "tomás", "mei", "aleksander", "ifeoma", "javier", "saanvi", "henrik", "leilani"),
    last=("mcallister", "nakamura", "okonkwo", "bergström", "abdullah", "kowalczyk", "fitzgerald", "ramírez",
          "chatterjee", "van dijk", "de souza", "takahashi", "eriksen", "kapoor", "mwangi", "delacroix", "horvat",
          "jankowski", "oyelaran", "lindgren"),
    domains=("gmx.net", "web.de", "free.fr", "libero.it", "seznam.cz", "rediffmail.com", "uol.com.br",
             "eng.shopwave.co.za", "research.kth.se", "medtech-labs.eu"),
    words=("kestrel", "tundra", "birch", "nebula", "copper", "juniper", "basalt", "marigold", "sparrow", "zephyr"),
    key_names=(("algolia", "admin", "key"), ("datadog", "api", "key"), ("shopify", "secret"),
               ("razorpay", "key", "secret"), ("pusher", "app", "secret"), ("segment", "write", "key"),
               ("firebase", "server", "key"), ("recaptcha", "secret", "key"), ("jwt", "secret"), ("cookie", "secret")),
    token_names=(("twilio", "auth", "token"), ("discord", "bot", "token"), ("telegram", "token"), ("hf", "token"),
                 ("pypi", "token"), ("gitlab", "runner", "token")),
    pass_names=(("oracle", "password"), ("sa", "password"), ("wifi", "passphrase"), ("jks", "password"),
                ("rabbitmq", "pass"), ("bind", "pw"), ("sftp", "passwd"), ("pg", "pass")),
    token_vendors=("ghs", "xapp", "pypi", "hf", "jwt_kid", "glptt"),
    password_styles=("dashed_words", "random10", "word_year_symbol"),
    orgs=("Canonical Ltd", "Red Hat, Inc.", "The Linux Foundation", "Oracle and/or its affiliates",
          "Northwind Traders GmbH"),
)
# Written for the third held-out split (corpus `holdout3`) before any rules result on it was
# seen; disjoint from TUNE_*, DEV_* and DEV2_* in every field. Tuned on since round 5 (`dev3`).
DEV3_POOLS = Pools(
    first=("anneliese", "chidi", "wojciech", "sunita", "ragnar", "itzel", "kofi", "margaux", "hamid", "yerlan",
           "valentina", "tuan", "bronwyn", "ismail", "paulina", "keanu", "svetlana", "søren", "florian", "anaïs"),
    last=("achterberg", "onyango", "grünewald", "castellanos", "kristiansen", "nwachukwu", "papadopoulos",
          "d'angelo", "al-masri", "van den heuvel", "le tallec", "wiśniewska", "hoang", "marchetti", "ekström",
          "quispe", "zieliński", "thorsdóttir", "okoro", "villanueva"),
    domains=("t-online.de", "orange.fr", "virgilio.it", "wp.pl", "abv.bg", "bol.com.br", "qq.com", "ukr.net",
             "dept.ox-science.ac.uk", "platform.kuberhost.dev"),
    words=("saguaro", "fjord", "obsidian", "lichen", "monsoon", "tamarind", "quasar", "heron", "cinder", "glimmer"),
    key_names=(("brevo", "api", "key"), ("cloudinary", "api", "secret"), ("paystack", "secret", "key"),
               ("plaid", "secret"), ("mixpanel", "api", "secret"), ("postmark", "server", "key"),
               ("elastic", "cloud", "apikey"), ("vonage", "api", "secret"), ("sumo", "access", "key"),
               ("imgur", "client", "secret")),
    token_names=(("notion", "integration", "token"), ("linear", "api", "token"), ("square", "access", "token"),
                 ("databricks", "token"), ("google", "oauth", "token"), ("runner", "registration", "token")),
    pass_names=(("keycloak", "admin", "password"), ("mssql", "sa", "pwd"), ("smb", "passwd"),
                ("mongo", "initdb", "root", "password"), ("truststore", "password"), ("mqtt", "pass"),
                ("ssh", "passphrase"), ("snmp", "auth", "pass")),
    token_vendors=("ya29", "sq0atp", "dapi", "lin_api", "glrt", "jwt_rs512"),
    password_styles=("random14_sym", "word_symbol_word", "mixed8"),
    orgs=("Hashicorp, Inc.", "Elastic N.V.", "Zalando SE", "Spotify AB", "Wikimedia Deutschland e.V."),
    placeholder_emails=("alice@example.org", "bob@example.net", "first.last@example.com", "dev@localhost",
                        "ops@example.invalid", "jdoe@example.edu", "name@company.com"),
    pkg_specs=("vite@5.{a}.{b}", "@nestjs/cli@10.{a}.{b}", "eslint-plugin-react@7.{a}.{b}", "esbuild@0.{a}.{b}",
               "@types/react@18.{a}.{b}", "pnpm@8.{a}.{b}"),
)
# Written for the fourth held-out split (corpus `holdout4`, round 5) before any rules result on it
# was seen; disjoint from TUNE_*, DEV_*, DEV2_* and DEV3_* in every field.
HOLDOUT_POOLS = Pools(
    first=("nkechi", "bartosz", "ximena", "eitan", "rasmus", "priyanka", "dagny", "temitope", "haruto", "giulia",
           "anselm", "mariam", "jun-seo", "océane", "vuk", "lowanna", "faisal", "katarzyna", "ezequiel", "ulla"),
    last=("adebayo", "szymańska", "fuentes", "ben-david", "holmqvist", "deshpande", "lindahl", "matsumoto",
          "esposito", "kühnel", "haddadi", "nowicki", "lefebvre", "ng", "ó súilleabháin", "de vries", "agarwal",
          "tremblay", "jovanović", "mthembu"),
    domains=("laposte.net", "aol.com", "mail.com", "inbox.lv", "tutanota.com", "sapo.pt", "btinternet.com",
             "inf.ethz.ch", "lab.nordvolt.energy", "eng.quorumbank.com.au"),
    words=("pumice", "aurora", "kelp", "sorrel", "drumlin", "nimbus", "verdigris", "pangolin", "ochre", "bramble"),
    key_names=(("resend", "api", "key"), ("anthropic", "api", "key"), ("openweathermap", "appid"),
               ("hubspot", "private", "app", "key"), ("deepl", "auth", "key"), ("pinecone", "api", "key"),
               ("typesense", "admin", "key"), ("turnstile", "secret"), ("lemonsqueezy", "api", "key"),
               ("groq", "api", "key")),
    token_names=(("doppler", "token"), ("vercel", "token"), ("netlify", "auth", "token"), ("fly", "api", "token"),
                 ("circleci", "token"), ("sonar", "token")),
    pass_names=(("requirepass",), ("pgpassword",), ("kafka", "sasl", "password"), ("elastic", "password"),
                ("minio", "root", "password"), ("grafana", "admin", "pass"), ("http", "proxy", "password"),
                ("jenkins", "admin", "pw")),
    token_vendors=("ghu", "xoxe", "figd", "dp_pt", "pul", "jwt_ps256"),
    password_styles=("openssl_b64", "dotted_words", "short_sym9"),
    orgs=("Grafana Labs", "Cloudflare, Inc.", "Shopify Inc.", "Nordvolt Energy AS", "The Jupyter Development Team"),
    placeholder_emails=("you@yourdomain.com", "email@example.com", "john.doe@example.com", "root@localhost",
                        "max.mustermann@example.org", "qa+signup@example.com"),
    pkg_specs=("next@14.{a}.{b}", "@angular/cli@17.{a}.{b}", "turbo@2.{a}.{b}", "@vitejs/plugin-react@4.{a}.{b}",
               "prettier-plugin-tailwindcss@0.{a}.{b}", "@biomejs/biome@1.{a}.{b}"),
)
POOLS = {"tune": TUNE_POOLS, "dev": DEV_POOLS, "dev2": DEV2_POOLS, "dev3": DEV3_POOLS, "holdout": HOLDOUT_POOLS}


def _rand(r: random.Random, alphabet: str, n: int) -> str:
    return "".join(r.choice(alphabet) for _ in range(n))


def _ensure_mixed(r: random.Random, value: str) -> str:
    """Random base62 strings of 20+ characters almost always mix letters and digits; make it sure."""
    if not any(c.isdigit() for c in value):
        i = r.randrange(len(value))
        value = value[:i] + r.choice(string.digits) + value[i + 1:]
    if not any(c.isalpha() for c in value):
        value = "k" + value[1:]
    return value


API_KEY_STYLES = {"tune": ("b62_32", "b62_40", "hex_32", "hex_40", "b64_44"),
                  "dev": ("b62_36", "hex_48", "key_hex", "b64url_43", "sg"),
                  "dev2": ("b62_24", "b62_56", "HEX_40", "b64_32", "dop", "shpat", "mailchimp"),
                  "dev3": ("b62_30", "b62_50", "b64url_48", "HEX_32", "sk_proj", "xkeysib", "sk_ant"),
                  "holdout": ("b62_45", "b64url_40", "hex_56", "deepl_fx", "sk_or", "gsk", "re_")}


def gen_api_key(r: random.Random, split: str) -> str:
    s = r.choice(API_KEY_STYLES[split])
    if s == "HEX_40":
        return _ensure_mixed(r, _rand(r, HEXL.upper(), 40))
    if s == "HEX_32":
        return _ensure_mixed(r, _rand(r, HEXL.upper(), 32))
    if s == "b64url_40":
        return _ensure_mixed(r, _rand(r, ALNUM + "-_", 40))
    if s == "deepl_fx":  # DeepL: a UUID-shaped key with a `:fx` suffix (free plan)
        return str(uuid.UUID(int=r.getrandbits(128))) + ":fx"
    if s == "sk_or":  # OpenRouter
        return "sk-or-v1-" + _ensure_mixed(r, _rand(r, HEXL, 64))
    if s == "gsk":  # Groq
        return "gsk_" + _ensure_mixed(r, _rand(r, ALNUM, 52))
    if s == "re_":  # Resend
        return "re_" + _ensure_mixed(r, _rand(r, ALNUM, 8)) + "_" + _ensure_mixed(r, _rand(r, ALNUM, 24))
    if s == "b64url_48":
        return _ensure_mixed(r, _rand(r, ALNUM + "-_", 48))
    if s == "sk_proj":  # OpenAI project keys: T3BlbkFJ is base64 of "OpenAI"
        return "sk-proj-" + _ensure_mixed(r, _rand(r, ALNUM + "-_", 74)) + "T3BlbkFJ" + _rand(r, ALNUM + "-_", 74)
    if s == "xkeysib":  # Brevo (Sendinblue)
        return "xkeysib-" + _ensure_mixed(r, _rand(r, HEXL, 64)) + "-" + _ensure_mixed(r, _rand(r, ALNUM, 16))
    if s == "sk_ant":
        return "sk-ant-api03-" + _ensure_mixed(r, _rand(r, ALNUM + "-_", 93)) + "AA"
    if s == "b64_32":  # 22 random bytes, base64 with its padding
        return base64.b64encode(bytes(r.getrandbits(8) for _ in range(22))).decode()
    if s == "dop":
        return "dop_v1_" + _ensure_mixed(r, _rand(r, HEXL, 64))
    if s == "shpat":
        return "shpat_" + _ensure_mixed(r, _rand(r, HEXL, 32))
    if s == "mailchimp":
        return _ensure_mixed(r, _rand(r, HEXL, 32)) + f"-us{r.randint(1, 21)}"
    if s.startswith("b62"):
        return _ensure_mixed(r, _rand(r, ALNUM, int(s[4:])))
    if s.startswith("hex"):
        return _ensure_mixed(r, _rand(r, HEXL, int(s[4:])))
    if s == "b64_44":
        return _ensure_mixed(r, _rand(r, B64, 42)) + "=="
    if s == "key_hex":
        return "key-" + _ensure_mixed(r, _rand(r, HEXL, 32))
    if s == "b64url_43":
        return _ensure_mixed(r, _rand(r, ALNUM + "-_", 43))
    return "SG." + _ensure_mixed(r, _rand(r, ALNUM + "-_", 22)) + "." + _ensure_mixed(r, _rand(r, ALNUM + "-_", 43))


def gen_aws_secret(r: random.Random, split: str) -> str:
    return _ensure_mixed(r, _rand(r, B64, 40))


def gen_token(r: random.Random, split: str, pools: Pools) -> str:
    v = r.choice(pools.token_vendors)
    if v in ("ghp", "gho"):
        return f"{v}_" + _ensure_mixed(r, _rand(r, ALNUM, 36))
    if v == "github_pat":
        return "github_pat_" + _rand(r, ALNUM, 22) + "_" + _ensure_mixed(r, _rand(r, ALNUM, 59))
    if v in ("xoxb", "xoxp"):
        return f"{v}-{r.randint(10**11, 10**12 - 1)}-{r.randint(10**12, 10**13 - 1)}-" + _ensure_mixed(r, _rand(r, ALNUM, 24))
    if v == "jwt":
        def part(obj):
            return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")
        head = part({"alg": r.choice(["HS256", "RS256"]), "typ": "JWT"})
        body = part({"sub": str(r.randint(10**6, 10**9)), "iat": r.randint(1.5e9, 1.8e9),
                     "scope": r.choice(pools.words)})
        return f"{head}.{body}." + _rand(r, ALNUM + "-_", 43)
    if v == "glpat":
        return "glpat-" + _ensure_mixed(r, _rand(r, ALNUM + "_-", 20))
    if v in ("sk_live", "rk_live"):
        return f"{v}_" + _ensure_mixed(r, _rand(r, ALNUM, 24 + r.randrange(0, 76, 4)))
    if v == "npm":
        return "npm_" + _ensure_mixed(r, _rand(r, ALNUM, 36))
    if v == "aiza":
        return "AIza" + _rand(r, ALNUM + "-_", 35)
    if v == "ghs":
        return "ghs_" + _ensure_mixed(r, _rand(r, ALNUM, 36))
    if v == "xapp":
        return f"xapp-1-A{_rand(r, string.ascii_uppercase + string.digits, 10)}-{r.randint(10**12, 10**13 - 1)}-" \
            + _ensure_mixed(r, _rand(r, HEXL, 64))
    if v == "pypi":
        return "pypi-AgEIcHlwaS5vcmc" + _rand(r, ALNUM + "-_", r.choice([60, 120, 160]))
    if v == "hf":
        return "hf_" + _ensure_mixed(r, _rand(r, string.ascii_letters, 34))
    if v == "jwt_kid":
        def part(obj):
            return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")
        head = part({"alg": "ES256", "kid": _rand(r, ALNUM, 8), "typ": "JWT"})
        body = part({"iss": r.choice(pools.words), "exp": r.randint(1.7e9, 1.9e9), "uid": r.randint(1, 10**6)})
        return f"{head}.{body}." + _rand(r, ALNUM + "-_", 86)
    if v == "glptt":
        return "glptt-" + _ensure_mixed(r, _rand(r, HEXL, 40))
    if v == "ya29":  # Google OAuth 2.0 access tokens
        return "ya29.a0" + _ensure_mixed(r, _rand(r, ALNUM + "-_", r.choice([140, 180, 220])))
    if v == "sq0atp":  # Square access tokens
        return "sq0atp-" + _ensure_mixed(r, _rand(r, ALNUM + "-_", 22))
    if v == "dapi":  # Databricks personal access tokens
        return "dapi" + _ensure_mixed(r, _rand(r, HEXL, 32)) + r.choice(["", "-2", "-3"])
    if v == "lin_api":  # Linear
        return "lin_api_" + _ensure_mixed(r, _rand(r, ALNUM, 40))
    if v == "glrt":  # GitLab runner authentication tokens
        return "glrt-" + _ensure_mixed(r, _rand(r, ALNUM + "_-", 20))
    if v == "ghu":  # GitHub user-to-server tokens
        return "ghu_" + _ensure_mixed(r, _rand(r, ALNUM, 36))
    if v == "xoxe":  # Slack configuration (refreshable) tokens
        return f"xoxe.xoxp-1-" + _ensure_mixed(r, _rand(r, ALNUM, 146))
    if v == "figd":  # Figma personal access tokens
        return "figd_" + _ensure_mixed(r, _rand(r, ALNUM + "-_", 40))
    if v == "dp_pt":  # Doppler personal tokens
        return "dp.pt." + _ensure_mixed(r, _rand(r, ALNUM, 43))
    if v == "pul":  # Pulumi access tokens
        return "pul-" + _ensure_mixed(r, _rand(r, HEXL, 40))
    if v == "jwt_ps256":
        def part(obj):
            return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")
        head = part({"alg": "PS256", "typ": "at+jwt", "kid": _rand(r, HEXL, 12)})
        body = part({"sub": _rand(r, ALNUM, 10), "azp": r.choice(pools.words), "exp": r.randint(1.7e9, 1.9e9)})
        return f"{head}.{body}." + _rand(r, ALNUM + "-_", 342)
    if v == "jwt_rs512":
        def part(obj):
            return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")
        head = part({"typ": "JWT", "alg": "RS512"})
        body = part({"aud": r.choice(pools.words), "nbf": r.randint(1.6e9, 1.8e9), "jti": _rand(r, HEXL, 16),
                     "roles": r.sample(["read", "write", "admin", "ops"], 2)})
        return f"{head}.{body}." + _rand(r, ALNUM + "-_", 342)
    raise ValueError(v)


_SYMBOLS = "!@#$%^&*-_+=?"


def gen_password(r: random.Random, split: str, pools: Pools) -> str:
    s = r.choice(pools.password_styles)
    if s == "word_digits_symbol":
        return r.choice(pools.words).capitalize() + r.choice(_SYMBOLS) + str(r.randint(10, 9999))
    if s == "random12":
        return _ensure_mixed(r, _rand(r, ALNUM + "!#%&*+-=?", 12))
    if s == "leet":
        w = r.choice(pools.words)
        return w.replace("a", "4").replace("e", "3").replace("o", "0").capitalize() + str(r.randint(1, 99)) + r.choice("!?#")
    if s == "random16":
        return _ensure_mixed(r, _rand(r, ALNUM + "!#%&*+-=?^~", 16))
    if s == "two_words_digits":
        a, b = r.sample(pools.words, 2)
        return a + b.capitalize() + str(r.randint(10, 999))
    if s == "pronounceable":
        cons, vow = "bcdfghjklmnprstvz", "aeiou"
        syl = "".join(r.choice(cons) + r.choice(vow) for _ in range(3))
        return syl.capitalize() + r.choice("#$%&*") + str(r.randint(100, 999))
    if s == "dashed_words":
        return "-".join(r.sample(pools.words, 3)) + str(r.randint(1, 9))
    if s == "random10":
        return _ensure_mixed(r, _rand(r, ALNUM + "@#$%&*!", 10))
    if s == "word_year_symbol":
        return r.choice(pools.words).capitalize() + str(r.randint(1990, 2025)) + r.choice("!@#$.")
    if s == "random14_sym":
        return _ensure_mixed(r, _rand(r, ALNUM + "!$%^*_+-=~.", 14))
    if s == "word_symbol_word":
        a, b = r.sample(pools.words, 2)
        return a.capitalize() + r.choice("$%&*+.") + b.capitalize() + str(r.randint(0, 9))
    if s == "openssl_b64":  # `openssl rand -base64 18`
        return base64.b64encode(bytes(r.getrandbits(8) for _ in range(18))).decode()
    if s == "dotted_words":
        a, b = r.sample(pools.words, 2)
        return f"{a.capitalize()}.{b.capitalize()}.{r.randint(10, 9999)}"
    if s == "short_sym9":
        return _ensure_mixed(r, _rand(r, ALNUM, 7)) + r.choice("!#$%&*?@") + r.choice(string.digits)
    if s == "mixed8":
        return "".join(r.choice(c) for c in r.sample([string.ascii_lowercase, string.ascii_uppercase, string.digits,
                                                       "!#$%&*?", string.ascii_lowercase, string.digits,
                                                       string.ascii_uppercase, "!#$%&*?"], 8))
    raise ValueError(s)


def gen_private_key(r: random.Random, split: str) -> str:
    label = r.choice({"tune": ["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"],
                      "dev": ["RSA PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "DSA PRIVATE KEY",
                              "OPENSSH PRIVATE KEY"],
                      "dev2": ["EC PRIVATE KEY", "PRIVATE KEY", "RSA PRIVATE KEY", "PGP PRIVATE KEY BLOCK"],
                      "dev3": ["OPENSSH70", "RSA_DEKINFO", "ENCRYPTED76", "EC_SHORT", "PKCS8_CRLF"],
                      "holdout": ["ED25519_OPENSSH", "PKCS8_ED25519", "RSA_PKCS1_LONG", "ENCRYPTED_PKCS8_64"]}[split])
    if label == "OPENSSH70":  # ssh-keygen wraps at 70 columns
        body = "b3BlbnNzaC1rZXktdjEAAAAA" + _rand(r, B64, 70 * r.randint(5, 38) - 24 - r.randint(0, 40))
        lines = [body[i:i + 70] for i in range(0, len(body), 70)]
        return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END OPENSSH PRIVATE KEY-----"
    if label == "RSA_DEKINFO":  # legacy encrypted PEM: headers, a blank line, the body
        body = "MII" + r.choice("EJ") + _rand(r, B64, 64 * r.randint(14, 26) - 4 - r.randint(0, 40))
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        return ("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,"
                + _rand(r, HEXL.upper(), 32) + "\n\n" + "\n".join(lines) + "\n-----END RSA PRIVATE KEY-----")
    if label == "ENCRYPTED76":  # MIME base64 (76 columns), as Java's encoders write it
        body = "MIIF" + r.choice("DHL") + "TBXBgkqhkiG9w0BBQ0wSjAp" + _rand(r, B64, 76 * r.randint(6, 20) - 29 - r.randint(0, 40))
        lines = [body[i:i + 76] for i in range(0, len(body), 76)]
        return "-----BEGIN ENCRYPTED PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END ENCRYPTED PRIVATE KEY-----"
    if label == "EC_SHORT":  # a P-256 key: three lines
        body = "MHcCAQEEI" + _rand(r, B64, 155) + "=="
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        return "-----BEGIN EC PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END EC PRIVATE KEY-----"
    if label == "PKCS8_CRLF":  # written on Windows: CRLF line ends
        body = "MIIE" + r.choice("vu") + "QIBADANBgkqhkiG9w0BAQEFAASC" + _rand(r, B64, 64 * r.randint(8, 26) - 32)
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        return "-----BEGIN PRIVATE KEY-----\r\n" + "\r\n".join(lines) + "\r\n-----END PRIVATE KEY-----"
    if label == "ED25519_OPENSSH":  # ssh-keygen -t ed25519: five lines of 70
        body = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW" + _rand(r, B64, 260)
        lines = [body[i:i + 70] for i in range(0, len(body), 70)]
        return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END OPENSSH PRIVATE KEY-----"
    if label == "PKCS8_ED25519":  # one line of body
        return "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI" + _rand(r, B64, 43) + "\n-----END PRIVATE KEY-----"
    if label == "RSA_PKCS1_LONG":  # a 2048-bit PKCS#1 key, 25 full lines
        body = "MIIEo" + r.choice("wgQ") + "IBAAKCAQEA" + _rand(r, B64, 64 * 25 - 16) + _rand(r, B64, r.randint(4, 60))
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        return "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END RSA PRIVATE KEY-----"
    if label == "ENCRYPTED_PKCS8_64":
        body = "MIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI" + _rand(r, B64, 64 * r.randint(8, 20) - 48)
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        return "-----BEGIN ENCRYPTED PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END ENCRYPTED PRIVATE KEY-----"
    if label == "PGP PRIVATE KEY BLOCK":  # ASCII armor: a header line, a blank line, the body, a checksum
        body = "lQ" + _rand(r, B64, 64 * r.randint(6, 14) - 2)
        lines = [body[i:i + 64] for i in range(0, len(body), 64)]
        return (f"-----BEGIN {label}-----\nVersion: GnuPG v2\n\n" + "\n".join(lines) + "\n=" + _rand(r, B64, 4)
                + f"\n-----END {label}-----")
    n = r.randint(4, 12)
    lead = {"OPENSSH PRIVATE KEY": "b3BlbnNzaC1rZXktdjEAAAAA"}.get(label, "MII" + r.choice("EBCD") + r.choice("vpowg"))
    body = lead + _rand(r, B64, 64 * n - len(lead) - r.randint(0, 40))
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----"


def gen_name(r: random.Random, pools: Pools) -> str:
    def cap(w):
        return " ".join(p if p in ("van", "der", "den", "de", "la", "le") else
                        re.sub(r"(^|['\-])(\w)", lambda m: m.group(1) + m.group(2).upper(), p) for p in w.split())
    return cap(r.choice(pools.first)) + " " + cap(r.choice(pools.last))


def gen_email(r: random.Random, pools: Pools) -> str:
    import unicodedata

    def ascii_part(w):
        return re.sub(r"[^a-z]", "", unicodedata.normalize("NFKD", w).encode("ascii", "ignore").decode())
    f, last = ascii_part(r.choice(pools.first)), ascii_part(r.choice(pools.last))
    local = r.choice([f"{f}.{last}", f"{f[0]}{last}", f"{f}_{last}{r.randint(1, 99)}", f"{f}{r.randint(70, 99)}",
                      f"{last}.{f}"])
    return f"{local}@{r.choice(pools.domains)}"


def gen_ipv4(r: random.Random) -> str:
    import ipaddress
    from udfs.pii import PUBLIC_DNS
    while True:
        ip = f"{r.randint(1, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        a = ipaddress.ip_address(ip)
        if a.is_global and not a.is_multicast and ip not in PUBLIC_DNS and len(ip) > 7:
            return ip


def gen_ipv6(r: random.Random) -> str:
    head = r.choice(["2001:67c", "2a00:1450", "2a03:2880", "2604:a880", "2600:1f18", "2406:da00", "2a01:4f8",
                     "2001:41d0", "2620:0:2d0", "2a02:6b8"])
    groups = head.split(":") + [f"{r.randint(1, 0xffff):x}" for _ in range(8 - len(head.split(":")))]
    if r.random() < 0.5:
        cut = r.randint(len(head.split(":")), 6)
        return ":".join(groups[:cut]) + "::" + groups[-1]
    return ":".join(groups)


def gen_ip(r: random.Random) -> str:
    return gen_ipv6(r) if r.random() < 0.2 else gen_ipv4(r)


# look-alikes ------------------------------------------------------------------------------
def gen_lookalike(kind: str, r: random.Random, pools: Pools) -> str:
    if kind == "private_ip":
        return r.choice([f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
                         f"192.168.{r.randint(0, 255)}.{r.randint(1, 254)}",
                         f"172.{r.randint(16, 31)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
                         "127.0.0.1", "0.0.0.0", f"fd{r.randint(0, 255):02x}:{r.randint(1, 0xffff):x}::{r.randint(1, 99)}"])
    if kind == "doc_ip":
        return r.choice([f"192.0.2.{r.randint(1, 254)}", f"198.51.100.{r.randint(1, 254)}",
                         f"203.0.113.{r.randint(1, 254)}", f"2001:db8::{r.randint(1, 0xffff):x}"])
    if kind == "version":  # dotted quads whose parts are all <= 255: a public IP by shape
        while True:
            v = f"{r.randint(1, 30)}.{r.randint(0, 40)}.{r.randint(0, 255)}.{r.randint(1, 255)}"
            if len(v) > 7 and not v.startswith(("10.", "0.")):
                return v
    if kind == "hash":
        return _rand(r, HEXL, r.choice([32, 40, 64]))
    if kind == "integrity":
        return f"sha{r.choice([256, 384, 512])}-" + _rand(r, B64, 64) + "=="
    if kind == "uuid":
        return str(uuid.UUID(int=r.getrandbits(128), version=4))
    if kind == "placeholder_email" and pools.placeholder_emails:
        return r.choice(pools.placeholder_emails)
    if kind == "pkg_spec" and pools.pkg_specs:
        return r.choice(pools.pkg_specs).format(a=r.randint(0, 20), b=r.randint(0, 9))
    if kind == "public_key":  # public halves: ssh authorized_keys lines and PEM public keys
        if r.random() < 0.5:
            algo, lead, n = r.choice([("ssh-ed25519", "AAAAC3NzaC1lZDI1NTE5AAAAI", 43),
                                      ("ssh-rsa", "AAAAB3NzaC1yc2EAAAADAQABAAABgQ", 514)])
            return f"{algo} {lead}{_rand(r, B64, n)} {r.choice(pools.words)}-deploy"
        body = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + _rand(r, B64, 64 * 6 - 44 + 8) + "IDAQAB"
        return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(body[i:i + 64] for i in range(0, len(body), 64)) \
            + "\n-----END PUBLIC KEY-----"
    if kind == "placeholder_email":
        return r.choice(["user@example.com", "jane.doe@example.org", "you@example.com", "admin@example.net",
                         "noreply@github.com", "your.name@example.com", "someone@example.test"])
    if kind == "digest":  # OCI image digests
        return "sha256:" + _rand(r, HEXL, 64)
    if kind == "data_uri":  # inline images: long base64, no secret
        return f"data:image/{r.choice(['png', 'gif', 'webp'])};base64," + _rand(r, B64, r.randint(60, 180)) + "=="
    if kind == "pkg_spec":
        return r.choice([f"lodash@4.17.{r.randint(0, 21)}", f"@babel/core@7.{r.randint(0, 24)}.{r.randint(0, 9)}",
                         f"react@18.{r.randint(0, 3)}.{r.randint(0, 9)}", f"typescript@5.{r.randint(0, 5)}.{r.randint(1, 9)}",
                         f"left-pad@1.{r.randint(0, 3)}.0"])
    raise ValueError(kind)


# ---------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------
# Slots: [[kind]] a planted value (its labelled span), [[~kind]] a look-alike (must stay),
# [[$pool:STYLE]] a variable name from the split's name pools (key, token, pass, aws) in a
# style (UPPER, snake, camel, kebab, words, Title), [[name_of:x]] plain fillers (word, user,
# host, port, year). A `|json` after a kind writes the value JSON-escaped (\n for newlines).
# Templates are keyed by "family" or "family/syntax" (config and css files by syntax).

TUNE_TEMPLATES: dict[str, list[str]] = {
    "python": [
        '[[$key:UPPER]] = "[[api_key]]"',
        '[[$key:snake]]: str = "[[api_key]]"',
        'client = Client(api_key="[[api_key]]", timeout=30)',
        '# [[$key:UPPER]]: [[api_key]]',
        'AWS_SECRET_ACCESS_KEY = "[[aws_secret]]"',
        "session = boto3.Session(aws_access_key_id=key_id, aws_secret_access_key='[[aws_secret]]')",
        '[[$pass:UPPER]] = "[[password]]"',
        'conn = psycopg2.connect(host=host, user="app", password="[[password]]")',
        "# default [[$pass:words]]: [[password]]",
        '[[$tok:UPPER]] = "[[token]]"',
        'headers = {"Authorization": "Bearer [[token]]"}',
        'PRIVATE_KEY = """[[private_key]]"""',
        "DATABASE_URL = 'postgresql://app:[[password]]@db.[[host]]:5432/main'",
        "__author__ = \"[[name]] <[[email]]>\"",
        "# Author: [[name]] <[[email]]>",
        '"""Helpers for the export job.\n\nWritten by [[name]].\n"""',
        'ALLOWED_HOSTS = ["[[ip]]", "localhost"]',
        "# the upstream mirror lives at [[ip]]",
        'SERVER = "[[ip]]"',
        '__version__ = "[[~version]]"',
        'INTERNAL_HOST = "[[~private_ip]]"',
        'SHA256 = "[[~hash]]"',
        'RUN_ID = "[[~uuid]]"',
        "# questions: [[~placeholder_email]]",
        "[[~decorator=@app.route('/health')]]",
        'API_KEY = os.environ["API_KEY"]',
        'password = getpass.getpass("[[$pass:words]]: ")',
        "# Copyright (c) [[year]] [[~org_name]]",
        'TEST_NET = "[[~doc_ip]]"',
        '# Copyright (c) [[year]] [[name]]',
        "copyright = '[[year]], [[name]]'",
    ],
    "js_ts": [
        "const [[$key:camel]] = '[[api_key]]';",
        "  [[$key:camel]]: \"[[api_key]]\",",
        "// [[$key:UPPER]]=[[api_key]]",
        "const s3 = new S3({ accessKeyId: keyId, secretAccessKey: '[[aws_secret]]' });",
        "const [[$pass:camel]] = \"[[password]]\";",
        "  password: '[[password]]',",
        "/* login with admin / [[password]] on staging */",
        "const [[$tok:camel]] = '[[token]]';",
        "fetch(url, { headers: { Authorization: `Bearer [[token]]` } });",
        "const PRIVATE_KEY = `[[private_key]]`;",
        " * @author [[name]] <[[email]]>",
        "// Maintainer: [[email]]",
        "const UPSTREAM = 'http://[[ip]]:8080/api';",
        "const version = '[[~version]]';",
        "const localApi = 'http://[[~private_ip]]:3000';",
        "const id = '[[~uuid]]';",
        "// install with npm i [[~pkg_spec]]",
        "const apiKey = process.env.API_KEY;",
        "const token = await getToken(user);",
        "[[~decorator=@Component({ selector: 'app-root' })]]",
        "// Copyright [[year]] [[~org_name]]",
        "/* Copyright [[year]] [[name]] <[[email]]> */",
    ],
    "java": [
        'private static final String [[$key:UPPER]] = "[[api_key]]";',
        'String [[$key:camel]] = "[[api_key]]";',
        '// [[$key:words]]: [[api_key]]',
        'props.setProperty("aws.secretKey", "[[aws_secret]]");',
        'private static final String [[$pass:UPPER]] = "[[password]]";',
        'DriverManager.getConnection(url, "admin", "[[password]]");',
        'private static final String [[$tok:UPPER]] = "[[token]]";',
        ' * @author [[name]]',
        ' * Contact: [[email]]',
        'private static final String HOST = "[[ip]]";',
        'public static final String VERSION = "[[~version]]";',
        '[[~decorator=@Override]]',
        'String sha = "[[~hash]]";',
        'String password = System.getenv("DB_PASSWORD");',
        ' * Copyright (c) [[year]] [[~org_name]]',
    ],
    "c_cpp": [
        '#define [[$key:UPPER]] "[[api_key]]"',
        'static const char *[[$key:snake]] = "[[api_key]]";',
        '/* [[$key:words]]: [[api_key]] */',
        'const std::string aws_secret_access_key = "[[aws_secret]]";',
        '#define [[$pass:UPPER]] "[[password]]"',
        'static const char password[] = "[[password]]";',
        '#define [[$tok:UPPER]] "[[token]]"',
        ' * Author: [[name]] <[[email]]>',
        '#define SERVER_IP "[[ip]]"',
        '#define LIB_VERSION "[[~version]]"',
        'static const char *loopback = "[[~private_ip]]";',
        '/* sha256: [[~hash]] */',
        ' * Copyright (C) [[year]] [[~org_name]]',
        ' * Copyright (C) [[year]] [[name]]',
    ],
    "go": [
        'const [[$key:camel]] = "[[api_key]]"',
        '\t[[$key:Title]]: "[[api_key]]",',
        '// [[$key:UPPER]]=[[api_key]]',
        'awsSecretAccessKey := "[[aws_secret]]"',
        '[[$pass:camel]] := "[[password]]"',
        'dsn := "app:[[password]]@tcp(db:3306)/main"',
        'var [[$tok:camel]] = "[[token]]"',
        '// Author: [[name]] <[[email]]>',
        'addr := "[[ip]]:443"',
        'const Version = "[[~version]]"',
        'listen := "[[~private_ip]]:8080"',
        'const commit = "[[~hash]]"',
        '// Copyright [[year]] [[~org_name]]. All rights reserved.',
    ],
    "rust": [
        'const [[$key:UPPER]]: &str = "[[api_key]]";',
        'let [[$key:snake]] = "[[api_key]]";',
        '// [[$key:UPPER]]: [[api_key]]',
        'let aws_secret_access_key = String::from("[[aws_secret]]");',
        'const [[$pass:UPPER]]: &str = "[[password]]";',
        'let [[$tok:snake]] = "[[token]]".to_string();',
        '/// Written by [[name]] <[[email]]>',
        'let upstream: IpAddr = "[[ip]]".parse().unwrap();',
        'pub const VERSION: &str = "[[~version]]";',
        'let bind = "[[~private_ip]]:8000";',
        '#[derive(Debug, Clone)]  // [[~pkg_spec]]',
        '// Copyright (c) [[year]], [[~org_name]]',
    ],
    "shell": [
        'export [[$key:UPPER]]=[[api_key]]',
        '[[$key:UPPER]]="[[api_key]]"',
        'export AWS_SECRET_ACCESS_KEY=[[aws_secret]]',
        'export [[$pass:UPPER]]="[[password]]"',
        'mysql -u root -p[[password]] app < dump.sql',
        'curl -H "Authorization: token [[token]]" https://api.[[host]]/user',
        "cat > .env <<EOF\n[[$tok:UPPER]]=[[token]]\nEOF",
        "cat > id_rsa <<'EOF'\n[[private_key]]\nEOF",
        '# Author: [[name]] <[[email]]>',
        'ssh deploy@[[ip]] "systemctl restart app"',
        'VERSION=[[~version]]',
        'ping -c 1 [[~private_ip]]',
        'echo "[[~hash]]  release.tar.gz" | sha256sum -c -',
        'export API_KEY="${API_KEY:?set it first}"',
    ],
    "config/yaml": [
        '[[$key:snake]]: [[api_key]]',
        '  [[$key:snake]]: "[[api_key]]"',
        '  aws_secret_access_key: [[aws_secret]]',
        '  password: [[password]]',
        '  [[$pass:snake]]: "[[password]]"',
        '  [[$tok:snake]]: [[token]]',
        '  private_key: "[[private_key|json]]"',
        'maintainer: [[name]] <[[email]]>',
        '  host: [[ip]]',
        'version: [[~version]]',
        '  host: [[~private_ip]]',
        '  checksum: [[~hash]]',
        '  password: ${DB_PASSWORD}',
    ],
    "config/toml": [
        '[[$key:snake]] = "[[api_key]]"',
        'aws_secret_access_key = "[[aws_secret]]"',
        '[[$pass:snake]] = "[[password]]"',
        '[[$tok:snake]] = "[[token]]"',
        'authors = ["[[name]] <[[email]]>"]',
        'host = "[[ip]]"',
        'version = "[[~version]]"',
        'bind = "[[~private_ip]]"',
        'rev = "[[~hash]]"',
    ],
    "config/ini": [
        '[[$key:snake]] = [[api_key]]',
        'aws_secret_access_key = [[aws_secret]]',
        '[[$pass:snake]] = [[password]]',
        '[[$tok:snake]]=[[token]]',
        '; contact [[email]]',
        'server = [[ip]]',
        'version = [[~version]]',
        'host = [[~private_ip]]',
        'password = %(DB_PASSWORD)s',
    ],
    "config/json": [
        '  "[[$key:camel]]": "[[api_key]]",',
        '  "aws_secret_access_key": "[[aws_secret]]",',
        '  "[[$pass:camel]]": "[[password]]",',
        '  "[[$tok:camel]]": "[[token]]",',
        '  "private_key": "[[private_key|json]]",',
        '  "author": "[[name]] <[[email]]>",',
        '  "host": "[[ip]]",',
        '  "version": "[[~version]]",',
        '  "integrity": "[[~integrity]]",',
        '  "id": "[[~uuid]]",',
    ],
    "html_css": [
        '<!-- [[$key:UPPER]]: [[api_key]] -->',
        '<meta name="api-key" content="[[api_key]]">',
        '<script>var [[$key:camel]] = "[[api_key]]";</script>',
        '<!-- admin password: [[password]] -->',
        '<input type="hidden" name="token" value="[[token]]">',
        '<!-- Author: [[name]] <[[email]]> -->',
        '<a href="mailto:[[email]]">[[name]]</a>',
        '<!-- served from [[ip]] -->',
        '<script src="app.js?v=[[~version]]"></script>',
        '<script src="https://cdn.[[host]]/lib.js" integrity="[[~integrity]]" crossorigin="anonymous"></script>',
        '<!-- contact [[~placeholder_email]] -->',
    ],
    "html_css/css": [
        '/* [[$key:UPPER]]: [[api_key]] */',
        '/* ADMIN_PASSWORD: [[password]] */',
        '/* token [[token]] */',
        '/* Author: [[name]] <[[email]]> */',
        '/* assets mirror: [[ip]] */',
        '/* version [[~version]] */',
        '[[~decorator=@media screen and (max-width: 600px)]] {',
        '/* build [[~hash]] */',
    ],
    "markdown": [
        'Set `[[$key:UPPER]]=[[api_key]]` before running the examples.',
        'Use the API key `[[api_key]]` for the sandbox.',
        '```bash\nexport AWS_SECRET_ACCESS_KEY=[[aws_secret]]\n```',
        'The default admin password is `[[password]]`.',
        '```\n[[$tok:UPPER]]=[[token]]\n```',
        '```\n[[private_key]]\n```',
        'Maintained by [[name]] ([[email]]).',
        'The demo server runs at [[ip]].',
        '## [[~version]] (2021-03-04)',
        'Install with `npm install [[~pkg_spec]]`.',
        'Report issues to [[~placeholder_email]].',
        'Requires `foo>=[[~version]]`.',
        'Copyright © [[year]] [[name]].',
    ],
    "rst": [
        'Set STRIPE_API_KEY=[[api_key]] before running the examples.',
        '.. code-block:: bash\n\n    export [[$key:UPPER]]=[[api_key]]',
        'Set ``AWS_SECRET_ACCESS_KEY`` to ``[[aws_secret]]``.',
        ':password: [[password]]',
        'The token ``[[token]]`` has read access only.',
        '.. moduleauthor:: [[name]] <[[email]]>',
        'The mirror at [[ip]] is updated hourly.',
        '[[~version]]\n' + '-' * 10,
        'Version [[~version]] fixes the parser.',
        '.. note:: write to [[~placeholder_email]]',
    ],
    "text": [
        '[[$key:UPPER]]=[[api_key]]',
        'API key: [[api_key]]',
        'aws_secret_access_key = [[aws_secret]]',
        'password: [[password]]',
        'token: [[token]]',
        'Written by [[name]] <[[email]]>',
        'Server IP: [[ip]]',
        'Version [[~version]]',
        'sha256 [[~hash]]',
    ],
}

DEV_TEMPLATES: dict[str, list[str]] = {
    "python": [
        'settings.[[$key:snake]] = "[[api_key]]"',
        'CONFIG = {"[[$key:snake]]": "[[api_key]]", "region": "eu-west-1"}',
        '    #: [[$key:words]] used by the tests ([[api_key]])',
        "os.environ['AWS_SECRET_ACCESS_KEY'] = '[[aws_secret]]'",
        'aws_secret_key = "[[aws_secret]]"  # prod',
        'DATABASES["default"]["PASSWORD"] = "[[password]]"',
        'login(user="ops", [[$pass:snake]]="[[password]]")',
        'os.environ.setdefault("[[$tok:UPPER]]", "[[token]]")',
        'SSH_KEY = "[[private_key|json]]"',
        'redis_url = "redis://:[[password]]@cache.[[host]]:6379/0"',
        '    :copyright: (c) [[year]] by [[name]].',
        '"""\nCreated by [[name]] on [[year]]-04-02.\n"""',
        'NOTIFY = ["[[email]]"]',
        'PEERS = ("[[ip]]", "[[ip]]")',
        'proxy = {"https": "http://[[ip]]:3128"}',
        'install_requires = ["requests==[[~version]]"]',
        'BACKUP = "[[~private_ip]]"',
        'revision = "[[~hash]]"',
        '# See [[~placeholder_email]] for access.',
        "[[~decorator=@pytest.fixture(scope='module')]]",
        'token = request.headers.get("X-Token")',
        '# (c) [[year]] [[~org_name]]',
        'EXAMPLE_IP = "[[~doc_ip]]"',
        "SECRET_KEY = '[[~placeholder_secret]]'",
    ],
    "js_ts": [
        'export const [[$key:UPPER]] = "[[api_key]]";',
        "axios.defaults.headers.common['X-Api-Key'] = '[[api_key]]';",
        "  secretAccessKey: process.env.AWS_SECRET || '[[aws_secret]]',",
        "db.connect({ user: 'root', [[$pass:camel]]: '[[password]]' });",
        "const mongoUri = 'mongodb+srv://svc:[[password]]@cluster0.[[host]]/app';",
        "  [[$tok:camel]]: '[[token]]',",
        "process.env.[[$tok:UPPER]] = '[[token]]';",
        "const key = \"[[private_key|json]]\";",
        " * Copyright (c) [[year]] [[name]]",
        "  \"author\": \"[[name]] <[[email]]>\",",
        "const peers = ['[[ip]]'];",
        "const SDK_VERSION = \"[[~version]]\";",
        "const gateway = '[[~private_ip]]';",
        "// \"[[~pkg_spec]]\" pinned",
        "const EMPTY_SHA = '[[~hash]]';",
        "[[~decorator=@Injectable()]]",
        "const apiKey = config.get('apiKey');",
        "// Copyright (c) [[~org_name]]",
    ],
    "java": [
        'config.put("[[$key:camel]]", "[[api_key]]");',
        '@Value("${api.key:[[api_key]]}")',
        'BasicAWSCredentials creds = new BasicAWSCredentials(keyId, "[[aws_secret]]");',
        'ds.setPassword("[[password]]");',
        'private String [[$pass:camel]] = "[[password]]";',
        'request.addHeader("Authorization", "Bearer [[token]]");',
        ' * Written by [[name]] <[[email]]>',
        'InetAddress peer = InetAddress.getByName("[[ip]]");',
        ' * @since [[~version]]',
        'String local = "[[~private_ip]]";',
        'UUID id = UUID.fromString("[[~uuid]]");',
        '[[~decorator=@SuppressWarnings("unchecked")]]',
        ' * Copyright [[year]] [[~org_name]]',
    ],
    "c_cpp": [
        'const char kApiKey[] = "[[api_key]]";',
        '    {"[[$key:snake]]", "[[api_key]]"},',
        '// aws secret: [[aws_secret]]',
        'mysql_real_connect(conn, host, "root", "[[password]]", "app", 0, NULL, 0);',
        '// [[$pass:words]] is [[password]]',
        'static const char token[] = "[[token]]";',
        'static const char *pem = "[[private_key|json]]";',
        '// Copyright (c) [[year]] [[name]] <[[email]]>',
        'inet_pton(AF_INET, "[[ip]]", &addr.sin_addr);',
        '#define FIRMWARE_VERSION "[[~version]]"',
        '/* [[~doc_ip]] is TEST-NET-3 */',
        ' * Copyright [[year]] [[~org_name]]',
    ],
    "go": [
        'client := api.New("[[api_key]]")',
        '\tAPIKey:    "[[api_key]]",',
        '\tSecretAccessKey: "[[aws_secret]]",',
        'db, err := sql.Open("postgres", "postgres://svc:[[password]]@db.[[host]]/app")',
        '\tPassword: "[[password]]",',
        'req.Header.Set("Authorization", "Bearer [[token]]")',
        '// Maintainer: [[name]] <[[email]]>',
        'peer := net.ParseIP("[[ip]]")',
        '// go [[~version]]',
        'dns := "[[~private_ip]]"',
        'id := uuid.MustParse("[[~uuid]]")',
        '// Copyright [[year]] [[~org_name]]',
    ],
    "rust": [
        'static [[$key:UPPER]]: &\'static str = "[[api_key]]";',
        '    api_key: "[[api_key]]".into(),',
        '    secret_access_key: "[[aws_secret]]".to_owned(),',
        'let [[$pass:snake]] = "[[password]]";',
        '    password: Some("[[password]]".into()),',
        'let [[$tok:snake]]: &str = "[[token]]";',
        '//! Author: [[name]] <[[email]]>',
        'let addr: SocketAddr = "[[ip]]:8443".parse()?;',
        '// version = "[[~version]]"',
        'let gw = Ipv4Addr::new(10, 0, 0, 1); // [[~private_ip]]',
        'const DIGEST: &str = "[[~hash]]";',
        '#[cfg(test)] // [[~uuid]]',
        '// Copyright [[year]] [[~org_name]]',
    ],
    "shell": [
        'API_TOKEN=[[api_key]] ./run.sh',
        'aws configure set aws_secret_access_key [[aws_secret]]',
        'PGPASSWORD=[[password]] psql -h db -U app',
        'echo "[[password]]" | docker login -u ci --password-stdin',
        'export [[$tok:UPPER]]=[[token]]',
        "cat <<EOF > key.pem\n[[private_key]]\nEOF",
        '# Written by [[name]] <[[email]]>',
        'scp build.tar.gz ops@[[ip]]:/srv/',
        'git checkout v[[~version]]',
        'curl -s http://[[~private_ip]]:9200/_health',
        'sha1sum -c <<< "[[~hash]]  pkg.zip"',
        'read -s -p "Password: " PASSWORD',
    ],
    "config/yaml": [
        '    [[$key:snake]]: "[[api_key]]"',
        '  - name: API_KEY\n    value: "[[api_key]]"',
        '      AWS_SECRET_ACCESS_KEY: [[aws_secret]]',
        '    [[$pass:snake]]: [[password]]',
        '  url: amqp://guest:[[password]]@mq.[[host]]:5672/',
        '  [[$tok:snake]]: "[[token]]"',
        '  tls_key: |\n    [[private_key|indent4]]',
        '  owner: "[[name]] <[[email]]>"',
        '  - [[ip]]',
        '  image_version: "[[~version]]"',
        '  - [[~private_ip]]/24',
        '  sha: [[~hash]]',
        '  apiKey: "{{ .Values.apiKey }}"',
    ],
    "config/toml": [
        '[[$key:snake]] = "[[api_key]]"  # do not share',
        'secret_access_key = "[[aws_secret]]"',
        'password = "[[password]]"',
        'token = "[[token]]"',
        'maintainers = ["[[name]] <[[email]]>"]',
        'addresses = ["[[ip]]"]',
        'requires = ["setuptools>=[[~version]]"]',
        'checksum = "[[~hash]]"',
    ],
    "config/ini": [
        '[[$key:UPPER]]=[[api_key]]',
        'aws_secret_access_key=[[aws_secret]]',
        'db.password=[[password]]',
        '[[$pass:snake]]: [[password]]',
        'auth_token = [[token]]',
        'admin_email = [[email]]',
        'bind_address = [[ip]]',
        'release = [[~version]]',
        'nameserver = [[~private_ip]]',
    ],
    "config/json": [
        '  "[[$key:snake]]": "[[api_key]]",',
        '    "SecretAccessKey": "[[aws_secret]]",',
        '    "password": "[[password]]",',
        '  "auth": {"token": "[[token]]"},',
        '  "privateKey": "[[private_key|json]]",',
        '  "contributors": ["[[name]] <[[email]]>"],',
        '  "allowlist": ["[[ip]]"],',
        '    "node": "[[~version]]",',
        '  "resolved": "https://registry.npmjs.org/x/-/x-1.0.0.tgz", "integrity": "[[~integrity]]",',
        '  "requestId": "[[~uuid]]",',
    ],
    "html_css": [
        '<div id="map" data-api-key="[[api_key]]"></div>',
        '<!--\n  secret key: [[api_key]]\n-->',
        '<!-- aws secret [[aws_secret]] -->',
        '<input type="password" value="[[password]]">',
        '<!-- test login: demo / [[password]] -->',
        "<script>window.TOKEN = '[[token]]';</script>",
        '<meta name="author" content="[[name]]">',
        '<!-- mail [[email]] -->',
        '<!-- origin [[ip]] -->',
        '<link rel="stylesheet" href="style.css?ver=[[~version]]">',
        '<!-- dev server [[~private_ip]] -->',
        '<p>Contact: [[~placeholder_email]]</p>',
    ],
    "html_css/css": [
        '/*\n * secret key: [[api_key]]\n */',
        '/* db password: [[password]] */',
        '/* aws secret [[aws_secret]] */',
        '/*! Copyright [[year]] [[name]] */',
        '/* origin [[ip]] */',
        '/*! v[[~version]] */',
        '[[~decorator=@import url("base.css")]];',
        '/* sha [[~hash]] */',
    ],
    "markdown": [
        'Set STRIPE_API_KEY=[[api_key]] before running the examples.',
        '| key | `[[api_key]]` |',
        'Your AWS secret access key is `[[aws_secret]]`.',
        'Log in with `admin` / `[[password]]`.',
        '- password: `[[password]]`',
        'Export the token first: `export [[$tok:UPPER]]=[[token]]`',
        '```json\n{"private_key": "[[private_key|json]]"}\n```',
        '*Author:* [[name]] <[[email]]>',
        'Point your resolver at `[[ip]]`.',
        '### v[[~version]]',
        '`[[~pkg_spec]]` is the last release with IE support.',
        'Built against [[~version]] of the SDK.',
        'Example: `curl http://[[~doc_ip]]/`',
    ],
    "rst": [
        'Set ``[[$key:UPPER]]`` to ``[[api_key]]`` first.',
        'The API key is ``[[api_key]]``.',
        '.. code-block:: ini\n\n    aws_secret_access_key = [[aws_secret]]',
        'Use the password ``[[password]]`` to log in.',
        '.. code-block:: console\n\n    $ export [[$tok:UPPER]]=[[token]]',
        '.. sectionauthor:: [[name]] <[[email]]>',
        ':Author: [[name]]',
        'Connect to ``[[ip]]``.',
        '[[~version]] (2020-11-02)\n' + '~' * 20,
        '.. versionadded:: [[~version]]',
    ],
    "text": [
        'Set [[$key:UPPER]] to [[api_key]] before running.',
        'AWS secret: [[aws_secret]]',
        'login: admin  password: [[password]]',
        '[[$tok:UPPER]]=[[token]]',
        'Author: [[name]]',
        'Contact [[email]] with questions.',
        'Host [[ip]] answered the probe.',
        'Release [[~version]]',
        'md5 [[~hash]]',
    ],
}
# Written for the split that replaced `dev` as the held-out split (then `holdout`, now the tuning
# split `dev2`), before any rules result on it was seen: syntaxes, key names and value shapes
# that neither TUNE_* nor DEV_* use.
DEV2_TEMPLATES: dict[str, list[str]] = {
    "python": [
        'requests.post(url, headers={"X-API-Key": "[[api_key]]"})',
        '[[$key:snake]] = os.getenv("[[$key:UPPER]]", "[[api_key]]")',
        'gateway = Gateway(merchant_id="m-1", [[$key:snake]]="[[api_key]]")',
        "    '[[$key:snake]]': '[[api_key]]',",
        '# export [[$key:UPPER]]="[[api_key]]"',
        'boto3.client("s3", aws_secret_access_key="[[aws_secret]]", region_name="us-east-2")',
        '    "aws_secret_access_key": "[[aws_secret]]",',
        'AWS_SECRET = "[[aws_secret]]"',
        'auth = HTTPBasicAuth("deploy", "[[password]]")',
        'engine = create_engine("mysql+pymysql://report:[[password]]@[[host]]/sales")',
        "    [[$pass:snake]]='[[password]]',",
        '[[$pass:UPPER]]: Final = "[[password]]"',
        'bot = Bot(token="[[token]]")',
        'session.headers["Authorization"] = f"token [[token]]"',
        '[[$tok:UPPER]] = "[[token]]"  # rotate monthly',
        'KEY_PEM = (\n    "[[private_key|pylines]]\\n"\n)',
        '"""\n:Authors: [[name]] <[[email]]>\n"""',
        '__maintainer__ = "[[name]]"',
        '__email__ = "[[email]]"',
        'ADMINS = [("[[name]]", "[[email]]")]',
        '# Thanks to [[name]] for the patch.',
        'resolver.nameservers = ["[[ip]]"]',
        'sock.connect(("[[ip]]", 6379))',
        'WEBHOOK_SOURCE_IPS = {"[[ip]]", "[[ip]]"}',
        'VERSION_INFO = "[[~version]]"',
        'IMAGE = "python@[[~digest]]"',
        'ICON = "[[~data_uri]]"',
        'LOCAL_REDIS = "redis://[[~private_ip]]:6379/0"',
        'request_id = "[[~uuid]]"',
        'ETAG = "[[~hash]]"',
        "# mail [[~placeholder_email]] for an account",
        "[[~decorator=@functools.lru_cache(maxsize=None)]]",
        'API_KEY = "[[~placeholder_secret]]"',
        'password = settings.DATABASES["default"]["PASSWORD"]',
        '# Copyright [[year]] [[~org_name]]. All rights reserved.',
        'TEST_ADDR = "[[~doc_ip]]"',
    ],
    "js_ts": [
        "const client = new Client({ apiKey: '[[api_key]]' });",
        "headers.set('x-api-key', \"[[api_key]]\");",
        "export default { [[$key:camel]]: `[[api_key]]` };",
        "// TODO remove: [[$key:camel]] = [[api_key]]",
        "const credentials = { accessKeyId: id, secretAccessKey: \"[[aws_secret]]\" };",
        "  AWS_SECRET_ACCESS_KEY: '[[aws_secret]]',",
        "const pool = mysql.createPool({ host, user: 'api', password: \"[[password]]\" });",
        "await page.fill('#password', '[[password]]');",
        "const [[$pass:camel]] = process.env.DB_PASS ?? '[[password]]';",
        "const bot = new Telegraf('[[token]]');",
        "  Authorization: 'Bearer ' + '[[token]]',",
        "localStorage.setItem('[[$tok:camel]]', '[[token]]');",
        "  privateKey: fs.existsSync(p) ? fs.readFileSync(p) : '[[private_key|json]]',",
        " * @copyright [[year]] [[name]]",
        " * @contributor [[name]] <[[email]]>",
        "  maintainers: [{ name: '[[name]]', email: '[[email]]' }],",
        "const ALLOWED = new Set(['[[ip]]']);",
        "server.listen(443, '[[ip]]');",
        "  version: '[[~version]]',",
        "import x from 'https://esm.sh/[[~pkg_spec]]';",
        "const digest = '[[~digest]]';",
        "const logo = '[[~data_uri]]';",
        "const id = crypto.randomUUID(); // e.g. [[~uuid]]",
        "const dev = 'http://[[~private_ip]]:5173';",
        "[[~decorator=@Input() value: string;]]",
        "const password = form.get('password');",
    ],
    "java": [
        'client.setApiKey("[[api_key]]");',
        'private static final String [[$key:UPPER]] = System.getProperty("k", "[[api_key]]");',
        'val [[$key:camel]] = "[[api_key]]"',
        'AwsBasicCredentials.create(accessKeyId, "[[aws_secret]]");',
        'hikari.addDataSourceProperty("password", "[[password]]");',
        'KeyStore.getInstance("JKS").load(in, "[[password]]".toCharArray());',
        'const val [[$pass:UPPER]] = "[[password]]"',
        '    .header("X-Auth-Token", "[[token]]")',
        'String [[$tok:camel]] = "[[token]]";',
        ' * @author [[name]] ([[email]])',
        '// Reviewed by [[name]]',
        'new InetSocketAddress("[[ip]]", 5432);',
        'String build = "[[~version]]";',
        'String checksum = "[[~hash]]";',
        '[[~decorator=@Test(timeout = 1000)]]',
        'String image = "eclipse-temurin@[[~digest]]";',
        ' * (C) Copyright [[year]] [[~org_name]]',
    ],
    "c_cpp": [
        'static const char API_KEY_V2[] = "[[api_key]]";',
        'setenv("[[$key:UPPER]]", "[[api_key]]", 1);',
        'const char *aws_secret = "[[aws_secret]]";',
        '#define DB_PASSWORD_DEFAULT "[[password]]"',
        'PQconnectdb("host=db user=app password=[[password]]");',
        '    { .[[$pass:snake]] = "[[password]]" },',
        'curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, "[[token]]");',
        'const char *const [[$tok:snake]] = "[[token]]";',
        'static const char kPem[] =\n    "[[private_key|pylines]]\\n";',
        ' * Maintainer: [[name]] <[[email]]>',
        '/* Contributed by [[name]] */',
        'addr.sin_addr.s_addr = inet_addr("[[ip]]");',
        '#define PROTOCOL_VERSION "[[~version]]"',
        'static const char *digest = "[[~hash]]";',
        '// see [[~placeholder_email]]',
        '#define DEFAULT_GW "[[~private_ip]]"',
    ],
    "go": [
        'stripe.Key = "[[api_key]]"',
        'os.Setenv("[[$key:UPPER]]", "[[api_key]]")',
        '\t[[$key:Title]] string `default:"[[api_key]]"`',
        'creds := credentials.NewStaticCredentials(id, "[[aws_secret]]", "")',
        'cfg.Passwd = "[[password]]"',
        'rdb := redis.NewClient(&redis.Options{Addr: addr, Password: "[[password]]"})',
        'const [[$pass:camel]] = "[[password]]"',
        'tok := &oauth2.Token{AccessToken: "[[token]]"}',
        'bot, _ := tgbotapi.NewBotAPI("[[token]]")',
        'var signKey = []byte(`[[private_key]]`)',
        '// Authors: [[name]] <[[email]]>',
        'conn, err := dialer.Dial("tcp", "[[ip]]:25")',
        'var buildVersion = "[[~version]]"',
        'const emptySHA = "[[~hash]]"',
        'img := "golang@[[~digest]]"',
        'id := "[[~uuid]]" // fixture',
        'conn, _ := net.Dial("tcp", "[[~private_ip]]:9000")',
    ],
    "rust": [
        'let client = Client::new("[[api_key]]");',
        'std::env::set_var("[[$key:UPPER]]", "[[api_key]]");',
        'const [[$key:UPPER]]: &[u8] = b"[[api_key]]";',
        '    .secret_access_key("[[aws_secret]]")',
        'let opts = PgConnectOptions::new().password("[[password]]");',
        'let [[$pass:snake]]: String = "[[password]]".into();',
        '    .bearer_auth("[[token]]")',
        'const [[$tok:UPPER]]: &str = "[[token]]";',
        'let pem = r#"[[private_key]]"#;',
        '//! Maintainer: [[name]] <[[email]]>',
        'let peer = "[[ip]]".parse::<IpAddr>()?;',
        'const MSRV: &str = "[[~version]]";',
        'let sha = "[[~hash]]";',
        'let id = Uuid::parse_str("[[~uuid]]")?;',
        'let image = "rust@[[~digest]]";',
    ],
    "shell": [
        "export [[$key:UPPER]]='[[api_key]]'",
        'curl -H "X-Api-Key: [[api_key]]" https://api.[[host]]/v1/items',
        'docker run -e [[$key:UPPER]]=[[api_key]] app:latest',
        'AWS_SECRET_ACCESS_KEY="[[aws_secret]]" terraform apply',
        'sshpass -p "[[password]]" ssh ops@bastion',
        'mysqladmin -uroot --password=[[password]] status',
        'echo "[[$pass:UPPER]]=[[password]]" >> .env',
        'gh auth login --with-token <<< "[[token]]"',
        'git clone https://oauth2:[[token]]@gitlab.[[host]]/team/app.git',
        "cat > ~/.ssh/id_ed25519 <<EOF\n[[private_key]]\nEOF",
        '# Maintainer: [[name]] <[[email]]>',
        'iptables -A INPUT -s [[ip]] -j ACCEPT',
        'nc -zv [[ip]] 22',
        'pip install "urllib3==[[~version]]"',
        'docker pull nginx@[[~digest]]',
        'echo "[[~hash]]  app.tar.gz" > SHA256SUMS',
        'export DB_HOST=[[~private_ip]]',
        'PASSWORD="$(cat /run/secrets/db_password)"',
    ],
    "config/yaml": [
        '  [[$key:camel]]: [[api_key]]',
        '      - [[$key:UPPER]]=[[api_key]]',
        '    secretKey: [[aws_secret]]',
        '    POSTGRES_PASSWORD: [[password]]',
        "  [[$pass:camel]]: '[[password]]'",
        '    [[$tok:camel]]: [[token]]',
        '  stringData:\n    token: [[token]]',
        '  signing_key: |\n    [[private_key|indent4]]',
        '  author: [[name]] <[[email]]>',
        '  email: [[email]]',
        '    - [[ip]]/32',
        '  upstream: [[ip]]:8080',
        '  tag: "[[~version]]"',
        '    image: postgres@[[~digest]]',
        '  - [[~private_ip]]',
        '  token: ${{ secrets.GITHUB_TOKEN }}',
    ],
    "config/toml": [
        '[[$key:camel]] = "[[api_key]]"',
        "aws_secret_access_key = '[[aws_secret]]'",
        "[[$pass:snake]] = '[[password]]'",
        '[registry.auth]\ntoken = "[[token]]"',
        'authors = [{ name = "[[name]]", email = "[[email]]" }]',
        'listen = "[[ip]]:443"',
        'rust-version = "[[~version]]"',
        'sha256 = "[[~hash]]"',
        'id = "[[~uuid]]"',
    ],
    "config/ini": [
        '[[$key:snake]]: [[api_key]]',
        'secret_key = [[aws_secret]]',
        'spring.datasource.password=[[password]]',
        'PASSWORD = [[password]]',
        '[[$tok:snake]] = [[token]]',
        'maintainer = [[name]] <[[email]]>',
        'server_ip = [[ip]]',
        'app.version=[[~version]]',
        'listen = [[~private_ip]]:5432',
        'password = ${DB_PASSWORD}',
    ],
    "config/json": [
        '  "X-Api-Key": "[[api_key]]",',
        '{"[[$key:UPPER]]": "[[api_key]]"}',
        '  "secretAccessKey": "[[aws_secret]]",',
        '    "PGPASSWORD": "[[password]]",',
        '    "[[$pass:snake]]": "[[password]]"',
        '  "headers": {"Authorization": "Bearer [[token]]"},',
        '  "privateKeyPem": "[[private_key|json]]",',
        '  "author": {"name": "[[name]]", "email": "[[email]]"},',
        '  "dns": ["[[ip]]"],',
        '  "engines": {"node": ">=[[~version]]"},',
        '  "digest": "[[~digest]]",',
        '  "icon": "[[~data_uri]]",',
        '  "sha1": "[[~hash]]",',
    ],
    "html_css": [
        '<script>const API_KEY = "[[api_key]]";</script>',
        '<iframe src="https://maps.[[host]]/embed?key=[[api_key]]"></iframe>',
        '<!-- [[$key:words]]: [[api_key]] -->',
        '<input name="aws_secret" value="[[aws_secret]]">',
        '<!-- staging creds: admin / [[password]] -->',
        '<!-- [[$pass:words]]: [[password]] -->',
        '<script>fetch(u, {headers: {Authorization: "token [[token]]"}})</script>',
        '<address>[[name]] &lt;<a href="mailto:[[email]]">[[email]]</a>&gt;</address>',
        '<footer>&copy; [[year]] [[name]]</footer>',
        '<!-- backend: http://[[ip]]:8000 -->',
        '<link rel="icon" href="[[~data_uri]]">',
        '<script src="https://unpkg.com/[[~pkg_spec]]/dist/index.js"></script>',
        '<span class="version">[[~version]]</span>',
        '<p>Write to <a href="mailto:[[~placeholder_email]]">us</a></p>',
    ],
    "html_css/css": [
        '/* [[$key:snake]] = [[api_key]] */',
        '// [[$key:UPPER]]: [[api_key]]',
        '/* aws_secret_access_key=[[aws_secret]] */',
        '/* password for the staging CDN: [[password]] */',
        '/* [[$tok:snake]]: [[token]] */',
        '/*! @author [[name]] <[[email]]> */',
        '/* cdn edge [[ip]] */',
        '/*! [[~pkg_spec]] | MIT License */',
        '.logo { background: url("[[~data_uri]]"); }',
        '$version: "[[~version]]";',
        '/* hash [[~hash]] */',
    ],
    "markdown": [
        '```python\nclient = Client(api_key="[[api_key]]")\n```',
        '```env\n[[$key:UPPER]]=[[api_key]]\n```',
        'Then paste your key (`[[api_key]]`) into the settings page.',
        '| `AWS_SECRET_ACCESS_KEY` | `[[aws_secret]]` |',
        '```ini\naws_secret_access_key = [[aws_secret]]\n```',
        'Default credentials: **admin** / **[[password]]**',
        '```yaml\npassword: [[password]]\n```',
        '```sh\ncurl -u admin:[[password]] http://localhost:9200\n```',
        'Use this token to try it: `[[token]]`',
        '```\nAuthorization: Bearer [[token]]\n```',
        '```pem\n[[private_key]]\n```',
        'Thanks to [[name]] (<[[email]]>) for the fix.',
        '* [[name]] — maintainer',
        'Our resolver is `[[ip]]`.',
        '## v[[~version]] — 2023-06-01',
        '`docker pull app@[[~digest]]`',
        '![badge]([[~data_uri]])',
        'Send questions to <[[~placeholder_email]]>.',
        'Install: `pip install pkg==[[~version]]`',
    ],
    "rst": [
        '.. code-block:: python\n\n    API_KEY = "[[api_key]]"',
        ':api_key: ``[[api_key]]``',
        'Set the environment variable ``AWS_SECRET_ACCESS_KEY=[[aws_secret]]``.',
        '.. code-block:: bash\n\n    export [[$pass:UPPER]]=[[password]]',
        'The default password is ``[[password]]`` (change it).',
        '::\n\n    [[$tok:snake]] = "[[token]]"',
        '.. code-block:: text\n\n    [[private_key|indent4]]',
        ':copyright: [[year]] [[name]]',
        '* [[name]] <[[email]]>',
        'The proxy listens on ``[[ip]]:3128``.',
        '.. versionchanged:: [[~version]]',
        'Release [[~version]]\n' + '=' * 16,
        '    pip install pkg==[[~version]]',
        'Digest: ``[[~digest]]``',
    ],
    "text": [
        'api key = [[api_key]]',
        '[[$key:words]]: [[api_key]]',
        'AWS secret access key: [[aws_secret]]',
        'user: deploy\npass: [[password]]',
        'The [[$pass:words]] is [[password]]',
        'token=[[token]]',
        'Key file contents:\n[[private_key]]',
        '[[name]] <[[email]]>',
        'Contributors: [[name]], [[name]]',
        'Ping [[ip]] from the jump host.',
        'Version: [[~version]]',
        'Changes in [[~version]]',
        'sha1: [[~hash]]',
        'Build [[~uuid]]',
    ],
}
# Written for the third held-out split (corpus `holdout3`) before any rules result on it was seen,
# and not changed after: syntaxes, comment styles, key names and value shapes that no other
# split uses (disjoint template strings, pools, API key, token, password and PEM styles).
# Tuned on since round 5 (split `dev3`).
DEV3_TEMPLATES: dict[str, list[str]] = {
    "python": [
        'app.config["[[$key:UPPER]]"] = "[[api_key]]"',
        '[[$key:snake]]: Final[str] = "[[api_key]]"',
        '    "[[$key:snake]]": os.environ.get("[[$key:UPPER]]") or "[[api_key]]",',
        '# [[$key:words]] (sandbox): [[api_key]]',
        'headers = {"Authorization": f"Api-Key [[api_key]]"}',
        'SETTINGS = dict([[$key:snake]]=r"[[api_key]]")',
        'aws = {"access_key": key_id, "secret_key": "[[aws_secret]]"}',
        'client = boto3.resource("dynamodb", aws_access_key_id=akid,\n                        aws_secret_access_key=os.getenv("AWS_SK", "[[aws_secret]]"))',
        "    # aws_secret_access_key='[[aws_secret]]'",
        '[[$pass:snake]] = "[[password]]"  # noqa: S105',
        'ftp.login("backup", "[[password]]")',
        'smtp.login(user=SMTP_USER, password="[[password]]")',
        'DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "PASSWORD": "[[password]]", "HOST": "db"}}',
        'uri = "mongodb://root:[[password]]@mongo-0.[[host]]:27017/?authSource=admin"',
        'keyring.set_password("svc", "bot", "[[password]]")',
        '[[$tok:UPPER]]: str = "[[token]]"',
        'client = WebClient(token=os.environ.get("SLACK_BOT_TOKEN", "[[token]]"))',
        'resp = httpx.get(url, headers={"Authorization": "Bearer " + "[[token]]"})',
        '    token="[[token]]",',
        'PRIVATE_KEY_PEM = b"""[[private_key]]"""',
        'key = serialization.load_pem_private_key(b"[[private_key|json]]", password=None)',
        '__credits__ = ["[[name]]", "[[name]]"]',
        '# Maintained by [[name]] <[[email]]>',
        '    author_email="[[email]]",',
        '    author="[[name]]",',
        '# bug reports go to [[email]]',
        '"""Utilities.\n\n.. codeauthor:: [[name]] <[[email]]>\n"""',
        '# SPDX-FileCopyrightText: [[year]] [[name]] <[[email]]>',
        'UPSTREAM_DNS = "[[ip]]"',
        'client = Redis(host="[[ip]]", port=6380)',
        '    ("[[ip]]", 443),',
        'logger.info("connected to %s", "[[ip]]")',
        'min_version = "[[~version]]"',
        '    "setuptools_scm>=[[~version]]",',
        'if parse(lib.__version__) < Version("[[~version]]"):',
        '# Deprecated since [[~version]], removed in 5.0',
        'NTP_SERVER = "[[~private_ip]]"',
        'EXAMPLE_PEER = "[[~doc_ip]]"  # RFC 5737',
        'digest = hashlib.sha256(data).hexdigest()  # e.g. [[~hash]]',
        'GIT_COMMIT = "[[~hash]]"',
        'SESSION_ID = uuid.UUID("[[~uuid]]")',
        'DEFAULT_FROM_EMAIL = "[[~placeholder_email]]"',
        '[[~decorator=@dataclass(frozen=True, slots=True)]]',
        '[[~decorator=@router.get("/items/{item_id}")]]',
        'API_TOKEN = "[[~placeholder_secret]]"',
        'SSH_PUBKEY = "[[~public_key|json]]"',
        '# the frontend needs [[~pkg_spec]]',
        'password = input("Password: ")',
        'secret = os.environ["APP_SECRET"]',
        '# SPDX-FileCopyrightText: [[year]] [[~org_name]]',
    ],
    "js_ts": [
        'const stripe = require("stripe")("[[api_key]]");',
        'export const environment = { production: false, [[$key:camel]]: "[[api_key]]" };',
        'const [[$key:UPPER]] = import.meta.env.VITE_KEY ?? "[[api_key]]";',
        '  headers: { "X-Api-Key": `[[api_key]]` },',
        '// [[$key:words]] for local testing: [[api_key]]',
        "/** @type {string} */ const [[$key:camel]] = '[[api_key]]';",
        "const s3 = new S3Client({ region, credentials: { accessKeyId: akid, secretAccessKey: '[[aws_secret]]' } });",
        "process.env.AWS_SECRET_ACCESS_KEY ||= '[[aws_secret]]';",
        '    secret_access_key: "[[aws_secret]]",',
        "const sequelize = new Sequelize('shop', 'shop', '[[password]]', { dialect: 'postgres' });",
        "const db = knex({ client: 'pg', connection: { user: 'app', password: '[[password]]' } });",
        '  [[$pass:camel]]: "[[password]]",  // dev only',
        "await redis.auth('[[password]]');",
        'const url = `amqps://worker:[[password]]@[[host]]/vhost`;',
        "const octokit = new Octokit({ auth: '[[token]]' });",
        "    'Authorization': 'Bearer [[token]]',",
        "export const [[$tok:UPPER]] = '[[token]]' as const;",
        'const privateKey = `[[private_key]]`.trim();',
        "jwt.sign(payload, \"[[private_key|json]]\", { algorithm: 'RS256' });",
        ' * Originally written by [[name]] ([[email]])',
        "  author: { name: '[[name]]', url: 'https://[[host]]' },",
        '// reach me at [[email]]',
        "const REPLICA = '[[ip]]';",
        "const ws = new WebSocket('wss://[[ip]]:8443/feed');",
        "  trustedProxies: ['[[ip]]', 'loopback'],",
        "if (semver.lt(process.version, '[[~version]]')) {",
        "export const VERSION = '[[~version]]'; // x-release-please-version",
        '/*! lib v[[~version]] | MIT */',
        "fetch('http://[[~private_ip]]:8080/metrics');",
        "const TEST_NET = '[[~doc_ip]]'; // RFC 5737",
        "const head = '[[~hash]]'; // git rev-parse HEAD",
        "import conf from 'https://cdn.jsdelivr.net/npm/[[~pkg_spec]]/+esm';",
        "const integrity = '[[~integrity]]';",
        "const requestId = '[[~uuid]]';",
        "[[~decorator=@Controller('users')]]",
        "[[~decorator=@Column({ type: 'varchar', length: 255 })]]",
        "const token = req.headers['x-auth-token'];",
        "const apiKey = core.getInput('api-key');",
        '// contact: [[~placeholder_email]]',
        'const pub = `[[~public_key]]`;',
        "const STRIPE_KEY = '[[~placeholder_secret]]';",
    ],
    "java": [
        'public static final String [[$key:UPPER]] =\n        "[[api_key]]";',
        'headers.put("X-API-KEY", "[[api_key]]");',
        '@Value("${[[$key:kebab]]:[[api_key]]}") private String apiKey;',
        '    .apiKey("[[api_key]]")',
        'System.setProperty("aws.secretAccessKey", "[[aws_secret]]");',
        'new AWSStaticCredentialsProvider(new BasicSessionCredentials(id, "[[aws_secret]]", sessionToken))',
        'props.put("mail.smtp.password", "[[password]]");',
        'new PasswordAuthentication("mailer", "[[password]]".toCharArray())',
        'char[] [[$pass:camel]] = "[[password]]".toCharArray();',
        'val [[$pass:camel]] = "[[password]]" // Kotlin',
        '    .header(HttpHeaders.AUTHORIZATION, "Bearer [[token]]")',
        'private static final String [[$tok:UPPER]] =\n        "[[token]]";',
        'String pem = "[[private_key|json]]";',
        'private static final String KEY = """\n    [[private_key|indent4]]\n    """;',
        ' * @author <a href="mailto:[[email]]">[[name]]</a>',
        ' * Contributors: [[name]], [[name]]',
        '// Ported by [[name]]',
        'private static final String DNS = "[[ip]]";',
        'socket.connect(new InetSocketAddress("[[ip]]", 9092), 5000);',
        '    .baseUrl("http://[[ip]]:8500")',
        'implementation("com.squareup.okio:okio:[[~version]]")',
        '@Deprecated(since = "[[~version]]", forRemoval = true)',
        'public static final String BUILD_VERSION = "[[~version]]";',
        'private static final String CONSUL = "[[~private_ip]]:8500";',
        'assertEquals("[[~uuid]]", id.toString());',
        'String etag = "\\"[[~hash]]\\"";',
        '[[~decorator=@JsonProperty("access_token")]]',
        '[[~decorator=@Transactional(readOnly = true)]]',
        'String password = new String(console.readPassword());',
        ' * SPDX-FileCopyrightText: [[year]] [[~org_name]]',
        'String sample = "[[~doc_ip]]"; // TEST-NET-2',
    ],
    "c_cpp": [
        '#define [[$key:UPPER]] "[[api_key]]"  /* sandbox */',
        'static const std::string kApiKey{"[[api_key]]"};',
        'const char *[[$key:snake]] = getenv("K") ? getenv("K") : "[[api_key]]";',
        'cfg.[[$key:snake]] = "[[api_key]]";',
        '// [[$key:words]]=[[api_key]]',
        'Aws::Auth::AWSCredentials creds("AKIDEXAMPLE", "[[aws_secret]]");',
        '#define AWS_SECRET_KEY "[[aws_secret]]"',
        'snprintf(conninfo, sizeof conninfo, "host=%s user=%s password=[[password]]", h, u);',
        'static char [[$pass:snake]][] = "[[password]]";',
        'ssh_userauth_password(session, NULL, "[[password]]");',
        'curl_easy_setopt(curl, CURLOPT_USERPWD, "admin:[[password]]");',
        'headers = curl_slist_append(headers, "Authorization: Bearer [[token]]");',
        'constexpr char [[$tok:snake]][] = "[[token]]";',
        'const char *kKey = R"PEM([[private_key]])PEM";',
        ' * \\author [[name]] <[[email]]>',
        '/* Patch by [[name]] */',
        ' *   [[name]] ([[email]])',
        '#define FALLBACK_NTP "[[ip]]"',
        'inet_aton("[[ip]]", &sa.sin_addr);',
        '#define VERSION_STRING "[[~version]]"',
        '    {"zlib", "[[~version]]"},',
        'static const char *gateway = "[[~private_ip]]";',
        '/* see RFC 5737: [[~doc_ip]] */',
        'static const char sha256_expected[] = "[[~hash]]";',
        '#define UUID_STR "[[~uuid]]"',
        '// questions: [[~placeholder_email]]',
    ],
    "go": [
        'var apiKey = flag.String("api-key", "[[api_key]]", "service API key")',
        '\t\tSecret: "[[api_key]]",',
        'const [[$key:camel]] = `[[api_key]]`',
        '// [[$key:UPPER]]: [[api_key]] (rotate quarterly)',
        'cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(akid, "[[aws_secret]]", ""))',
        '\tAWSSecretKey string `env:"AWS_SECRET_KEY" envDefault:"[[aws_secret]]"`',
        'pool, err := pgxpool.New(ctx, "postgres://api:[[password]]@[[host]]:5432/api?sslmode=require")',
        'db, err := sql.Open("mysql", "root:[[password]]@tcp(127.0.0.1:3306)/shop")',
        '\t[[$pass:Title]]: "[[password]]",',
        'auth := smtp.PlainAuth("", "mailer", "[[password]]", host)',
        'req.SetBasicAuth("admin", "[[password]]")',
        'client := github.NewClient(nil).WithAuthToken("[[token]]")',
        '\t"Authorization": {"Bearer [[token]]"},',
        '[[$tok:camel]] := "[[token]]"',
        'block, _ := pem.Decode([]byte("[[private_key|json]]"))',
        '// Package cache was written by [[name]].',
        '//   [[name]] <[[email]]>',
        '\tEmail: "[[email]]",',
        'ln, err := net.Listen("tcp", "[[ip]]:7946")',
        '\tPeers: []string{"[[ip]]:2380", "[[ip]]:2380"},',
        'const MinVersion = "[[~version]]"',
        '\tgithub.com/acme/lib v[[~version]] // indirect',
        '\tDNS: "[[~private_ip]]",',
        'var docAddr = netip.MustParseAddr("[[~doc_ip]]")',
        'const wantSum = "[[~hash]]"',
        '\tID: uuid.MustParse("[[~uuid]]"),',
        '\tImage: "redis@[[~digest]]",',
        '\tKey: os.Getenv("API_KEY"),',
    ],
    "rust": [
        'let api = Api::builder().api_key("[[api_key]]").build()?;',
        'let [[$key:snake]] = option_env!("[[$key:UPPER]]").unwrap_or("[[api_key]]");',
        '    [[$key:snake]]: String::from("[[api_key]]"),',
        '/* [[$key:snake]] = "[[api_key]]" */',
        '    .credentials_provider(Credentials::new(akid, "[[aws_secret]]", None, None, "static"))',
        'static AWS_SECRET_ACCESS_KEY: &str = "[[aws_secret]]";',
        'let url = format!("postgres://svc:[[password]]@{}/db", host);',
        'let [[$pass:snake]] = SecretString::new("[[password]]".into());',
        '    .basic_auth("admin", Some("[[password]]"))',
        'headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer [[token]]"));',
        '    token: "[[token]]".to_owned(),',
        'const PKCS8: &str = "[[private_key|json]]";',
        'const TEST_KEY: &[u8] = b"[[private_key|json]]";',
        '/// Maintained by [[name]] ([[email]]).',
        '//! Contributed by [[name]]',
        'let peer: IpAddr = "[[ip]]".parse().expect("ip");',
        'let stream = TcpStream::connect(("[[ip]]", 5672)).await?;',
        '#[deprecated(since = "[[~version]]", note = "use new_api")]',
        'let local = "[[~private_ip]]";',
        'assert_eq!(digest, "[[~hash]]");',
        'const NS: Uuid = uuid!("[[~uuid]]");',
        'let doc = "[[~doc_ip]]"; // TEST-NET',
        '// see [[~placeholder_email]]',
        'let key = std::env::var("API_KEY")?;',
    ],
    "shell": [
        'export [[$key:UPPER]]=[[api_key]] # added by setup.sh',
        'curl -sS -u "api:[[api_key]]" https://api.[[host]]/v3/messages',
        'http POST https://api.[[host]]/jobs "X-API-Key:[[api_key]]"',
        'heroku config:set [[$key:UPPER]]=[[api_key]]',
        'cat >> ~/.aws/credentials <<EOF\n[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = [[aws_secret]]\nEOF',
        'env AWS_SECRET_ACCESS_KEY=[[aws_secret]] aws s3 sync . s3://bucket',
        'psql "postgresql://admin:[[password]]@[[host]]:5432/app" -c "select 1"',
        "export [[$pass:UPPER]]='[[password]]'",
        'docker run -e POSTGRES_PASSWORD=[[password]] -d postgres',
        'htpasswd -b .htpasswd admin [[password]]',
        'smbclient //nas/share -U backup%[[password]]',
        'npm config set //registry.npmjs.org/:_authToken=[[token]]',
        'git remote set-url origin https://x-access-token:[[token]]@github.com/org/repo.git',
        'curl -H "Authorization: Bearer [[token]]" "https://api.[[host]]/v2/me"',
        "read -r -d '' KEY <<'PEM'\n[[private_key]]\nPEM",
        "printf '%b' \"[[private_key|json]]\" > /tmp/deploy.key",
        '# Contributed by [[name]] <[[email]]>',
        'git config user.email "[[email]]"',
        'git config --global user.name "[[name]]"',
        'ufw allow from [[ip]] to any port 22',
        'dig @[[ip]] example.com +short',
        'rsync -az ./dist/ www@[[ip]]:/var/www/',
        'nvm install [[~version]]',
        'curl -LO https://releases.[[host]]/tool-[[~version]].tar.gz',
        'VERSION="${VERSION:-[[~version]]}"',
        'curl http://[[~private_ip]]:8500/v1/status/leader',
        'echo "[[~hash]] *pkg.tgz" | shasum -a 256 -c',
        'docker pull alpine@[[~digest]]',
        'echo "[[~public_key]]" >> ~/.ssh/authorized_keys',
        'export API_KEY="[[~placeholder_secret]]"',
        'read -rsp "Password: " DB_PASSWORD',
        'TOKEN=$(vault kv get -field=token secret/ci)',
    ],
    "config/yaml": [
        '    [[$key:kebab]]: [[api_key]]',
        '  - name: [[$key:UPPER]]\n    value: [[api_key]]',
        '      [[$key:UPPER]]: "[[api_key]]"',
        'api:\n  keys:\n    live: [[api_key]]',
        '  AWS_SECRET_ACCESS_KEY: "[[aws_secret]]"',
        '      secret_key: [[aws_secret]]',
        '  password: "[[password]]"  # change me',
        '    - MYSQL_ROOT_PASSWORD=[[password]]',
        '  dsn: "postgresql://grafana:[[password]]@db:5432/grafana"',
        '  [[$pass:snake]]: [[password]]',
        '    [[$tok:kebab]]: "[[token]]"',
        '  authToken: [[token]]',
        '    Authorization: "Bearer [[token]]"',
        '    key.pem: |-\n      [[private_key|indent6]]',
        '  key: "[[private_key|json]]"',
        'maintainers:\n  - name: [[name]]\n    email: [[email]]',
        '  contact: [[email]]',
        '  - host: [[ip]]\n    port: 9200',
        '      - "[[ip]]:53"',
        '  loadBalancerIP: [[ip]]',
        'appVersion: "[[~version]]"',
        '      node-version: [[~version]]',
        '    image: "grafana/grafana:[[~version]]"',
        'kubeVersion: ">=[[~version]]"',
        '  clusterIP: [[~private_ip]]',
        '  nameservers: ["[[~doc_ip]]"]',
        '    checksum/config: [[~hash]]',
        '  uid: [[~uuid]]',
        '    token: ${{ secrets.NPM_TOKEN }}',
        '  password: "[[~placeholder_secret]]"',
        '  ssh_authorized_key: "[[~public_key|json]]"',
    ],
    "config/toml": [
        '[[$key:kebab]] = "[[api_key]]"',
        '[api]\nkey = "[[api_key]]"',
        '[s3]\naccess_key = "AKIDEXAMPLE"\nsecret_key = "[[aws_secret]]"',
        '[database]\nurl = "mysql://app:[[password]]@localhost/app"',
        '[[$pass:kebab]] = "[[password]]"',
        '[tool.poetry.http-basic.private]\nusername = "ci"\npassword = "[[password]]"',
        'token = { value = "[[token]]" }',
        '[registries.internal]\ntoken = "Bearer [[token]]"',
        "private_key = '''\n[[private_key]]\n'''",
        'maintainers = [\n  { name = "[[name]]", email = "[[email]]" },\n]',
        'peers = ["[[ip]]:7000"]',
        'requires-python = ">=[[~version]]"',
        'tag = "v[[~version]]"',
        'bind = "[[~private_ip]]:8080"',
        'blake3 = "[[~hash]]"',
        'run-id = "[[~uuid]]"',
    ],
    "config/ini": [
        '[[$key:kebab]]=[[api_key]]',
        '[api]\nkey = [[api_key]]',
        '[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = [[aws_secret]]',
        'fs.s3a.secret.key=[[aws_secret]]',
        'spring.mail.password=[[password]]',
        '[client]\nuser = root\npassword = "[[password]]"',
        '[[$pass:UPPER]] = [[password]]',
        'bot.token = [[token]]',
        '[[$tok:kebab]] = [[token]]',
        ';; contact [[email]]',
        'allowed_hosts = [[ip]], localhost',
        'ntp_server = [[ip]]',
        'Bundle-Version: [[~version]]',
        'min_version = [[~version]]',
        'bind = [[~private_ip]]',
        'sha256 = [[~hash]]',
        'token = %(ENV_TOKEN)s',
    ],
    "config/json": [
        '  "[[$key:kebab]]": "[[api_key]]",',
        '  "credentials": {"key": "[[api_key]]"},',
        '    "awsSecretAccessKey": "[[aws_secret]]",',
        '  "aws": {"accessKeyId": "AKIDEXAMPLE", "secretAccessKey": "[[aws_secret]]"},',
        '  "ConnectionStrings": {"Default": "Server=db;User Id=sa;Password=[[password]];"},',
        '  "[[$pass:kebab]]": "[[password]]",',
        '  "auth": {"username": "ci", "password": "[[password]]"},',
        '  "//registry.npmjs.org/:_authToken": "[[token]]",',
        '  "access_token": "[[token]]", "token_type": "Bearer",',
        '  "private_key_id": "[[~hash]]", "private_key": "[[private_key|json]]",',
        '  "author": {"name": "[[name]]", "email": "[[email]]", "url": "https://[[host]]"},',
        '  "bugs": {"email": "[[email]]"},',
        '  "ip": "[[ip]]",',
        '  "peers": [{"address": "[[ip]]", "port": 30303}],',
        '  "packageManager": "[[~pkg_spec]]",',
        '  "minimumVersion": "[[~version]]",',
        '      "integrity": "[[~integrity]]",\n      "dev": true',
        '  "uuid": "[[~uuid]]",',
        '  "dns": ["[[~private_ip]]"],',
        '  "publicKey": "[[~public_key|json]]",',
    ],
    "html_css": [
        '<script src="https://maps.[[host]]/api/js?key=[[api_key]]&callback=init"></script>',
        '<!-- [[$key:snake]]=[[api_key]] -->',
        '<input type="hidden" name="api_key" value="[[api_key]]">',
        '<!-- AWS_SECRET_ACCESS_KEY: [[aws_secret]] -->',
        '<pre>aws_secret_access_key = [[aws_secret]]</pre>',
        '<!-- test account: qa / [[password]] -->',
        '<input type="password" name="pw" value="[[password]]" autocomplete="off">',
        '<code>export [[$pass:UPPER]]=[[password]]</code>',
        '<div data-token="[[token]]"></div>',
        '<script>window.__ENV__ = { [[$tok:camel]]: "[[token]]" };</script>',
        '<pre><code>[[private_key]]</code></pre>',
        '<p>Maintained by <a href="mailto:[[email]]">[[name]]</a></p>',
        '<meta name="author" content="[[name]] &lt;[[email]]&gt;">',
        '<!-- node: [[ip]] -->',
        '<td>[[ip]]</td>',
        '<meta name="generator" content="Hugo [[~version]]">',
        '<small>v[[~version]]</small>',
        '<!-- local api at http://[[~private_ip]]:3000 -->',
        '<code>[[~doc_ip]]</code>',
        '<link rel="stylesheet" href="https://cdn.[[host]]/x.css" integrity="[[~integrity]]">',
        '<img alt="logo" src="[[~data_uri]]">',
        '<a href="mailto:[[~placeholder_email]]">email us</a>',
        '<p>Build [[~hash]]</p>',
    ],
    "html_css/css": [
        '/* [[$key:kebab]]: [[api_key]] */',
        '/* api key for the fonts CDN: [[api_key]] */',
        '/* aws secret key: [[aws_secret]] */',
        '/* basic auth for the preview: preview / [[password]] */',
        '// [[$pass:snake]] = [[password]]',
        '/* bearer [[token]] */',
        '/*! Theme by [[name]] <[[email]]> */',
        '/* edge node [[ip]] */',
        '/*! theme [[~version]] | MIT */',
        '@font-face { font-family: "Icons"; src: url("[[~data_uri]]"); }',
        '/* built from [[~hash]] */',
        '[[~decorator=@supports (display: grid)]] {',
        '[[~decorator=@keyframes fade-in]] {',
    ],
    "markdown": [
        '```js\nconst client = new Client("[[api_key]]");\n```',
        '1. Copy your key: `[[api_key]]`',
        '> **Note:** the demo key `[[api_key]]` is rate-limited.',
        'Set `[[$key:UPPER]]` to `[[api_key]]` in your `.env` file.',
        '```toml\n[aws]\nsecret_access_key = "[[aws_secret]]"\n```',
        '- `AWS_SECRET_ACCESS_KEY=[[aws_secret]]`',
        'The staging password is **[[password]]**.',
        '```bash\ndocker login -u deploy -p [[password]] registry.[[host]]\n```',
        '| user | `admin` |\n| password | `[[password]]` |',
        'Login: `demo` Password: `[[password]]`',
        '```http\nGET /v1/me HTTP/1.1\nAuthorization: Bearer [[token]]\n```',
        'Your personal token: **[[token]]**',
        '```json\n{"token": "[[token]]"}\n```',
        '<details><summary>key</summary>\n\n```\n[[private_key]]\n```\n</details>',
        '- [[name]] <[[email]]>',
        'Written by [[name]].',
        'Questions? Email [[email]].',
        'The cluster is reachable at `[[ip]]:6443`.',
        '| api-1 | [[ip]] | up |',
        '- Bump `esbuild` from [[~version]] to [[~version]]',
        '| [[~version]] | 2024-02-11 | stable |',
        '![version](https://img.shields.io/badge/version-[[~version]]-blue)',
        'Tested on Ubuntu [[~version]].',
        'Use `[[~private_ip]]` inside the VPN.',
        '`[[~doc_ip]]` is a documentation address.',
        'Verify with `sha256sum`: `[[~hash]]`',
        '`npx [[~pkg_spec]] init`',
        'Replace `[[~placeholder_secret]]` with your key.',
        'Mail <[[~placeholder_email]]>.',
        '`[[~uuid]]` is the tenant ID.',
    ],
    "rst": [
        '.. code-block:: yaml\n\n    [[$key:snake]]: [[api_key]]',
        'Pass ``api_key="[[api_key]]"`` to the client.',
        'The sandbox key is ``[[api_key]]``.',
        '.. code-block:: shell\n\n    export AWS_SECRET_ACCESS_KEY=[[aws_secret]]',
        '``aws_secret_access_key``: ``[[aws_secret]]``',
        '.. code-block:: python\n\n    conn = connect(user="scott", password="[[password]]")',
        'The password for the ``demo`` account is ``[[password]]``.',
        '* **password**: ``[[password]]``',
        '.. code-block:: console\n\n    $ curl -H "Authorization: Bearer [[token]]" https://api.[[host]]/',
        'Set ``[[$tok:UPPER]]`` to ``[[token]]``.',
        '.. code-block:: none\n\n    [[private_key|indent4]]',
        ':Maintainer: [[name]] <[[email]]>',
        '.. codeauthor:: [[name]] <[[email]]>',
        'Thanks to [[name]] for the review.',
        'The test server is ``[[ip]]``.',
        '.. deprecated:: [[~version]]',
        'Changes in version [[~version]]\n' + '-' * 25,
        ':version: [[~version]]',
        'Requires libfoo [[~version]] or later.',
        'Use ``[[~private_ip]]`` for the internal mirror.',
        'The tenant is ``[[~uuid]]``.',
        '.. |digest| replace:: ``[[~digest]]``',
    ],
    "text": [
        'Sandbox API key:  [[api_key]]',
        '[[$key:UPPER]] = [[api_key]]',
        'aws_secret_access_key: [[aws_secret]]',
        'Secret access key ... [[aws_secret]]',
        'Password for the admin UI: [[password]]',
        '  user=deploy password=[[password]]',
        'Access token (expires in 90 days): [[token]]',
        'Paste this into ~/.ssh/id_rsa:\n\n[[private_key]]',
        'Maintainer: [[name]] <[[email]]>',
        'Send bug reports to [[email]].',
        'Original author: [[name]]',
        'Servers: [[ip]], [[ip]]',
        'Version history\n[[~version]] - bug fixes',
        'Upgrade to [[~version]] or newer.',
        'Internal host: [[~private_ip]]',
        'checksum: [[~hash]]',
        'Request ID: [[~uuid]]',
    ],
}
# Written for the fourth held-out split (corpus `holdout4`, round 5) before any rules result on it
# was seen, and not changed after: syntaxes, comment styles, key names, prose phrasings and value
# shapes that no other split uses (disjoint template strings, pools, API key, token, password,
# placeholder and PEM styles).
HOLDOUT_TEMPLATES: dict[str, list[str]] = {
    "python": [
        'os.environ.setdefault("[[$key:UPPER]]", "[[api_key]]")',
        'self.[[$key:snake]] = kwargs.pop("[[$key:snake]]", "[[api_key]]")',
        'monkeypatch.setenv("[[$key:UPPER]]", "[[api_key]]")',
        'parser.add_argument("--[[$key:kebab]]", default="[[api_key]]", help="service key")',
        '#: [[$key:words]] used by the nightly job -> [[api_key]]',
        'KEYS = {\n    "prod": "[[api_key]]",\n    "staging": None,\n}',
        'translator = deepl.Translator("[[api_key]]")',
        'os.environ["AWS_SECRET_ACCESS_KEY"] = "[[aws_secret]]"',
        'creds = botocore.credentials.Credentials("AKIDEXAMPLE", "[[aws_secret]]")',
        'storage_options = {"key": akid, "secret": "[[aws_secret]]"}',
        'engine = create_engine("mysql+pymysql://etl:[[password]]@[[host]]/warehouse")',
        'conn = psycopg2.connect(dbname="app", user="app", password="[[password]]", host=host)',
        'resp = requests.get(url, auth=("admin", "[[password]]"), timeout=10)',
        '[[$pass:UPPER]] = os.getenv("[[$pass:UPPER]]", "[[password]]")',
        'ldap_conn.simple_bind_s("cn=admin,dc=example,dc=org", "[[password]]")',
        'headers["X-Auth-Token"] = "[[token]]"',
        'gh = Github(auth=Auth.Token("[[token]]"))',
        '[[$tok:snake]] = "[[token]]"  # TODO: move to vault',
        'SIGNING_KEY = """\\\n[[private_key]]\n"""',
        'private_key = (\n    "[[private_key|pylines]]"\n)',
        '__author__ = "[[name]]"\n__email__ = "[[email]]"',
        '# (C) [[year]], [[name]]',
        '    maintainer_email="[[email]]",',
        '# Thanks to [[name]] for the original patch.',
        '# TODO([[email]]): drop after the migration',
        'INTERNAL_IPS = ("[[ip]]",)',
        'sock.sendto(payload, ("[[ip]]", 514))',
        'proxies = {"https": "http://[[ip]]:3128"}',
        '# prod db: [[ip]]',
        'CHROME_VERSION = "[[~version]]"  # pinned for selenium',
        '    install_requires=["grpcio-tools==[[~version]]"],',
        '# Changed in version [[~version]]: added *timeout*.',
        'if platform.release() >= "[[~version]]":',
        'SUBNET = "[[~private_ip]]/24"',
        'assert resolver.query("host") == "[[~doc_ip]]"',
        'ETAG = \'W/"[[~hash]]"\'',
        'upstream_sha = "[[~hash]]"  # vendored from upstream',
        'TRACE_ID = "[[~uuid]]"',
        'EMAIL_HOST_USER = "[[~placeholder_email]]"',
        '[[~decorator=@pytest.mark.parametrize("n", [1, 2, 3])]]',
        '[[~decorator=@app.route("/login", methods=["POST"])]]',
        'OPENAI_API_KEY = "[[~placeholder_secret]]"',
        '# npm i -D [[~pkg_spec]]',
        'deploy_key = "[[~public_key|json]]"',
        'BASE_IMAGE = "ghcr.io/acme/base@[[~digest]]"',
        'LOGO = "[[~data_uri]]"',
        'password = getpass.getpass("Vault password: ")',
        'token = request.headers.get("Authorization", "").removeprefix("Bearer ")',
        '# Copyright [[year]] [[~org_name]]',
    ],
    "js_ts": [
        'const resend = new Resend("[[api_key]]");',
        'process.env.[[$key:UPPER]] ??= "[[api_key]]";',
        'export default defineConfig({ [[$key:camel]]: "[[api_key]]" });',
        'axios.defaults.headers.common[\'x-api-key\'] = "[[api_key]]";',
        '  /** [[$key:words]] */ [[$key:camel]]: "[[api_key]]",',
        "const url = `https://api.[[host]]/data/2.5/weather?q=${city}&appid=[[api_key]]`;",
        "AWS.config.update({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: '[[aws_secret]]' });",
        "const awsSecret: string = process.env.AWS_SECRET ?? '[[aws_secret]]';",
        "  createConnection({ host: 'db', user: 'root', password: '[[password]]' })",
        "const transporter = nodemailer.createTransport({ auth: { user: 'mailer', pass: '[[password]]' } });",
        '  [[$pass:camel]]: process.env.[[$pass:UPPER]] || "[[password]]",',
        "mongoose.connect('mongodb+srv://app:[[password]]@cluster0.[[host]]/test');",
        "localStorage.setItem('token', '[[token]]');",
        "const client = new Client({ auth: '[[token]]' });",
        "export const [[$tok:camel]]: string = '[[token]]';",
        'fetch(url, { headers: { Authorization: `token [[token]]` } });',
        'const signingKey = "[[private_key|json]]";',
        'fs.writeFileSync(keyPath, `[[private_key]]\n`);',
        ' * @author [[name]] ([[email]])',
        '// Copyright [[year]] [[name]]. All rights reserved.',
        '  "contributors": ["[[name]] <[[email]]>"],',
        '// ping [[email]] before changing this',
        "const server = app.listen(8080, '[[ip]]');",
        "  upstream: 'http://[[ip]]:9000',",
        "const BLOCKED = new Set(['[[ip]]', '[[ip]]']);",
        "const ua = 'Mozilla/5.0 (X11; Linux x86_64) Chrome/[[~version]] Safari/537.36';",
        "if (compareVersions(app.version, '[[~version]]') < 0) update();",
        '// @since [[~version]]',
        "const DEV_API = 'http://[[~private_ip]]:4000/graphql';",
        "expect(parseIp('[[~doc_ip]]')).toBeTruthy();",
        "const commit = '[[~hash]]';",
        "script.integrity = '[[~integrity]]';",
        "const tenantId = '[[~uuid]]';",
        "[[~decorator=@Injectable({ providedIn: 'root' })]]",
        "[[~decorator=@Entity({ name: 'users' })]]",
        "const apiKey = process.env.RESEND_API_KEY!;",
        "const password = await prompt('Password: ', { hidden: true });",
        "// demo user: [[~placeholder_email]]",
        "const STRIPE_SECRET = '[[~placeholder_secret]]';",
        "// pnpm add [[~pkg_spec]]",
        "const avatar = '[[~data_uri]]';",
    ],
    "java": [
        'Stripe.apiKey = "[[api_key]]";',
        'private String [[$key:camel]] = "[[api_key]]";',
        'request.addHeader("x-api-key", "[[api_key]]");',
        '// [[$key:UPPER]]=[[api_key]]',
        'AwsBasicCredentials.create("AKIDEXAMPLE", "[[aws_secret]]")',
        'props.setProperty("aws.secret.key", "[[aws_secret]]");',
        'DriverManager.getConnection("jdbc:postgresql://db:5432/app", "app", "[[password]]");',
        'dataSource.setPassword(env.getProperty("db.password", "[[password]]"));',
        'static final String [[$pass:UPPER]] = "[[password]]"; // local only',
        'val jedis = Jedis("redis", 6379).apply { auth("[[password]]") }',
        'conn.setRequestProperty("Authorization", "token [[token]]");',
        'var [[$tok:camel]] = "[[token]]";',
        'final String PEM =\n    "[[private_key|json]]";',
        ' * @author [[name]], [[year]]',
        ' * Copyright [[year]] [[name]] &lt;[[email]]&gt;',
        '// Reviewed-by: [[name]] <[[email]]>',
        'InetAddress addr = InetAddress.getByName("[[ip]]");',
        'config.setJdbcUrl("jdbc:mysql://[[ip]]:3306/shop");',
        'classpath("com.android.tools.build:gradle:[[~version]]")',
        '@Since("[[~version]]")',
        'String ua = "okhttp/[[~version]]";',
        'private static final String LOCAL = "[[~private_ip]]";',
        'assertThat(ip).isEqualTo("[[~doc_ip]]");',
        'final String commitId = "[[~hash]]";',
        'var tenant = UUID.fromString("[[~uuid]]");',
        '[[~decorator=@RequestMapping(value = "/api/v1", produces = "application/json")]]',
        '[[~decorator=@SuppressWarnings({"rawtypes", "unused"})]]',
        'String apiKey = System.getenv("API_KEY");',
        ' * (c) [[year]] [[~org_name]]. Licensed under the MIT license.',
        '// contact [[~placeholder_email]]',
    ],
    "c_cpp": [
        'static const char API_KEY[] = "[[api_key]]";',
        'std::string [[$key:snake]] = "[[api_key]]";',
        'setenv("[[$key:UPPER]]", "[[api_key]]", 0 /* keep existing */);',
        '/* [[$key:words]] -> [[api_key]] */',
        'config.secretKey = "[[aws_secret]]";',
        'static const char *aws_secret = "[[aws_secret]]";',
        'mysql_real_connect(conn, "db", "root", "[[password]]", "app", 0, NULL, 0);',
        'PQconnectdb("dbname=app user=app password=[[password]]");',
        '#  define [[$pass:UPPER]] "[[password]]"',
        'wifi_config.sta.password = "[[password]]";',
        'const char *auth = "Authorization: token [[token]]";',
        'static const char [[$tok:UPPER]][] = "[[token]]";',
        'static const char pem[] =\n    "[[private_key|pylines]]";',
        ' * Copyright (C) [[year]] [[name]] <[[email]]>',
        '// Author: [[name]]',
        '/* Reported by [[email]] */',
        'inet_pton(AF_INET, "[[ip]]", &server.sin_addr);',
        '#define SYSLOG_HOST "[[ip]]"',
        'VALUE "FileVersion", "[[~version]]"',
        '#define PRODUCT_VERSION_STR "[[~version]]\\0"',
        '/* Since [[~version]] */',
        '#define DEFAULT_BROKER "tcp://[[~private_ip]]:1883"',
        'assert(strcmp(buf, "[[~doc_ip]]") == 0);',
        '#define GIT_HASH "[[~hash]]"',
        'static const char *uuid = "[[~uuid]]";',
        'char *pass = getpass("Password: ");',
    ],
    "go": [
        'client := resend.NewClient("[[api_key]]")',
        't.Setenv("[[$key:UPPER]]", "[[api_key]]")',
        '\t\t[[$key:Title]]:  "[[api_key]]", // sandbox',
        '// [[$key:words]]: [[api_key]]',
        'creds := credentials.NewStaticCredentials("AKIDEXAMPLE", "[[aws_secret]]", "")',
        '\t\tSecretAccessKey: aws.String("[[aws_secret]]"),',
        'dsn := "app:[[password]]@tcp(db:3306)/app?parseTime=true"',
        'rdb := redis.NewClient(&redis.Options{Addr: "cache:6379", Password: "[[password]]"})',
        'var [[$pass:camel]] = "[[password]]" //nolint:gosec',
        'nc, err := nats.Connect(url, nats.UserInfo("svc", "[[password]]"))',
        'req.Header.Set("Authorization", "token [[token]]")',
        '\t[[$tok:Title]]: "[[token]]",',
        'var signingKey = []byte(`[[private_key]]`)',
        '// Copyright [[year]] [[name]] <[[email]]>',
        '// Author: [[name]]',
        '\tMaintainer: "[[email]]",',
        'conn, err := net.Dial("udp", "[[ip]]:53")',
        '\tAddr: "[[ip]]:6379",',
        '\tgolang.org/x/crypto v[[~version]]',
        'const userAgent = "Mozilla/5.0 Chrome/[[~version]]"',
        '// Since v[[~version]]',
        'addr := "[[~private_ip]]:8080"',
        'ip := net.ParseIP("[[~doc_ip]]")',
        '\tCommit: "[[~hash]]",',
        'want := uuid.MustParse("[[~uuid]]")',
        '\tImage: "nginx@[[~digest]]",',
        'password := os.Getenv("DB_PASSWORD")',
    ],
    "rust": [
        'let client = resend_rs::Resend::new("[[api_key]]");',
        'env::set_var("[[$key:UPPER]]", "[[api_key]]"); // test only',
        'pub const [[$key:UPPER]]: &\'static str = "[[api_key]]";',
        '// [[$key:words]]: [[api_key]]',
        'let creds = Credentials::from_keys("AKIDEXAMPLE", "[[aws_secret]]", None);',
        '    secret_access_key: "[[aws_secret]]".into(),',
        'let pool = PgPool::connect("postgres://app:[[password]]@db/app").await?;',
        'let [[$pass:snake]]: &str = "[[password]]";',
        '    .credentials(Credentials::new("mailer".to_owned(), "[[password]]".to_owned()))',
        'let client = redis::Client::open("redis://:[[password]]@cache:6379/")?;',
        '        .bearer_auth("[[token]]")',
        'let [[$tok:snake]] = "[[token]]";',
        'let key = EncodingKey::from_rsa_pem(b"[[private_key|json]]")?;',
        'const KEY_PEM: &str = r#"[[private_key]]"#;',
        '// Copyright [[year]] [[name]] <[[email]]>',
        '//! Author: [[name]]',
        '    authors = ["[[name]] <[[email]]>"]',
        'let addr: SocketAddr = "[[ip]]:8080".parse()?;',
        'let upstream = "[[ip]]";',
        '#[deprecated(since = "[[~version]]")]',
        'const UA: &str = "Chrome/[[~version]]";',
        'let gw: Ipv4Addr = "[[~private_ip]]".parse().unwrap();',
        'let doc: IpAddr = "[[~doc_ip]]".parse().unwrap();',
        'const COMMIT: &str = "[[~hash]]";',
        'let run_id = Uuid::parse_str("[[~uuid]]").unwrap();',
        'let token = env::var("GITHUB_TOKEN").expect("token");',
    ],
    "shell": [
        'export [[$key:UPPER]]="[[api_key]]"',
        'curl "https://api.[[host]]/v1/search?api_key=[[api_key]]&q=test"',
        'fly secrets set [[$key:UPPER]]=[[api_key]]',
        '[[$key:UPPER]]=[[api_key]] ./run-tests.sh',
        'aws configure set aws_secret_access_key [[aws_secret]] --profile ci',
        'AWS_SECRET_ACCESS_KEY="[[aws_secret]]" packer build .',
        'mysql -u root -p[[password]] -h db app < dump.sql',
        'PGPASSWORD=[[password]] pg_dump -h db -U app app > backup.sql',
        'echo "[[password]]" | docker login --username ci --password-stdin',
        'sshpass -p "[[password]]" ssh deploy@[[host]]',
        'redis-cli -a [[password]] ping',
        'echo "[[token]]" | gh auth login --with-token',
        'curl -H "PRIVATE-TOKEN: [[token]]" https://gitlab.[[host]]/api/v4/projects',
        'export [[$tok:UPPER]]="[[token]]"  # expires in 30 days',
        "cat > id_ed25519 <<'EOF'\n[[private_key]]\nEOF",
        '# Script by [[name]] <[[email]]>, [[year]]',
        '# (C) [[year]], [[name]]',
        'MAINTAINER="[[email]]"',
        'ssh root@[[ip]] uptime',
        'iptables -A INPUT -s [[ip]] -j DROP',
        'apt-get install -y google-chrome-stable=[[~version]]-1',
        'CHROMEDRIVER_VERSION=[[~version]]',
        'wget https://dl.[[host]]/v[[~version]]/tool.tgz',
        'ip route add default via [[~private_ip]]',
        'nc -zv [[~doc_ip]] 443',
        'echo "[[~hash]]  release.tar.gz" | sha1sum -c -',
        'export DB_PASSWORD="[[~placeholder_secret]]"',
        'read -s -p "Enter token: " TOKEN',
    ],
    "config/yaml": [
        "  [[$key:snake]]: '[[api_key]]'",
        'env:\n  - name: [[$key:UPPER]]\n    valueFrom: null\n    value: "[[api_key]]"',
        'secrets:\n  api-key: >-\n    [[api_key]]',
        '    aws_secret_access_key: !!str [[aws_secret]]',
        '  secretKey: "[[aws_secret]]"',
        '  requirepass: "[[password]]"',
        '      POSTGRES_PASSWORD: [[password]]',
        '  url: "amqp://guest:[[password]]@rabbit:5672/"',
        '    [[$pass:snake]]: "[[password]]"',
        '    authToken: [[token]]',
        '  [[$tok:snake]]: [[token]] # rotate',
        'tls.key: |\n  [[private_key|indent2]]',
        '  - name: [[name]]\n    email: [[email]]',
        'owner: "[[email]]"',
        '      - cidr: [[ip]]/32',
        '  primary: { host: [[ip]], port: 5432 }',
        'version: "[[~version]]"',
        '  - image: mcr.microsoft.com/dotnet/sdk:[[~version]]',
        '  chromeVersion: "[[~version]]"',
        '  podCIDR: [[~private_ip]]/16',
        '  dnsServers: [[[~doc_ip]]]',
        '  commitSha: "[[~hash]]"',
        '  id: [[~uuid]]',
        '  password: "{{ vault_db_password }}"',
        '  api_key: "[[~placeholder_secret]]"',
    ],
    "config/toml": [
        "[[$key:snake]] = '[[api_key]]'",
        '[openweather]\nappid = "[[api_key]]"',
        '[profile.ci]\naws_secret_access_key = "[[aws_secret]]"',
        '[postgres]\nuser = "app"\npassword = "[[password]]"',
        '[[$pass:snake]] = "[[password]]"  # dev',
        'dsn = "redis://:[[password]]@cache:6379/0"',
        '[auth]\ntoken = "[[token]]"',
        "[[$tok:snake]] = '[[token]]'",
        'key = """\n[[private_key]]\n"""',
        'authors = [\n    "[[name]] <[[email]]>",\n]',
        'listen = "[[ip]]:9100"',
        'package.version = "[[~version]]"',
        'chrome = "[[~version]]"',
        'gateway = "[[~private_ip]]"',
        'git = { url = "https://github.com/acme/lib", rev = "[[~hash]]" }',
        'instance-id = "[[~uuid]]"',
    ],
    "config/ini": [
        '[[$key:UPPER]] : [[api_key]]',
        '[weather]\nappid = [[api_key]]',
        '[profile deploy]\naws_secret_access_key=[[aws_secret]]',
        '[postgres]\npassword=[[password]]',
        'requirepass [[password]]',
        'quarkus.datasource.password=[[password]]',
        '[[$pass:snake]]=[[password]]',
        'auth_token=[[token]]',
        '[[$tok:UPPER]]=[[token]]',
        'notify_email=[[email]]',
        'server [[ip]] iburst',
        'firmware_version = [[~version]]',
        'AssemblyVersion=[[~version]]',
        'gateway=[[~private_ip]]',
        'commit = [[~hash]]',
        'password = ${PASSWORD}',
    ],
    "config/json": [
        '    "[[$key:camel]]" : "[[api_key]]"',
        '    "appid": "[[api_key]]",',
        '  "aws_secret_access_key" : "[[aws_secret]]"',
        '  "SecretAccessKey": "[[aws_secret]]",',
        '  "db": {"user": "app", "pass": "[[password]]"},',
        '    "[[$pass:camel]]" : "[[password]]",',
        '  "DATABASE_URL": "postgres://app:[[password]]@db:5432/app",',
        '    "[[$tok:camel]]" : "[[token]]",',
        '  "headers": {"Authorization": "token [[token]]"},',
        '  "key": "[[private_key|json]]",',
        '  "maintainers": [{"name": "[[name]]", "email": "[[email]]"}],',
        '  "upstreams": [{"host": "[[ip]]", "weight": 1}],',
        '  "allow": ["[[ip]]"],',
        '  "version" : "[[~version]]",',
        '  "chromeVersion": "[[~version]]",',
        '  "browserslist": ["chrome >= [[~version]]"],',
        '      "integrity": "[[~integrity]]",\n      "optional": true',
        '  "gitHead": "[[~hash]]",',
        '  "correlationId": "[[~uuid]]",',
        '  "gateway": "[[~private_ip]]",',
        '  "apiKey": "[[~placeholder_secret]]",',
    ],
    "html_css": [
        '<script>window.MAPS_KEY = "[[api_key]]";</script>',
        '<gmp-map data-key="[[api_key]]"></gmp-map>',
        '<!-- TODO remove [[$key:words]] [[api_key]] -->',
        '<!-- aws secret: [[aws_secret]] -->',
        '<!-- admin login: admin / [[password]] -->',
        '<p>Default password: <code>[[password]]</code></p>',
        '<input name="token" type="hidden" value="[[token]]">',
        '<!-- [[$tok:snake]]=[[token]] -->',
        '<textarea id="key">[[private_key]]</textarea>',
        '<footer>&copy; [[year]] [[name]] &middot; <a href="mailto:[[email]]">[[email]]</a></footer>',
        '<!-- author: [[name]] -->',
        '<li>[[ip]]</li>',
        '<!-- served by [[ip]] -->',
        '<span class="badge">Version [[~version]]</span>',
        '<script src="/static/app.js?v=[[~version]]"></script>',
        '<!-- dev server http://[[~private_ip]]:5173 -->',
        '<code>[[~doc_ip]]</code> is reserved for docs.',
        '<script src="https://unpkg.com/[[~pkg_spec]]" integrity="[[~integrity]]" crossorigin="anonymous"></script>',
        '<img src="[[~data_uri]]" alt="">',
        '<p>Contact: <a href="mailto:[[~placeholder_email]]">[[~placeholder_email]]</a></p>',
        '<meta name="build" content="[[~hash]]">',
        '<input type="password" name="password" placeholder="Password">',
    ],
    "html_css/css": [
        '/* [[$key:UPPER]]=[[api_key]] */',
        '/* maps key [[api_key]] */',
        '/* aws secret access key = [[aws_secret]] */',
        '/* staging login admin:[[password]] */',
        '/* [[$tok:snake]] [[token]] */',
        '/*! Copyright [[year]] [[name]] <[[email]]> */',
        '/* served from [[ip]] */',
        '/*! pico v[[~version]] */',
        '.icon { background: url("[[~data_uri]]") no-repeat; }',
        '/* commit [[~hash]] */',
        '[[~decorator=@media (prefers-color-scheme: dark)]] {',
        '[[~decorator=@import url("theme.css")]];',
    ],
    "markdown": [
        'Then run `export [[$key:UPPER]]=[[api_key]]` and start the server.',
        'Your key is `[[api_key]]` (keep it private).',
        '```python\nclient = Client(key="[[api_key]]")\n```',
        '* API key: [[api_key]]',
        'Use the secret access key `[[aws_secret]]` for the sandbox bucket.',
        '```dotenv\nAWS_SECRET_ACCESS_KEY=[[aws_secret]]\n```',
        'Log in with `admin` and the password `[[password]]`.',
        '```sh\nmysql -u root -p[[password]]\n```',
        '* Password: [[password]]',
        'The default password is [[password]], change it after the first login.',
        'Paste the token `[[token]]` into the settings page.',
        '```sh\nexport [[$tok:UPPER]]=[[token]]\n```',
        '```text title="deploy.key"\n[[private_key]]\n```',
        '## Authors\n\n* [[name]] ([[email]])',
        'Thanks to [[name]] for the logo.',
        'Questions go to [[email]].',
        'Point your DNS to `[[ip]]`.',
        '- prod: [[ip]]',
        '## [[[~version]]] - 2024-05-01',
        'Requires Chrome [[~version]] or later.',
        '`pip install tool==[[~version]]`',
        'The VM gets `[[~private_ip]]` from DHCP.',
        'Example: `ping [[~doc_ip]]`',
        'Fixed in [[~hash]].',
        '`npm install [[~pkg_spec]]`',
        'Set `API_KEY` to `[[~placeholder_secret]]` for local runs.',
        'Write to [[~placeholder_email]] for access.',
        'Job id `[[~uuid]]`.',
    ],
    "rst": [
        'Set the environment variable ``[[$key:UPPER]]`` to ``[[api_key]]``.',
        ':API key: [[api_key]]',
        '.. code-block:: bash\n\n    curl -H "X-Api-Key: [[api_key]]" https://api.[[host]]/',
        'The AWS secret is ``[[aws_secret]]``.',
        '.. code-block:: cfg\n\n    [default]\n    aws_secret_access_key = [[aws_secret]]',
        'Use ``[[password]]`` as the password for the test user.',
        '.. code-block:: console\n\n    $ export [[$pass:UPPER]]=[[password]]',
        ':password: ``[[password]]``',
        'Your token is ``[[token]]``.',
        '.. code-block:: python\n\n    client = Client(token="[[token]]")',
        '::\n\n    [[private_key|indent4]]',
        ':Author: [[name]] <[[email]]>',
        'Copyright [[year]] [[name]].',
        'Report bugs to [[email]].',
        'The demo server runs on ``[[ip]]``.',
        '.. versionchanged:: [[~version]]\n   The *timeout* argument.',
        'Version [[~version]] (2024-03-02)\n' + '~' * 30,
        'Tested with Chrome [[~version]].',
        'Use ``[[~private_ip]]`` from inside the cluster.',
        '``[[~doc_ip]]`` is an example address.',
        'Built from ``[[~hash]]``.',
        'The job ``[[~uuid]]`` is an example.',
    ],
    "text": [
        'your api key -> [[api_key]]',
        '[[$key:words]] ... [[api_key]]',
        'AWS secret access key - [[aws_secret]]',
        '[profile deploy]\naws_secret_access_key=[[aws_secret]]',
        'pass: [[password]]',
        'The root password is [[password]]',
        'login admin / [[password]]',
        'bearer token (ci): [[token]]',
        'Your access token is [[token]]',
        '[[private_key]]',
        'Author: [[name]] <[[email]]>',
        'Thanks to [[name]].',
        'Email: [[email]]',
        'Host: [[ip]]',
        'Changes in [[~version]]:',
        'Chrome [[~version]]',
        'Gateway: [[~private_ip]]',
        'SHA1: [[~hash]]',
        'Session: [[~uuid]]',
    ],
}
TEMPLATES = {"tune": TUNE_TEMPLATES, "dev": DEV_TEMPLATES, "dev2": DEV2_TEMPLATES, "dev3": DEV3_TEMPLATES,
             "holdout": HOLDOUT_TEMPLATES}
# notebooks: Python templates of the split, written as JSON source lines of a code cell
for _t in TEMPLATES.values():
    _t["notebook"] = list(_t["python"])


def templates_for(split: str, family: str, ext: str) -> tuple[str, list[str]]:
    table = TEMPLATES[split]
    syntax = CONFIG_SYNTAX.get(ext) if family == "config" else STYLE_SYNTAX.get(ext) if family == "html_css" else None
    key = f"{family}/{syntax}" if syntax else family
    return key, table[key]


# ---------------------------------------------------------------------------------------
# Rendering a template
# ---------------------------------------------------------------------------------------
_SLOT = re.compile(r"\[\[([~$]?)([A-Za-z_:]+)(?:=([^\]]+))?(?:\|(\w+))?\]\]")
_OPEN, _SEP, _CLOSE = "\ue000", "\ue001", "\ue002"  # private-use marks around a value while rendering


def _style(words: tuple, style: str, r: random.Random) -> str:
    if style == "UPPER":
        return "_".join(words).upper()
    if style == "snake":
        return "_".join(words)
    if style == "camel":
        return words[0] + "".join(w.capitalize() for w in words[1:])
    if style == "Title":
        return "".join(w.capitalize() for w in words)
    if style == "kebab":
        return "-".join(words)
    if style == "words":
        return " ".join(w if w not in ("api", "aws", "db", "smtp", "ci", "x") else w.upper() for w in words)
    raise ValueError(style)


def _escape(value: str, how: str | None) -> str:
    if how == "json":
        return json.dumps(value)[1:-1]
    if how and how.startswith("indent"):  # indent4, indent6: a block under a YAML/rst key
        return value.replace("\n", "\n" + " " * int(how[6:]))
    if how == "pylines":  # one string literal per line, joined by the compiler: "...\n" "...\n"
        return '\\n"\n    "'.join(value.split("\n"))
    return value


PLACEHOLDER_SECRETS = {
    "tune": ["change-me", "your-secret-key-here", "<SECRET_KEY>", "xxxxxxxxxxxxxxxx", "dummy"],
    "dev": ["change-me", "your-secret-key-here", "<SECRET_KEY>", "xxxxxxxxxxxxxxxx", "dummy"],
    "dev2": ["replace-with-your-key", "TODO", "${API_KEY}", "****************", "not-a-real-key"],
    "dev3": ["<insert-token-here>", "{{ api_key }}", "REDACTED", "0000000000000000", "%API_KEY%",
                "sk-xxxxxxxxxxxxxxxxxxxxxxxx", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AKIAIOSFODNN7EXAMPLE",
                "your_api_key_goes_here"],
    "holdout": ["<your-api-key>", "CHANGEME", "PASTE_YOUR_KEY_HERE", "${SECRET_KEY:?set me}",
                "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "sk_test_XXXXXXXXXXXXXXXXXXXXXXXX", "example-key-1234",
                "••••••••"]}


def render(template: str, split: str, r: random.Random) -> tuple[str, list[tuple[int, int, str, bool]]]:
    """Template → (text, [(start, end, kind, labelled)])."""
    pools = POOLS[split]
    parts = []

    def value(m):
        sigil, name, literal, how = m.groups()
        if sigil == "$":
            pool, style = name.split(":")
            words = {"key": pools.key_names, "tok": pools.token_names, "pass": pools.pass_names}[pool]
            return _style(r.choice(words), style, r)
        if sigil == "~":
            if literal is not None:
                v = literal
            elif name == "org_name":
                v = r.choice(pools.orgs)
            elif name == "placeholder_secret":
                v = r.choice(PLACEHOLDER_SECRETS[split])
            else:
                v = gen_lookalike(name, r, pools)
            return f"{_OPEN}~{name}{_SEP}{_escape(v, how)}{_CLOSE}"
        fillers = {"word": lambda: r.choice(pools.words), "host": lambda: r.choice(["internal.", "corp.", ""]) +
                   r.choice(pools.domains), "year": lambda: str(r.randint(2009, 2024)),
                   "user": lambda: r.choice(pools.first)}
        if name in fillers:
            return fillers[name]()
        gen = {"api_key": lambda: gen_api_key(r, split), "aws_secret": lambda: gen_aws_secret(r, split),
               "password": lambda: gen_password(r, split, pools), "private_key": lambda: gen_private_key(r, split),
               "token": lambda: gen_token(r, split, pools), "email": lambda: gen_email(r, pools),
               "ip": lambda: gen_ip(r), "name": lambda: gen_name(r, pools)}[name]
        v = gen()
        if name == "ip" and ":" in v and re.match(r":\d", m.string[m.end():m.end() + 2]):
            return f"[{_OPEN}{name}{_SEP}{v}{_CLOSE}]"  # [2001:db8::1]:443
        return f"{_OPEN}{name}{_SEP}{_escape(v, how)}{_CLOSE}"

    marked = _SLOT.sub(value, template)
    return marked, parts


def unmark(marked: str) -> tuple[str, list[tuple[int, int, str, bool]]]:
    """Remove the marks; return the text and (start, end, kind, labelled) of each value."""
    out, spans, pos = [], [], 0
    n = 0
    while True:
        i = marked.find(_OPEN, pos)
        if i < 0:
            out.append(marked[pos:])
            break
        out.append(marked[pos:i])
        n += i - pos
        j = marked.index(_SEP, i)
        k = marked.index(_CLOSE, j)
        kind = marked[i + 1:j]
        v = marked[j + 1:k]
        labelled = not kind.startswith("~")
        spans.append((n, n + len(v), kind.lstrip("~"), labelled))
        out.append(v)
        n += len(v)
        pos = k + 1
    return "".join(out), spans


def _notebook_lines(snippet: str, indent: str) -> str:
    """Python lines as a code cell's JSON "source" entries (marks survive json.dumps)."""
    lines = snippet.split("\n")
    rows = [indent + json.dumps(line + ("\n" if i < len(lines) - 1 else "\n"), ensure_ascii=False) + ","
            for i, line in enumerate(lines)]
    return "\n".join(rows)


# ---------------------------------------------------------------------------------------
# Real files, windows, screening
# ---------------------------------------------------------------------------------------
# The generator's own broad screen: anything that might be PII in real text (the rules tier
# and detect-secrets screen too). Broader than any detector on purpose.
_BROAD = re.compile(
    r"[\w.+\-]@[\w\-]+\.[A-Za-z]"                                  # email-like
    r"|(?<![\w.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w.])"        # any dotted quad
    r"|[0-9A-Fa-f]{1,4}::?[0-9A-Fa-f]{1,4}:[0-9A-Fa-f:]+"           # IPv6-like
    r"|PRIVATE KEY|(?i:passw|passwd|secret|token|api[_\-. ]?key|credential|bearer|author|copyright|written by|"
    r"maintain|contact|created by|\(c\)|©)"
    r"|(?:AKIA|ghp_|gho_|xox[bp]-|sk_live|glpat-|AIza|eyJ)",
)


@dataclass
class SplitStats:
    files_seen: Counter = field(default_factory=Counter)
    windows: Counter = field(default_factory=Counter)
    lines: Counter = field(default_factory=Counter)
    screened_broad: Counter = field(default_factory=Counter)
    screened_codemill: Counter = field(default_factory=Counter)
    screened_detect_secrets: Counter = field(default_factory=Counter)
    windows_dropped: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {k: dict(sorted(v.items())) for k, v in self.__dict__.items()}


def list_files(source: Path) -> dict[str, list[Path]]:
    """Real files of every family under `source`, in a stable order."""
    out: dict[str, list[Path]] = {f: [] for f in FAMILIES}
    for p in sorted(source.rglob("*")):
        fam = EXT_FAMILY.get(p.suffix.lower())
        if fam is None or not p.is_file() or p.is_symlink():
            continue
        parts = p.relative_to(source).parts
        if any(x in ("node_modules", "__pycache__", ".git") for x in parts[:-1]):
            continue
        if fam == "text" and p.name.lower() in ("license.txt", "licence.txt", "copying.txt", "authors.txt",
                                                "contributors.txt", "requirements.txt"):
            continue  # licences name their authors; requirements files are lists of specs
        if fam == "config" and p.name.lower() in ("package-lock.json",) or p.name.endswith((".min.js", ".min.css")):
            continue
        out[fam].append(p)
    return out


def _read(p: Path, limit: int = 400_000) -> str | None:
    try:
        data = p.read_bytes()
    except OSError:
        return None
    if len(data) > limit or b"\x00" in data[:4096]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _window(text: str, r: random.Random, max_lines: int = 40, max_chars: int = 2400) -> list[str]:
    lines = text.split("\n")
    if len(lines) > max_lines:
        start = r.randrange(0, len(lines) - max_lines + 1)
        lines = lines[start:start + max_lines]
    out, n = [], 0
    for line in lines:
        if len(line) > 300:  # minified or data lines: not what code looks like
            continue
        n += len(line) + 1
        if n > max_chars:
            break
        out.append(line)
    return out


def _detect_secrets_lines(texts: list[tuple[str, str]]) -> list[set[int]]:
    """1-based line numbers detect-secrets reports in each (name, text), default settings."""
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    result = [set() for _ in texts]
    with tempfile.TemporaryDirectory(prefix="codemill-pii-set-") as tmp, default_settings():
        names = []
        for i, (name, text) in enumerate(texts):
            f = Path(tmp) / str(i) / name
            f.parent.mkdir()
            f.write_text(text, "utf-8")
            names.append(f"{i}/{name}")
        collection = SecretsCollection(root=tmp)
        collection.scan_files(*names, num_processors=1)
        for filename, secret in collection:
            rel = Path(filename)
            if rel.is_absolute():
                rel = rel.relative_to(tmp)
            result[int(rel.parts[0])].add(secret.line_number)
    return result


def screen(windows: list[tuple[str, str, list[str]]], stats: SplitStats) -> list[list[str]]:
    """Drop the lines where anything fires (broad screen, codemill's rules, detect-secrets)."""
    from udfs import pii

    first = []
    for fam, name, lines in windows:
        keep = []
        for line in lines:
            if _BROAD.search(line):
                stats.screened_broad[fam] += 1
            else:
                keep.append(line)
        text = "\n".join(keep)
        hit = {text.count("\n", 0, s.start) for s in pii.detect_rules(text, name)}
        stats.screened_codemill[fam] += len(hit)
        first.append([line for i, line in enumerate(keep) if i not in hit])
    ds = _detect_secrets_lines([(name, "\n".join(lines)) for (_, name, _), lines in zip(windows, first)])
    out = []
    for (fam, name, _), lines, hits in zip(windows, first, ds):
        stats.screened_detect_secrets[fam] += len(hits)
        out.append([line for i, line in enumerate(lines, start=1) if i not in hits])
    return out


# ---------------------------------------------------------------------------------------
# Building a split
# ---------------------------------------------------------------------------------------
def _indent_of(lines: list[str], at: int) -> str:
    for line in lines[at:at + 3]:
        if line.strip():
            return line[:len(line) - len(line.lstrip())]
    return ""


def plant(lines: list[str], family: str, ext: str, split: str, r: random.Random, n_plants: int,
          lookalike_only: bool) -> tuple[str, list[dict], list[dict]]:
    key, templates = templates_for(split, family, ext)
    pos_t = [t for t in templates if re.search(r"\[\[(?:api_key|aws_secret|password|private_key|token|email|ip|name)", t)]
    neg_t = [t for t in templates if t not in pos_t]
    chosen = [r.choice(neg_t) for _ in range(n_plants)] if lookalike_only else \
        [r.choice(pos_t) for _ in range(n_plants)] + [r.choice(neg_t) for _ in range(r.randint(0, 2))]
    positions = sorted(r.randint(0, len(lines)) for _ in chosen)
    out, pi = [], 0
    order = list(range(len(chosen)))
    r.shuffle(order)
    for i in range(len(lines) + 1):
        while pi < len(positions) and positions[pi] == i:
            t = chosen[order[pi]]
            tid = f"{split}:{key}:{templates.index(t)}"
            marked, _ = render(t, split, r)
            if family == "notebook":
                marked = _notebook_lines(marked, _indent_of(lines, i) or "    ")
            elif family in CODE_FAMILIES and "\n" not in t:
                marked = _indent_of(lines, i) + marked
            elif family in ("markdown", "rst", "text"):
                marked = "\n" + marked + "\n"
            out.append((marked, tid))
            pi += 1
        if i < len(lines):
            out.append((lines[i], None))
    # assemble and locate the values
    text_parts, spans, looks, offset = [], [], [], 0
    for piece, tid in out:
        if tid is None:
            text_parts.append(piece)
            offset += len(piece) + 1
            continue
        clean, vals = unmark(piece)
        for s, e, kind, labelled in vals:
            entry = {"start": offset + s, "end": offset + e, "kind": kind, "template": tid}
            if labelled:
                spans.append({**entry, "type": KIND_TYPE[kind]})
            else:
                looks.append(entry)
        text_parts.append(clean)
        offset += len(clean) + 1
    return "\n".join(text_parts), spans, looks


def build_split(split: str, source: Path, n_records: int = 1500, seed: int = SEED,
                per_file: int = 1, lookalike_share: float = 0.25) -> tuple[list[dict], dict]:
    """Records of one split from the real files under `source` (deterministic for a seed)."""
    assert split in SPLITS
    r = random.Random(f"{seed}:{SPLIT_SEED_NAME[split]}")
    files = list_files(source)
    stats = SplitStats()
    fams = [f for f in FAMILIES if files[f]]
    per_family = max(1, n_records // max(1, len(fams)))
    windows = []  # (family, ext, path, name, lines)
    for fam in fams:
        pool = files[fam][:]
        r.shuffle(pool)
        taken = 0
        for p in pool:
            if taken >= per_family:
                break
            text = _read(p)
            if not text or not text.strip():
                continue
            stats.files_seen[fam] += 1
            lines = _window(text, r)
            if len([x for x in lines if x.strip()]) < 3:
                continue
            rel = p.relative_to(source)
            windows.append((fam, p.suffix.lower(), str(rel), p.name, lines))
            stats.windows[fam] += 1
            stats.lines[fam] += len(lines)
            taken += 1
    screened = screen([(f, name, lines) for f, _, _, name, lines in windows], stats)
    records = []
    for (fam, ext, rel, name, _), lines in zip(windows, screened):
        if len([x for x in lines if x.strip()]) < 2:
            stats.windows_dropped[fam] += 1
            continue
        lookalike_only = r.random() < lookalike_share
        content, spans, looks = plant(lines, fam, ext, split, r, r.randint(1, 3), lookalike_only)
        records.append({"id": f"{split}-{len(records):05d}", "split": split, "family": fam, "path": rel,
                        "source": rel.split("/", 1)[0], "content": content, "spans": spans, "lookalikes": looks})
    return records, stats.as_dict()


def write_jsonl(records: list[dict], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(rec, ensure_ascii=False) + "\n" for rec in records), "utf-8")


def corpus_source(split: str) -> Path:
    """The real corpus of a split (SPLIT_CORPUS): benchmarks/real_corpus.py's `main` or `holdout`..`holdout4`."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import real_corpus  # noqa: E402  (another module of benchmarks/)
    return Path(real_corpus.build(SPLIT_CORPUS[split], fmt="repos"))


def fingerprint(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(str(p).encode())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:12]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=SPLITS, default="holdout")
    ap.add_argument("--source", help="folder of real files (default: the split's real corpus)")
    ap.add_argument("--records", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", help="JSONL to write")
    ap.add_argument("--sample", action="store_true",
                    help=f"write the committed sample ({SAMPLE.relative_to(ROOT)}): 52 records of each split")
    args = ap.parse_args(argv)
    if args.sample:
        recs = []
        for split in SPLITS:
            src = Path(args.source) if args.source else corpus_source(split)
            recs += build_split(split, src, 104, args.seed)[0][::2][:52]  # 4 of every family
        write_jsonl(recs, SAMPLE)
        print(f"{len(recs)} records written to {SAMPLE} ({SAMPLE.stat().st_size // 1024} KB)")
        return 0
    src = Path(args.source) if args.source else corpus_source(args.split)
    records, stats = build_split(args.split, src, args.records, args.seed)
    out = Path(args.out or f"pii_{args.split}.jsonl")
    write_jsonl(records, out)
    print(f"{len(records)} records written to {out}; screening (lines): "
          f"broad {sum(stats['screened_broad'].values())}, codemill {sum(stats['screened_codemill'].values())}, "
          f"detect-secrets {sum(stats['screened_detect_secrets'].values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
