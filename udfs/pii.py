"""PII rules tier: pure functions that find emails, IP addresses, keys and passwords in code
and redact them. No Spark import; unit-tested directly (tests/test_pii_rules.py).

Every detector returns `Span(start, end, type, detector)` tuples: character offsets into the
text, the entity type (FACTS §5.1 vocabulary) and the rule that fired. A span never carries
the value: callers that log or store findings cannot leak what was found.

Speed (target ≥ 5 MB/s per core on real code, benchmarks/pii_throughput.py): every detector
is gated by a cheap C-level test (`'@' in text`, `str.find` of literal prefixes, a lower-cased
keyword search) so most files skip most regexes; the regexes themselves are anchored with
look-behinds so that no pattern backtracks over long words.

Sources: FACTS §5.1 (entity types, placeholders, IP replacements, DNS resolvers kept),
FACTS §5.2 (email delimiters, IP false-positive filters, hash filters for keys).
"""
from __future__ import annotations

import hashlib
import ipaddress
import math
import re
from collections import Counter
from typing import Iterable, NamedTuple

EMAIL, IP_ADDRESS, KEY, PASSWORD, NAME, USERNAME = "EMAIL", "IP_ADDRESS", "KEY", "PASSWORD", "NAME", "USERNAME"
TYPES = (EMAIL, IP_ADDRESS, KEY, PASSWORD, NAME, USERNAME)


class Span(NamedTuple):
    start: int
    end: int
    type: str
    detector: str


# ---------------------------------------------------------------------------------------
# Emails (FACTS §5.2: explicit left/right delimiters, local part, 1–10 dotted sub-domains,
# alphabetic TLD of 2–63 letters)
# ---------------------------------------------------------------------------------------
# Found from each '@' (str.find, C speed): the domain is *matched* forward from it and the
# local part walked backwards, so the regex never scans the file.
_EMAIL_DOMAIN = re.compile(
    r"((?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,10}"
    r"([A-Za-z]{2,63}))"                       # TLD: letters only
    r"(?![\w\-@(]|\.[A-Za-z0-9])"              # right delimiter: not a call `a@b.c(`, not more domain
)
_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_LEFT_BLOCKERS = frozenset("/@\\")
_URL_USERINFO_BEFORE = re.compile(r"[A-Za-z][\w+.\-]*://[^\s/@'\"`<>]*$")  # scheme://user:pass@host is no email  # a@b inside URLs' paths or user@host:port chains
# RFC 2606 / 6761 reserved names and other non-addresses: documentation placeholders stay.
_EMAIL_PLACEHOLDER_DOMAINS = {"example.com", "example.org", "example.net", "example.edu", "domain.com",
                              "email.com", "yourdomain.com", "yourcompany.com", "company.com", "mail.com",
                              "foo.com", "bar.com", "foo.bar", "test.com", "somewhere.com",
                              "openssh.com", "openssh.org", "libssh.org"}  # SSH algorithm names (aes256-gcm@openssh.com)
_EMAIL_PLACEHOLDER_TLDS = {"example", "test", "invalid", "localhost", "local", "localdomain", "internal", "lan",
                           # file names such as icon@2x.png, not addresses
                           "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "js", "ts", "css", "map",
                           "json", "yaml", "yml", "lock", "txt", "html", "htm", "xml", "py", "md", "rb", "go"}
_EMAIL_PLACEHOLDER_LOCALS = {"noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "user", "username",
                             "you", "your", "yourname", "your.name", "your.email", "youremail", "name", "email",
                             "someone", "somebody", "foo", "bar", "test", "example", "me", "john.doe", "jane.doe",
                             "johndoe", "janedoe", "firstname.lastname", "first.last", "git", "xxx", "admin@"}


def _is_placeholder_email(local: str, domain: str, tld: str) -> bool:
    local, domain, tld = local.lower(), domain.lower(), tld.lower()
    if tld in _EMAIL_PLACEHOLDER_TLDS:
        return True
    base = ".".join(domain.split(".")[-2:])
    if domain in _EMAIL_PLACEHOLDER_DOMAINS or base in _EMAIL_PLACEHOLDER_DOMAINS or base.startswith("example."):
        return True
    if local in _EMAIL_PLACEHOLDER_LOCALS or set(local) <= {"x", "."}:
        return True
    if domain.startswith("users.noreply."):  # GitHub's private commit addresses
        return True
    return False


def detect_emails(text: str) -> list[Span]:
    spans = []
    at = text.find("@")
    while at >= 0:
        start = at
        while start > 0 and text[start - 1] in _LOCAL_CHARS and at - start < 64:
            start -= 1
        while start < at and not text[start].isalnum():
            start += 1  # the local part starts with a letter or digit
        left_ok = start == 0 or not (text[start - 1] in _LOCAL_CHARS or text[start - 1] in _LEFT_BLOCKERS
                                     or text[start - 1].isalnum())
        if left_ok and _URL_USERINFO_BEFORE.search(text, max(0, start - 200), start):
            left_ok = False
        if start < at and left_ok:
            m = _EMAIL_DOMAIN.match(text, at + 1)
            if m and not _is_placeholder_email(text[start:at], m.group(1), m.group(2)):
                spans.append(Span(start, m.end(), EMAIL, "email_regex"))
        at = text.find("@", at + 1)
    return spans


# ---------------------------------------------------------------------------------------
# IP addresses: public only (FACTS §5.1), with FACTS §5.2's false-positive filters
# ---------------------------------------------------------------------------------------
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# Candidates are found from their first inner dot (a literal-led pattern, which sre scans at
# memchr speed) and widened to the leading octet; boundaries and octet ranges checked after.
_IPV4_CORE = re.compile(r"\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}")
_LEAD_OCTET = re.compile(r"[0-9]{1,3}$")
_IPV4_STRICT = re.compile(rf"(?:{_OCTET}\.){{3}}{_OCTET}")
_IPV4_AFTER = re.compile(r"[\w\-]|\.\d")
# Global unicast IPv6 is 2000::/3, so a public address starts with 2 or 3: candidates are
# found with a charset-led pattern (fast), then boundaries are checked and `ipaddress` decides.
_IPV6_RE = re.compile(r"[23][0-9A-Fa-f]{0,3}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:]*(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3})?")
# The 14 well-known public DNS resolvers StarCoder's redaction keeps (FACTS §5.1), plus the
# IPv6 addresses of the same services (codemill's addition: the same reasoning applies).
PUBLIC_DNS = frozenset({
    "8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112", "208.67.222.222",
    "208.67.220.220", "76.76.19.19", "76.223.122.150", "8.26.56.26", "8.20.247.20", "94.140.14.14",
    "94.140.15.15",
    "2001:4860:4860::8888", "2001:4860:4860::8844", "2606:4700:4700::1111", "2606:4700:4700::1001",
    "2620:fe::fe", "2620:fe::9",
})
# Replacements (FACTS §5.1): 5 synthetic private addresses per family.
IPV4_REPLACEMENTS = ("172.16.31.10", "172.16.58.3", "172.16.17.32", "192.168.127.12", "192.168.3.11")
IPV6_REPLACEMENTS = ("fd00:c2b6:b24b:be67:2827:688d:e6a1:6a3b", "fd00:a516:7c1b:17cd:6d81:2137:bd2a:2c5b",
                     "fc00:e968:6179::de52:7100", "fc00:db20:35b:7399::5", "fdf8:f53e:61e4::18")
# Numbers that look like IPv4 but are versions, OIDs or section numbers (codemill's addition).
_VERSION_CONTEXT = re.compile(r"(?i)version|release|\bver\b|\boid\b|objectidentifier|section|chapter|\brfc\b|§|\bfigure\b|\btable\b")
_IMAGE_TAG_BEFORE = re.compile(r"(?:^|[\s\"'=])[a-z0-9][\w.\-/]*:$")
_ADDRESS_WORD_BEFORE = re.compile(r"(?i)(?:ip|host|addr|address|server|proxy|gateway|dns|remote|peer|from|to|src|dst):$")
_SERVER_CONTEXT = re.compile(r"(?i)dns|server")


def _is_public_ip(value: str) -> bool:
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return False
    if value in PUBLIC_DNS or str(ip) in PUBLIC_DNS:
        return False
    return bool(ip.is_global) and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified
                                       or ip.is_loopback or ip.is_link_local)


def detect_ips(text: str) -> list[Span]:
    spans = []
    if "." in text:
        for m in _IPV4_CORE.finditer(text):
            lead = _LEAD_OCTET.search(text, max(0, m.start() - 3), m.start())
            if lead is None:
                continue
            start, end = lead.start(), m.end()
            if start and (text[start - 1].isalnum() or text[start - 1] in "._-"):
                continue
            if _IPV4_AFTER.match(text, end):
                continue
            value = text[start:end]
            if not _IPV4_STRICT.fullmatch(value) or not _is_public_ip(value):
                continue
            before = text[max(0, start - 100):start]
            # FACTS §5.2: a 7-char dotted string (1.2.3.4) is a version unless dns/server is near.
            if len(value) == 7 and not _SERVER_CONTEXT.search(text[max(0, start - 100):end + 100]):
                continue
            # codemill's addition: "version 10.2.3.4" / "v10.2.3.4" are versions too.
            if _VERSION_CONTEXT.search(before[-24:]) or text[start - 1:start] in ("v", "V"):
                continue
            # requirement specifiers (pkg>=21.13.231.56) and image tags (postgres:16.5.107.94)
            if before.rstrip()[-2:] in (">=", "<=", "==", "~=", "!=") or before.rstrip()[-1:] in ("<", ">", "~", "^") or (_IMAGE_TAG_BEFORE.search(before)
                                                                      and not _ADDRESS_WORD_BEFORE.search(before)):
                continue
            spans.append(Span(start, end, IP_ADDRESS, "ipv4"))
    if "::" in text or text.count(":") >= 7:
        for m in _IPV6_RE.finditer(text):
            value = m.group()
            if m.start() and (text[m.start() - 1].isalnum() or text[m.start() - 1] in ":._"):
                continue
            if m.end() < len(text) and (text[m.end()].isalnum() or text[m.end()] in "_"):
                continue
            groups = [g for g in value.split(":") if g]
            if len(groups) < 2 or not any(c.isdigit() for c in value):
                continue
            if "::" not in value and value.count(":") != 7:
                continue  # times, MAC addresses, ratios
            if _is_public_ip(value):
                spans.append(Span(m.start(), m.end(), IP_ADDRESS, "ipv6"))
    return spans


# ---------------------------------------------------------------------------------------
# Keys and secrets
# ---------------------------------------------------------------------------------------
def shannon_entropy(value: str) -> float:
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


# Vendor formats: (detector, literal prefixes that gate the regex, regex).
_VENDOR_KEYS = [
    ("aws_access_key_id", ("AKIA", "ASIA"), re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])")),
    ("github_token", ("ghp_", "gho_", "ghs_", "ghu_", "ghr_"),
     re.compile(r"(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36,251}(?![A-Za-z0-9_])")),
    ("github_pat", ("github_pat_",), re.compile(r"(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{22,244}(?![A-Za-z0-9_])")),
    ("gitlab_token", ("glpat-",), re.compile(r"(?<![A-Za-z0-9_])glpat-[A-Za-z0-9_\-]{20,}(?![A-Za-z0-9_\-])")),
    ("slack_token", ("xox",), re.compile(r"(?<![A-Za-z0-9])xox[baprs]-(?:[0-9A-Za-z]+-){1,4}[0-9A-Za-z]{6,}")),
    ("stripe_key", ("sk_live_", "rk_live_"), re.compile(r"(?<![A-Za-z0-9])[sr]k_live_[0-9A-Za-z]{20,247}(?![A-Za-z0-9])")),
    ("google_api_key", ("AIza",), re.compile(r"(?<![A-Za-z0-9_\-])AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9_\-])")),
    ("npm_token", ("npm_",), re.compile(r"(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])")),
    ("jwt", ("eyJ",), re.compile(r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}")),
    ("pem_private_key", ("PRIVATE KEY-----",),
     re.compile(r"-----BEGIN ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY(?: BLOCK)?-----(.*?)-----END \1PRIVATE KEY(?: BLOCK)?-----",
                re.S)),
]
_PLACEHOLDER_WORDS = re.compile(r"(?i)example|sample|dummy|fake|placeholder|changeme|change_me|your[_\-]?|"
                                r"redacted|xxxx|\*\*\*|\.\.\.|<[^>]*>|\$\{|\{\{|%\(|%s|todo|insert|replace")


def _is_placeholder(value: str) -> bool:
    if _PLACEHOLDER_WORDS.search(value):
        return True
    stripped = value.strip("'\"` ")
    return len(set(stripped.lower())) <= 2  # "xxxxxxxx", "00000000", "aaaa"


def _is_sequential(value: str) -> bool:
    v = value.lower()
    for alphabet in ("abcdefghijklmnopqrstuvwxyz", "0123456789", "0123456789abcdef", "qwertyuiopasdfghjklzxcvbnm"):
        if len(v) >= 8 and v[:8] in alphabet:
            return True
    return False


def detect_vendor_keys(text: str) -> list[Span]:
    spans = []
    for detector, prefixes, regex in _VENDOR_KEYS:
        if not any(p in text for p in prefixes):
            continue
        for m in regex.finditer(text):
            if detector == "pem_private_key":
                body = m.group(2)
                if len(re.sub(r"\s", "", body)) < 64 or _is_placeholder(body[:200]):
                    continue  # "-----BEGIN PRIVATE KEY-----\n...\n" in docs, parsers' test markers
            elif _is_placeholder(m.group()):
                continue  # AKIAIOSFODNN7EXAMPLE, sk_live_xxxxxxxx...
            spans.append(Span(m.start(), m.end(), KEY, detector))
    return spans


# Assignments: NAME (= | : | := | => | ->) VALUE, in code, config files and .env files.
_PASSWORD_NAME = r"(?:password|passwd|passphrase|(?<![a-z])pass(?![a-z])|pwd)"
_KEY_NAME = (r"(?:secret|token|(?:api|secret|access|private|auth|encryption|signing|master|app|client|consumer|session|"
             r"license|account|service|subscription|storage|shared|webhook)[_\-.]?key|apikey|credentials?|bearer|"
             r"auth)")
_NAME_WORDS = re.compile(rf"(?i)({_PASSWORD_NAME}|{_KEY_NAME})")
_PASSWORD_WORD = re.compile(_PASSWORD_NAME, re.I)
_REGEX_LIKE = re.compile(r"\(\?|\\[dwsSbB]|\[[a-zA-Z0-9]-|\{\d+(?:,\d*)?\}")
_WORD_RUN = re.compile(r"[A-Z]?[a-z]{4,}")


def _wordy(value: str) -> bool:
    """Mostly made of natural-language words (CamelCaseTypeNames, snake_case_words)."""
    return sum(len(w) for w in _WORD_RUN.findall(value)) * 2 >= len(value)
# Names that look secret but hold metadata (FIELD names, lengths, URLs, env-var names...).
_NON_SECRET_NAME = re.compile(
    r"(?i)(?:^|[_\-.])(?:type|url|uri|endpoint|count|len|length|size|max|min|expiry|expires?|expiration|ttl|timeout|"
    r"file|path|dir|name|id|header|prefix|suffix|field|label|hint|prompt|regex|pattern|env|var|policy|format|kind|"
    r"class|enabled|required|mode|hash|hashed|salt|digest|reset|confirm|confirmation|placeholder|help|text|title|"
    r"message|msg|error|column|col|input|form|widget|validator|strength|rules?|hasher|manager|provider|store|"
    r"storage|service|cache|ids?|index|idx|limit|usage|budget|cost|counts?|tokenizer|regexp|char|chars)s?$")
_IDENT_TAIL = re.compile(r"[\w.\-$]*")
_ASSIGN_TAIL = re.compile(
    r"""(?P<nq>["']?)\]?[ \t]*                        # closing quote of a JSON/dict key
        (?::[ \t]*[A-Za-z_][\w\[\], .|]{0,40}?(?=[ \t]*=[^=>]))?[ \t]*  # annotation (password: str = ...)
        (?::=|=>|->|==|=|:|(?<=["'],)|(?<=["']),)(?!=)[ \t]*   # operator; define('NAME', 'value')
        (?:[rbuf]{0,2}(?P<q>["'`])(?P<qv>[^"'`\n]{1,400})(?P=q)   # quoted literal
          |(?P<uv>[^\s"'`,;#)\]}]{1,400}))             # or bare value (config/env files)
    """, re.X)
_NON_LITERAL = re.compile(
    r"""^(?:[A-Za-z_$][\w$]*(?:\.[A-Za-z_$]|[\[(]|->|::)|process\.env|os\.|getenv|environ|None$|null$|nil$|undefined$|
        true$|false$|True$|False$|self\.|this\.|\$|%|\{|\(|\[|<|\\)""", re.X)
_URL_USERINFO = re.compile(r"([^\s:/@'\"`<>{}]{1,64}):([^\s@/'\"`<>]{1,128})@(?=[\w\-\[])")
_HEX = frozenset("0123456789abcdefABCDEF")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HASH_CONTEXT = re.compile(r"(?i)sha|md5|hash|byte|checksum|digest|commit|integrity|revision|\brev\b")
_LOCK_FILES = ("package-lock.json", "yarn.lock", "pnpm-lock.yaml", "cargo.lock", "poetry.lock", "pipfile.lock",
               "composer.lock", "gemfile.lock", "go.sum", "packages.lock.json", "podfile.lock", "mix.lock",
               "flake.lock", "pubspec.lock", "gradle.lockfile", "uv.lock", "bun.lock")


def is_lock_file(path: str | None) -> bool:
    return bool(path) and path.rsplit("/", 1)[-1].lower() in _LOCK_FILES


def looks_like_secret(value: str, line: str = "", entropy_threshold: float = 3.0, min_length: int = 16) -> bool:
    """A high-entropy literal that is not a hash, UUID, integrity value or placeholder."""
    if len(value) < min_length or " " in value or _is_placeholder(value) or _is_sequential(value):
        return False
    if _REGEX_LIKE.search(value) or _wordy(value):
        return False
    if _UUID_RE.match(value) or value.startswith(("sha1-", "sha256-", "sha384-", "sha512-")):
        return False
    is_hex = all(c in _HEX for c in value)
    # FACTS §5.2: 32/40/64-char values on a line talking about sha/md5/hash/byte are hashes
    # (codemill also counts digest/checksum/commit/integrity/revision).
    if is_hex and len(value) in (32, 40, 64, 128) and _HASH_CONTEXT.search(line):
        return False
    if value.startswith(("http://", "https://", "/", "./", "../")) or value.count("/") >= 3:
        return False  # URLs and paths
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    if not (has_digit and has_alpha):
        return False  # words_joined_by_underscores, long numbers
    threshold = entropy_threshold if is_hex else entropy_threshold + 0.5
    return shannon_entropy(value) >= threshold


def _looks_like_password(value: str) -> bool:
    if len(value) < 5 or len(value) > 128 or " " in value.strip() or _is_placeholder(value):
        return False
    low = value.lower()
    if "password" in low or "passwd" in low or _REGEX_LIKE.search(value):
        return False
    if low in {"password", "passwd", "secret", "pass", "pwd", "changeit", "admin", "root", "none", "null", "empty",
               "required", "optional", "string", "text", "hidden", "test", "default", "guest", "string"}:
        return False
    if low.isdigit() and len(low) < 6:
        return False
    if re.fullmatch(r"[a-z]+(?:_[a-z]+)+", value) or re.fullmatch(r"[A-Z]+(?:_[A-Z]+)+", value):
        return False  # identifiers / constants (PASSWORD_FIELD)
    if value.startswith(("http://", "https://", "/", "./", "sha", "$2", "pbkdf2")):
        return False  # URLs, paths, and hashed (not plain) passwords
    return True


def _line_bounds(text: str, pos: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, (len(text) if end < 0 else end)


_KEYWORDS = ("pass", "pwd", "secret", "token", "key", "auth", "credential", "bearer")
_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-$")


def _identifier_at(text: str, pos: int) -> tuple[int, int]:
    start = pos
    while start > 0 and text[start - 1] in _IDENT_CHARS and pos - start < 80:
        start -= 1
    m = _IDENT_TAIL.match(text, pos)
    return start, m.end()


def detect_assignments(text: str, path: str | None = None, entropy_threshold: float = 3.0) -> list[Span]:
    """Passwords and high-entropy secrets assigned to password/key/secret/token-like names.

    Speed: the keywords are found with str.find on the lower-cased text (C speed); only at
    those hits is the identifier around them taken and the assignment regex *matched* at
    its end (never scanned over the file)."""
    skip_keys = is_lock_file(path)
    low = text.lower()
    names = set()
    for kw in _KEYWORDS:
        i = low.find(kw)
        while i >= 0:
            names.add(_identifier_at(text, i))
            i = low.find(kw, i + len(kw))
    spans = []
    for start, end in sorted(names):
        name = text[start:end].lstrip(".-$").rstrip(".-")
        if not name:
            continue
        kind = _NAME_WORDS.search(name)
        if kind is None or _NON_SECRET_NAME.search(name):
            continue
        m = _ASSIGN_TAIL.match(text, end)
        if m is None:
            continue
        quoted = m.group("qv") is not None
        value = m.group("qv") if quoted else m.group("uv")
        vstart = m.start("qv") if quoted else m.start("uv")
        if "://" in value:
            continue  # URLs: detect_url_passwords looks inside them
        ls, le = _line_bounds(text, start)
        if not quoted:
            # A bare value is a literal only in config/env files: `NAME=value` / `name: value`
            # as the first thing on the line; elsewhere it is code (a reference, a type).
            # Also after `;`, `?`, `&`: connection strings (Server=db;Password=x;) and query strings.
            prefix = text[ls:start]
            # And command-line flags: --password=VALUE.
            if _NON_LITERAL.match(value) or (prefix.strip(" \t\"'") not in ("", "export", "-", "set", "SET")
                                             and not prefix.endswith((";", "; ", "?", "&"))
                                             and not text.startswith("--", start)):
                continue
        line = text[ls:le]
        if _PASSWORD_WORD.search(kind.group(1)):
            # bare words in code (`password = form_value`) are references, not literals
            if not quoted and value.isidentifier() and not any(c.isdigit() for c in value):
                continue
            if looks_like_secret(value, line, entropy_threshold) or _looks_like_password(value):
                spans.append(Span(vstart, vstart + len(value), PASSWORD, "password_assignment"))
        elif not skip_keys and looks_like_secret(value, line, entropy_threshold):
            detector = "aws_secret_key" if "aws" in name.lower() else "secret_assignment"
            spans.append(Span(vstart, vstart + len(value), KEY, detector))
    return spans


_MYSQL_P_RE = re.compile(r"(?<=\s)-p([^\s'\"\-$][^\s'\"]{3,127})(?=\s|$)")  # mysql -pSECRET (no space)
_DSN_RE = re.compile(r"(?<![\w.\-])[\w.\-]{1,64}:([^\s@/'\"`<>:]{1,128})@(?:tcp|unix|udp)\(")
_URL_USER_ONLY = re.compile(r"([^\s:/@'\"`<>{}]{16,128})@(?=[\w\-\[])")


def detect_url_passwords(text: str, entropy_threshold: float = 3.0) -> list[Span]:
    """scheme://user:PASSWORD@host and Go/MySQL DSNs user:PASSWORD@tcp(host); a high-entropy
    user part alone (scheme://TOKEN@host, e.g. Sentry DSNs) is a KEY."""
    spans = []
    if "@tcp(" in text or "@unix(" in text or "@udp(" in text:
        for m in _DSN_RE.finditer(text):
            if not (_is_placeholder(m.group(1)) or m.group(1).startswith(("$", "%", "{"))):
                spans.append(Span(m.start(1), m.end(1), PASSWORD, "dsn_password"))
    if "mysql" in text or "mariadb" in text:
        for m in _MYSQL_P_RE.finditer(text):
            ls, le = _line_bounds(text, m.start())
            if re.search(r"\b(?:mysql|mysqldump|mysqladmin|mariadb)\b", text[ls:m.start()]) and not _is_placeholder(m.group(1)):
                spans.append(Span(m.start(1), m.end(1), PASSWORD, "cli_password"))
    i = text.find("://")
    while i >= 0:
        m = _URL_USERINFO.match(text, i + 3)
        u = None if m else _URL_USER_ONLY.match(text, i + 3)
        if u and looks_like_secret(u.group(1), "", entropy_threshold):
            spans.append(Span(u.start(1), u.end(1), KEY, "url_token"))
        if m:
            value = m.group(2)
            if not (_is_placeholder(value) or value.lower() in {"password", "pass", "passwd", "pwd", "secret", "token"}
                    or value.startswith(("$", "%", "{")) or value.isdigit()):
                spans.append(Span(m.start(2), m.end(2), PASSWORD, "url_password"))
        i = text.find("://", i + 3)
    return spans


_BEARER_RE = re.compile(r"(?<![\w])[Bb]earer\s+([A-Za-z0-9._~+/\-]{20,}=*)")


def detect_bearer(text: str, entropy_threshold: float = 3.0) -> list[Span]:
    if "earer" not in text:
        return []
    spans = []
    for m in _BEARER_RE.finditer(text):
        if looks_like_secret(m.group(1), "", entropy_threshold):
            spans.append(Span(m.start(1), m.end(1), KEY, "bearer_token"))
    return spans


# Full names on author/maintainer/contact lines: the one place code reliably names people.
# Copyright lines are left to the model tier (udfs/pii_model.py): they name organisations
# ("Copyright (c) 2023 Cloudhop Networks") as often as people. FACTS §5.1: NAME only with ≥ 2 words.
_NAME_WORD = r"[A-Z][a-zà-öø-ÿ]+(?:['\-][A-Z]?[a-zà-öø-ÿ]+)*"
_AUTHOR_RE = re.compile(
    r"(?:@author|\b[Aa]uthors?\s*[:=]|\b[Mm]aintainers?\s*[:=]|\b[Cc]ontact\s*:|\b[Cc]reated by|\b[Ww]ritten by)"
    r"[ \t]*[\"']?[ \t]*(" + _NAME_WORD + r"(?:[ \t]+(?:[A-Z]\.[ \t]+)?" + _NAME_WORD + r"){1,3})")
_ORG_WORDS = frozenset({"Inc", "Ltd", "Llc", "Corp", "Corporation", "Foundation", "Project", "Authors", "Contributors",
                        "Team", "Software", "Labs", "Limited", "Company", "Group", "Developers", "Systems", "Gmbh",
                        "Technologies", "University", "The", "All", "Rights", "Reserved", "Free", "Open", "Source",
                        "Apache", "Google", "Microsoft", "Facebook", "Meta", "Amazon", "Mozilla", "Python", "License",
                        "Community", "Organization", "Institute", "Association", "Holdings", "Partners"})
_AUTHOR_GATE = ("uthor", "aintainer", "ontact", "ritten by", "reated by")


def detect_author_names(text: str) -> list[Span]:
    """Only the lines holding a gate word are searched (str.find), never the whole file."""
    lines = set()
    for g in _AUTHOR_GATE:
        i = text.find(g)
        while i >= 0:
            lines.add(_line_bounds(text, i))
            i = text.find(g, i + len(g))
    spans = []
    for ls, le in sorted(lines):
        for m in _AUTHOR_RE.finditer(text, ls, le):
            words = re.split(r"[ \t]+", m.group(1))
            if any(w.strip(".") in _ORG_WORDS for w in words):
                continue
            spans.append(Span(m.start(1), m.end(1), NAME, "author_line"))
    return spans


# ---------------------------------------------------------------------------------------
# All rules, merging, redaction
# ---------------------------------------------------------------------------------------
# When spans overlap the stronger one wins: vendor formats > assignments > others.
_PRIORITY = {"pem_private_key": 0, "jwt": 1, "url_password": 2}


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """Non-overlapping spans in text order. Of overlapping ones a rule beats the model (rules are
    measured precise, the model is a fallback for names), then the longer span wins."""
    ordered = sorted(spans, key=lambda s: (s.detector == "model", -(s.end - s.start),
                                           _PRIORITY.get(s.detector, 5), s.start))
    chosen: list[Span] = []
    for s in ordered:
        if all(s.end <= c.start or s.start >= c.end for c in chosen):
            chosen.append(s)
    return sorted(chosen)


def detect_rules(text: str, path: str | None = None, entropy_threshold: float = 3.0) -> list[Span]:
    """Every rule-tier finding in `text` (the file's `path` exempts lock files from key rules)."""
    if not text:
        return []
    spans = detect_emails(text) + detect_ips(text) + detect_vendor_keys(text)
    spans += detect_assignments(text, path, entropy_threshold)
    spans += detect_url_passwords(text, entropy_threshold) + detect_bearer(text, entropy_threshold)
    spans += detect_author_names(text)
    return merge_spans(spans)


PLACEHOLDERS = {EMAIL: "<EMAIL>", KEY: "<KEY>", PASSWORD: "<PASSWORD>", NAME: "<NAME>", USERNAME: "<NAME>"}


def ip_replacement(value: str) -> str:
    """One of FACTS §5.1's 5 synthetic private addresses of the value's family, chosen from a
    hash of the value: the same address always gets the same replacement (deterministic, so
    re-running the stage gives the same output)."""
    pool = IPV6_REPLACEMENTS if ":" in value else IPV4_REPLACEMENTS
    return pool[int.from_bytes(hashlib.sha256(value.encode()).digest()[:4], "big") % len(pool)]


def redact(text: str, spans: Iterable[Span]) -> str:
    """Replace each (non-overlapping) span with its placeholder."""
    out, pos = [], 0
    for s in sorted(spans):
        if s.start < pos:
            continue
        out.append(text[pos:s.start])
        if s.type == IP_ADDRESS:
            out.append(ip_replacement(text[s.start:s.end]))
        else:
            out.append(PLACEHOLDERS[s.type])
        pos = s.end
    out.append(text[pos:])
    return "".join(out)
