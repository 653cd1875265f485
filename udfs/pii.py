"""PII rules tier: pure functions that find emails, IP addresses, keys and passwords in code
and redact them. No Spark import; unit-tested directly (tests/test_pii_rules.py).

Every detector returns `Span(start, end, type, detector)` tuples: character offsets into the
text, the entity type (docs/recipe.md §5.1 vocabulary) and the rule that fired. A span never carries
the value: callers that log or store findings cannot leak what was found.

Speed (target ≥ 5 MB/s per core on real code, benchmarks/pii_throughput.py): every detector
is gated by a cheap C-level test (`'@' in text`, `str.find` of literal prefixes, a lower-cased
keyword search) so most files skip most regexes; the regexes themselves are anchored with
look-behinds so that no pattern backtracks over long words.

Sources: docs/recipe.md §5.1 (entity types, placeholders, IP replacements, DNS resolvers kept),
docs/recipe.md §5.2 (email delimiters, IP false-positive filters, hash filters for keys).
"""
from __future__ import annotations

import functools
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
# Emails (docs/recipe.md §5.2: explicit left/right delimiters, local part, 1–10 dotted sub-domains,
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
# IP addresses: public only (docs/recipe.md §5.1), with docs/recipe.md §5.2's false-positive filters
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
# The 14 well-known public DNS resolvers StarCoder's redaction keeps (docs/recipe.md §5.1), plus the
# IPv6 addresses of the same services (codemill's addition: the same reasoning applies).
PUBLIC_DNS = frozenset({
    "8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112", "208.67.222.222",
    "208.67.220.220", "76.76.19.19", "76.223.122.150", "8.26.56.26", "8.20.247.20", "94.140.14.14",
    "94.140.15.15",
    "2001:4860:4860::8888", "2001:4860:4860::8844", "2606:4700:4700::1111", "2606:4700:4700::1001",
    "2620:fe::fe", "2620:fe::9",
})
# Replacements (docs/recipe.md §5.1): 5 synthetic private addresses per family.
IPV4_REPLACEMENTS = ("172.16.31.10", "172.16.58.3", "172.16.17.32", "192.168.127.12", "192.168.3.11")
IPV6_REPLACEMENTS = ("fd00:c2b6:b24b:be67:2827:688d:e6a1:6a3b", "fd00:a516:7c1b:17cd:6d81:2137:bd2a:2c5b",
                     "fc00:e968:6179::de52:7100", "fc00:db20:35b:7399::5", "fdf8:f53e:61e4::18")
# Numbers that look like IPv4 but are versions, OIDs or section numbers (codemill's addition).
# A dotted quad with every part <= 255 is an address by shape alone; what decides is the
# context, never the octets: a version word, `v`, `==`/`>=`, `pkg@`, `?v=` before it, or a
# line that is a changelog heading (`## 1.2.3.4 (2021-03-04)`, `1.2.3.4` over an rst underline).
_VERSION_CONTEXT = re.compile(
    r"(?i)version|release|\bver\b|\brev\b|\bbuild\b|\btag\b|\bbump|\bupgrade|\bupdate[ds]? to\b|\bsince\b|"
    r"\boid\b|objectidentifier|section|chapter|\brfc\b|§|\bfigure\b|\btable\b|\bfirmware\b|\bsdk\b|"
    r"\bchangelog\b|\bpatch\b|\bhotfix\b|\bder\b|\basn\.?1\b|x\.?509|whatwg|\bw3c\b|\becma|\bieee\b|\biso\b|"
    # release prose ("Changes in", "New in", "Fixed since") and version names (MSRV, semver, vsn)
    r"\b(?:changes|changed|new|fixed|added|removed|deprecated|introduced|available|backported|released)[ \t]+"
    r"(?:in|since)\b|msrv|semver|\bvsn\b")
# SVG path data and other runs of decimals: "1.08.58 1.23.82.72 1.21"
_NUMERIC_RUN = re.compile(r"(?:-?\d*\.\d+[ ,\-]){2}$")
_VERSION_QUERY = re.compile(r"(?i)[?&;](?:v|ver|version|rev|build|_)=$")
_HEADING_MARK = re.compile(r"[ \t]*(?:#{1,6}|=+)[ \t]*\[?[ \t]*$")
_LINE_START_ONLY = re.compile(r"[ \t]*\[?$")
_HEADING_AFTER = re.compile(r"[ \t]*\]?:?[ \t]*(?P<date>\(?[ \t]*\d{4}-\d{2}-\d{2}[ \t]*\)?|\([^)\n]{0,40}\)|"
                            r"[-–][ \t]*\d{4}[-/]\d{2}[-/]\d{2}|"
                            # `1.2.3.4 - bug fixes`: a release line and its summary (an access log's
                            # `1.2.3.4 - - [date]` or `- user [date]` has no plain words after the dash)
                            r"[-–:][ \t]+[A-Za-z][A-Za-z ,.'()\-]{2,80})?[ \t]*$")
_RST_UNDERLINE = re.compile(r"\n[ \t]*([=\-~^\"'`#*+])\1{2,}[ \t]*(?:\n|$)")
# Evidence of an address: a network word before it, a port or CIDR suffix after it.
_NETWORK_BEFORE = re.compile(r"(?i)\b(?:ip|ips|ipv4|host|hosts|addr|address|server|proxy|gateway|dns|remote|peer|from|"
                             r"src|dst|ping|ssh|connect|listen|bind|route|upstream|origin|mirror|node|nameserver|"
                             r"allow|deny|whitelist|allowlist|blacklist|firewall|subnet|client|resolver|endpoint)\b")
_IMAGE_TAG_BEFORE = re.compile(r"(?:^|[\s\"'=(])[a-z0-9][\w.\-/]*(?::[a-z0-9][\w.\-]*)?:$")
# more version contexts: a reST/Sphinx directive's argument, a generator meta tag, a `/*!`
# licence banner, "from N to M" on a line that bumps/upgrades/updates, "tested on Ubuntu N",
# the first cell of a table row that carries a date, a closing HTML tag before the number
_DIRECTIVE_BEFORE = re.compile(r"(?:^|[ \t])\.\.[ \t]+[\w\-]+::[ \t]*$")
_GENERATOR_BEFORE = re.compile(r"(?i)name=[\"']generator[\"'][^<>\n]{0,40}$")
_BANNER_LINE = re.compile(r"[ \t]*/\*!")
_UPDATE_FROM_TO = re.compile(r"(?i)\b(?:from|to)[ \t]+[`'\"]?$")
_UPDATE_WORDS = re.compile(r"(?i)\b(?:bump(?:s|ed)?|upgrade[sd]?|update[sd]?|downgrade[sd]?|migrat\w+)\b")
_TAG_BEFORE = re.compile(r"<[A-Za-z][^<>\n]{0,60}>$")
_NODE_NOUN = re.compile(r"(?i)(?<![A-Za-z])(?!(?:requires?|needs?|against|with|using|use|installs?|installed|for|on|"
                        r"tested|supports?|min|minimum|and|or)\b)[A-Za-z]{2,}[ \t]+node[ \t]*:?[ \t]*$")
_TESTED_ON = re.compile(r"(?i)\b(?:tested|built|compiled|verified|works|runs|running)[ \t]+(?:on|with|against|under|in)"
                        r"[ \t]+(?:[A-Z][\w.+\-]*[ \t]+){1,2}$")
_RELEASE_ROW = re.compile(r"[ \t]*\|[ \t]*[`*]{0,2}$")
_PORT_AFTER = re.compile(r":\d{1,5}(?!\d)|/\d{1,2}(?![\d.])")  # a port or a CIDR prefix: an address
_NAME_PAIR_BEFORE = re.compile(r"[{(\[][ \t]*[\"']([a-z][\w.\-+]{1,30})[\"'][ \t]*,[ \t]*[\"']$")
_DATE_IN = re.compile(r"\b(?:19|20)\d\d-\d\d-\d\d\b")
_ADDRESS_WORD_BEFORE = re.compile(r"(?i)(?:ip|host|addr|address|server|proxy|gateway|dns|remote|peer|from|to|src|dst):$")
_SERVER_CONTEXT = re.compile(r"(?i)dns|server")
# A runtime, tool or requirement word right before the number ("go 1.2.3.4", "Built against
# 1.2.3.4", `"node": "1.2.3.4"`, "requires Python 10.2.3.4"), or a release qualifier right
# after it ("1.2.3.4 of the SDK", "1.2.3.4 or later", "1.2.3.4-beta"): a version.
_PRODUCT_BEFORE = re.compile(
    r"(?i)(?:^|[^\w.])(?:python|py|pypy|cpython|node|nodejs|npm|yarn|pnpm|deno|bun|go|golang|java|jdk|jre|openjdk|"
    r"rust|rustc|cargo|gcc|g\+\+|clang|llvm|msvc|cmake|make|openssl|libssl|glibc|kernel|linux|windows|win|macos|"
    r"osx|ios|android|chrome|chromium|firefox|safari|electron|dotnet|\.net|php|ruby|perl|lua|julia|scala|kotlin|"
    r"ubuntu|debian|fedora|centos|rhel|alpine|freebsd|openbsd|netbsd|hugo|jekyll|gatsby|wordpress|drupal|"
    r"swift|gradle|maven|cuda|cudnn|qt|gtk|boost|protobuf|grpc|numpy|torch|django|flask|rails|react|angular|vue|"
    r"typescript|engine|engines|runtime|toolchain|compiler|platform|library|lib|package|pkg|module|plugin|"
    r"driver|api|sdk|against|requires?|required|needs?|compatible|tested|supported|support|min(?:imum)?|"
    r"max(?:imum)?|latest|stable|current|pinned?|installs?|installed|upgraded?|downgraded?|bumped|targets?|"
    r"targeting|depends?|dependency|dependencies)[\"'`]?[ \t]*[:=]?[ \t]*[\"'`]?$")
_VERSION_AFTER = re.compile(
    r"(?i)(?:\+|-(?:alpha|beta|rc|dev|pre|preview|snapshot|final|release|lts|stable|nightly)\w*|"
    r"[ \t]*\|[ \t]*(?:(?:MIT|BSD|Apache|GPL|LGPL|AGPL|ISC|MPL|licen[sc]ed?)\b|\(c\)|©)|"
    r"[\"'`]?[ \t]+(?:of[ \t]+(?:the|this|our|[A-Z])|or[ \t]+(?:later|newer|higher|above|greater|earlier|older|"
    r"below|lower)|and[ \t]+(?:later|newer|up|above|higher|earlier|below)|release|build|lts|beta|alpha|rc\d*|"
    r"series|branch|line|stable|nightly)\b)")
_REMOTE_LOGIN = re.compile(r"\b(?:ssh|scp|sftp|rsync|mosh|telnet|ftp|rsh|ssh-copy-id)\b")


def _is_version_context(text: str, start: int, end: int) -> bool:
    """Does the context say that the dotted quad at text[start:end] is a version?"""
    ls = text.rfind("\n", 0, start) + 1
    le = text.find("\n", end)
    le = len(text) if le < 0 else le
    before = text[max(ls, start - 100):start]
    if text[start - 1:start] in ("v", "V"):
        return True  # v1.2.3.4
    if text[start - 1:start] == "@":
        # pkg@1.2.3.4, unless it is user@host of a remote shell or copy, or `dig @server`
        # (an `@` with no package name before it)
        if start < 2 or not (text[start - 2].isalnum() or text[start - 2] in "-_./"):
            return False
        return not (_REMOTE_LOGIN.search(text, ls, start) or text.startswith((":/", ":~"), end))
    if _VERSION_CONTEXT.search(before[-24:]) or _VERSION_QUERY.search(before):
        return True
    if _DIRECTIVE_BEFORE.search(before) or _GENERATOR_BEFORE.search(before) or _BANNER_LINE.match(text, ls):
        return True  # `.. deprecated:: N`, <meta name="generator" content="Tool N">, /*! lib N */
    if _UPDATE_FROM_TO.search(before) and _UPDATE_WORDS.search(text, ls, start):
        return True  # "Bump esbuild from N to M", "upgrade from N"
    stripped = before.rstrip()
    if stripped[-2:] in (">=", "<=", "==", "~=", "!=") or stripped[-1:] in ("<", "~", "^") or (
            stripped[-1:] == ">" and not _TAG_BEFORE.search(stripped)):
        return True  # requirement specifiers (pkg>=21.13.231.56); <td>N is markup, not a bound
    if _IMAGE_TAG_BEFORE.search(before) and not _ADDRESS_WORD_BEFORE.search(before):
        return True  # image tags (postgres:16.5.107.94), Maven coordinates (group:artifact:N)
    if _NUMERIC_RUN.search(before[-24:]):
        return True
    if not _ADDRESS_WORD_BEFORE.search(before.rstrip(" \t\"'`")):
        if _PRODUCT_BEFORE.search(before[-32:]) and not _NODE_NOUN.search(before[-32:]):
            return True
        if _VERSION_AFTER.match(text, end, le) or _TESTED_ON.search(before[-60:]):
            return True
        if _RELEASE_ROW.match(text, ls, start) and _DATE_IN.search(text, end, le):
            return True  # a release table's row: | N | 2024-02-11 | stable |
        pair = _NAME_PAIR_BEFORE.search(before)
        if pair and not _NETWORK_BEFORE.search(pair.group(1).replace("_", " ").replace("-", " ")) and not (
                _PORT_AFTER.match(text, end) or pair.group(1) in ("tcp", "udp", "tcp4", "udp4", "ip", "ip4")):
            return True  # a (component, version) table entry: {"zlib", "N"}
    octets = text[start:end].split(".")
    if all(len(o) <= 2 and int(o) <= 31 for o in octets) and not _NETWORK_BEFORE.search(before):
        # every part <= 31 and no network word: a version (5.12.1.0, 1.20.3.4); random public
        # addresses have all four octets <= 31 with probability (32/256)^4 ≈ 0.02%
        return True
    after = _HEADING_AFTER.match(text, end, le)
    if after:
        # a changelog heading: `## 1.2.3.4`, `1.2.3.4 (2021-03-04)`, or the number alone on a
        # line over an rst underline
        if _HEADING_MARK.fullmatch(text, ls, start):
            return True
        if _LINE_START_ONLY.fullmatch(text, ls, start) and (after.group("date") or _RST_UNDERLINE.match(text, le)):
            return True
    return False


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
            # docs/recipe.md §5.2: a 7-char dotted string (1.2.3.4) is a version unless dns/server is near.
            if len(value) == 7 and not _SERVER_CONTEXT.search(text[max(0, start - 100):end + 100]):
                continue
            if _is_version_context(text, start, end):
                continue
            spans.append(Span(start, end, IP_ADDRESS, "ipv4"))
    if "::" in text or text.count(":") >= 7:
        for m in _IPV6_RE.finditer(text):
            value, end = m.group(), m.end()
            if m.start() and (text[m.start() - 1].isalnum() or text[m.start() - 1] in ":._"):
                continue
            if value.endswith(":") and not value.endswith("::") and text.startswith(("/", "~"), end):
                value, end = value[:-1], end - 1  # scp host:path, rsync host:~/dir
            if end < len(text) and (text[end].isalnum() or text[end] in "_"):
                continue
            groups = [g for g in value.split(":") if g]
            if len(groups) < 2 or not any(c.isdigit() for c in value):
                continue
            if "::" not in value and value.count(":") != 7:
                continue  # times, MAC addresses, ratios
            if _is_public_ip(value):
                spans.append(Span(m.start(), end, IP_ADDRESS, "ipv6"))
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
    ("sendgrid_key", ("SG.",), re.compile(r"(?<![A-Za-z0-9_\-.])SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}(?![A-Za-z0-9_\-])")),
    ("jwt", ("eyJ",), re.compile(r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}")),
    ("pem_private_key", ("PRIVATE KEY",),
     re.compile(r"-----BEGIN ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY(?: BLOCK)?-----(.*?)-----END \1PRIVATE KEY(?: BLOCK)?-----",
                re.S)),
]
_PLACEHOLDER_WORDS = re.compile(r"(?i)example|sample|dummy|fake|placeholder|changeme|change_me|your[_\-]?|"
                                r"redacted|xxxx|\*\*\*|\.\.\.|<[^>]*>|\$\{|\{\{|%\(|(?-i:%s)(?![A-Za-z0-9])|todo|insert|replace")


def _is_placeholder(value: str) -> bool:
    for m in _PLACEHOLDER_WORDS.finditer(value):
        if len(value) <= 40 or not m.group()[:1].isalpha():
            return True
        # in a long random value (a JWT signature) a word turns up by chance: there it must
        # stand apart (`...-your-key-here`), not inside a run of random characters
        a, b = m.start(), m.end()
        if a == 0 or not value[a - 1].isalnum() or b == len(value) or not value[b].isalnum():
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


# Assignments: a secret-like NAME, an operator or connector, a VALUE, in any syntax:
#   NAME = "v"   NAME: "v"   NAME := "v"   NAME => "v"   "NAME": "v"   NAME="v" (kwargs)
#   const NAME: &str = "v";   static const char NAME[] = "v";   #define NAME "v"
#   define('NAME', 'v')   setProperty("NAME", "v")   setPassword("v")   String::from("v")
#   NAME=v / name: v / name = v as config, .env and shell lines, in comments of every syntax
#   (# // /* * <!-- ; --) and in prose ("Set NAME=v before…", "set the API key to `v`",
#   "the password is ``v``", "API key: v").
# The NAME is split into words (snake_case, camelCase, kebab-case, "API key" in prose):
# password words make a PASSWORD, secret/token/credential words or a qualified `key`
# (api key, client key…) make a KEY; metadata words at the end (…_url, …_length, …_hash,
# …_field) make no secret at all.
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_PASSWORD_WORDS = frozenset({"password", "passwd", "passphrase", "pass", "pwd", "passw", "pw", "passcode"})
_SECRET_WORDS = frozenset({"secret", "secrets", "token", "credential", "credentials", "apikey", "bearer",
                           "privatekey", "secretkey", "accesskey", "authkey", "appkey", "masterkey", "apitoken",
                           "authtoken", "accesstoken", "clientsecret", "appsecret"})
# words before `key` that make it something other than a secret (a dictionary key, a public key…)
_PLAIN_KEY_QUALIFIERS = frozenset({
    "public", "pub", "primary", "foreign", "sort", "partition", "cache", "dict", "map", "hash", "lookup", "row",
    "column", "col", "index", "unique", "composite", "group", "routing", "object", "registry", "translation",
    "i18n", "message", "config", "setting", "settings", "env", "the", "a", "any", "each", "this", "that", "its",
    "of", "by", "no", "new", "old", "next", "prev", "last", "first", "dom", "react", "item", "list", "sorting",
    "meta", "label", "field", "attr", "attribute", "json", "yaml", "dns", "idempotency", "event", "query",
    "param", "header", "headers", "record", "node", "tree", "state", "store", "local", "shortcut", "hot",
    "keyboard", "press", "up", "down", "enter", "escape", "tab", "ctrl", "alt", "shift", "music", "piano",
    "sub", "parent", "child", "cluster", "shard", "bucket", "s3", "file", "path", "name", "type", "lock",
    "mutex", "redis", "db", "table", "task", "job", "queue", "metric", "counter", "media", "entry", "default",
    "host", "ssh", "gpg", "pgp", "pem", "rsa", "ecdsa", "x509", "cert", "certificate", "verify", "verification",
    "authorized", "known", "trusted", "pubkey",
    "in", "or", "and", "not", "if", "is", "for", "with", "as", "return", "else"})
_NON_SECRET_LAST = frozenset({
    "type", "types", "url", "uri", "endpoint", "count", "len", "length", "size", "max", "min", "expiry", "expires",
    "expire", "expiration", "ttl", "timeout", "file", "files", "path", "paths", "dir", "name", "names", "id", "ids",
    "header", "prefix", "suffix", "field", "fields", "label", "hint", "prompt", "regex", "regexp", "pattern", "env",
    "var", "policy", "format", "kind", "class", "enabled", "required", "mode", "hash", "hashed", "salt", "digest",
    "reset", "confirm", "confirmation", "placeholder", "help", "text", "title", "message", "msg", "error", "column",
    "col", "input", "form", "widget", "validator", "strength", "rule", "rules", "hasher", "manager", "provider",
    "store", "storage", "service", "cache", "index", "idx", "limit", "usage", "budget", "cost", "counts",
    "tokenizer", "char", "chars", "location", "loc", "version", "ref", "arn", "source", "mount", "key_id", "param",
    "params", "option", "options", "flag", "flags", "changed", "changes", "expired", "valid", "invalid", "policy",
    "algorithm", "alg", "algo", "encoding", "scheme", "method", "methods", "handler", "callback", "factory",
    "class", "cls", "func", "fn", "util", "utils", "test", "tests", "spec", "len", "bits", "bytes", "offset",
    "position", "pos", "start", "end", "begin", "stop", "span", "spans", "ids", "list", "map", "dict", "set",
    "lookup", "table", "schema", "model", "config", "settings", "setting", "meta", "info", "details", "entry",
    "entries", "value_type", "prefixes", "page", "view", "template", "link", "button", "modal", "dialog", "string",
    "str", "number", "num", "key_name", "keyname", "format", "kwargs", "args", "arg", "context", "ctx", "state",
    "status", "event", "events", "request", "response", "result", "results", "stream", "parser", "reader",
    "writer", "loader", "builder", "generator", "gen", "encoder", "decoder", "validation", "policy", "rotation",
    "expiry", "lifetime", "age", "window", "interval", "delay", "retries", "retry", "exchange", "refresh_url"})


def _words(name: str) -> list[str]:
    return [w.lower() for w in _CAMEL.findall(name)]


@functools.lru_cache(maxsize=65536)
def secret_name_kind(name: str) -> str | None:
    """PASSWORD, KEY or None for an identifier or a short phrase ("API key", "dbPass")."""
    words = _words(name)
    if not words or words[-1] in _NON_SECRET_LAST or (len(words) > 1 and words[-2] + "_" + words[-1] in
                                                         _NON_SECRET_LAST):
        return None
    if any(w in _PASSWORD_WORDS or (len(w) > 8 and w.endswith(("password", "passwd"))) or (
            len(w) > 4 and w.endswith("pwd")) for w in words):  # userpwd, rootpwd
        return PASSWORD
    for i, w in enumerate(words):
        if w in _SECRET_WORDS or (len(w) > 6 and w.endswith(("secret", "token"))):
            return KEY
        if w in ("key", "keys") and i > 0 and words[i - 1] not in _PLAIN_KEY_QUALIFIERS \
                and not words[i - 1].isdigit():
            return KEY
        if w == "auth" and i == len(words) - 1 and len(words) > 1:
            return KEY  # x_auth, http_auth (…_auth_url and auth alone stay out)
    return None


_REGEX_LIKE = re.compile(r"\(\?|\\[dwsSbB]|\[[a-zA-Z0-9]-|\{\d+(?:,\d*)?\}|a-zA-Z|A-Za-z|a-z0-9|A-Z0-9|0-9a-z")
_ESCAPED_BYTES = re.compile(r"\\x[0-9a-fA-F]{2}")
_WORD_RUN = re.compile(r"[A-Z]?[a-z]{4,}")


_VOWELS = frozenset("aeiouyAEIOUY")


def _wordy(value: str) -> bool:
    """Mostly made of natural-language words (CamelCaseTypeNames, snake_case_words). A run of
    letters counts as a word when at least 30% of it is vowels: English words average ~40%,
    random letters 6/26 ≈ 23% (so random base62 keys are not "wordy" by chance)."""
    if "+" in value or value.endswith("="):
        return False  # base64
    n = 0
    for w in _WORD_RUN.findall(value):
        if sum(c in _VOWELS for c in w) * 10 >= 3 * len(w):
            n += len(w)
    return n * 2 >= len(value)


_NON_LITERAL = re.compile(
    r"""^(?:[A-Za-z_$][\w$]*(?:\.[A-Za-z_$]|[\[(]|->|::)|process\.env|os\.|getenv|environ|None$|null$|nil$|undefined$|
        true$|false$|True$|False$|self\.|this\.|\$[{(]|\$\w+$|%\(|%\w+%$|%[sdr]$|\{|\(|\[|<|\\|&)""", re.X)
_DOTTED = re.compile(r"[\w\-]+(?:\.[\w\-]+)+")


def _is_reference(value: str, entropy_threshold: float = 3.0) -> bool:
    """A bare value that names something (`settings.API_KEY`, `os.environ`, `${X}`) rather than
    being a literal. A dotted value with a random segment (`SG.<22>.<43>`, `<id>.<secret>`) is
    a literal: attribute chains are made of identifiers, not of keys."""
    if not _NON_LITERAL.match(value):
        return False
    if _DOTTED.fullmatch(value) and any(len(seg) >= 16 and looks_like_secret(seg, "", entropy_threshold)
                                        for seg in value.split(".")):
        return False
    return True


_URL_USERINFO = re.compile(r"([^\s:/@'\"`<>{}]{0,64}):([^\s/'\"`<>]{1,400}?)@(?=[\w\-\[{$%])")
_HEX = frozenset("0123456789abcdefABCDEF")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HASH_CONTEXT = re.compile(r"(?i)sha|md5|hash|byte|checksum|digest|commit|integrity|revision|\brev\b")
_LOCK_FILES = ("package-lock.json", "yarn.lock", "pnpm-lock.yaml", "cargo.lock", "poetry.lock", "pipfile.lock",
               "composer.lock", "gemfile.lock", "go.sum", "packages.lock.json", "podfile.lock", "mix.lock",
               "flake.lock", "pubspec.lock", "gradle.lockfile", "uv.lock", "bun.lock")
_PATH_SEGMENT = re.compile(r"[a-z][a-z0-9_\-]{2,}|[A-Za-z][a-z]+(?:[A-Z][a-z]+)*")
_JOINED_PARTS = re.compile(r"[A-Za-z0-9]{1,12}(?:[\-_.][A-Za-z0-9]{1,12})+")
_FILE_EXT = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,4}$")


def is_lock_file(path: str | None) -> bool:
    return bool(path) and path.rsplit("/", 1)[-1].lower() in _LOCK_FILES


def _is_path(value: str) -> bool:
    """A URL, file path or URL path, not base64 that happens to hold slashes: a path has a
    scheme, or a file extension, or mostly word segments; base64 (`+`, `=` padding, random
    segments) has none of these."""
    if "://" in value:
        return True
    if "/" not in value or "+" in value or value.endswith("="):
        return False
    segments = [s for s in value.split("/") if s]
    if not segments:
        return True
    if _FILE_EXT.search(value) and (len(segments) >= 2 or value.startswith(("/", "./", "../", "~/"))):
        return True
    # a word segment: a plain name, or parts joined by `-` `_` `.` (`Meta-Llama-3-8B-Instruct`),
    # which standard base64 (`+`, `/` and letters only) never has
    words = sum(1 for s in segments if _PATH_SEGMENT.fullmatch(s) or len(s) >= 8 and _wordy(s)
                or _JOINED_PARTS.fullmatch(s))
    return words * 2 > len(segments)


_SSH_PUBLIC = re.compile(r"\bssh-(?:rsa|ed25519|dss)[ \t]+AAAA|\becdsa-sha2-nistp\d+[ \t]+AAAA")
_UPPER_SNAKE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")


def looks_like_secret(value: str, line: str = "", entropy_threshold: float = 3.0, min_length: int = 16) -> bool:
    """A high-entropy literal that is not a hash, UUID, integrity value, path or placeholder.

    Entropy (bits per character, Shannon): random base62/base64 keys of 16-64 characters
    measure 3.8-5.5, random hex 3.3-4.0, English words and identifiers 2.5-3.5; a hex value
    must reach `entropy_threshold`, any other value that + 0.5 (pii.entropy_threshold)."""
    if len(value) < min_length or " " in value or "," in value or _is_placeholder(value) or _is_sequential(value):
        return False
    if line and ("PUBLIC KEY-----" in line or "ssh-" in line and _SSH_PUBLIC.search(line)):
        return False  # the body of a public key (PEM or an authorized_keys line)
    if _REGEX_LIKE.search(value) or _wordy(value) or _ESCAPED_BYTES.search(value):
        return False  # regexes, words, escaped binary (serialized descriptors: `\n\x11Name\x12`)
    if _UUID_RE.match(value) or value.startswith(("sha1-", "sha256-", "sha384-", "sha512-")):
        return False
    is_hex = all(c in _HEX for c in value)
    # docs/recipe.md §5.2: 32/40/64-char values on a line talking about sha/md5/hash/byte are hashes
    # (codemill also counts digest/checksum/commit/integrity/revision).
    if is_hex and len(value) in (32, 40, 64, 128) and _HASH_CONTEXT.search(line):
        return False
    if _is_path(value):
        return False  # URLs and paths
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    if not (has_digit and has_alpha):
        # words_joined_by_underscores and long numbers are not; base64 without a digit (mixed
        # case, `+` `/` or `=` padding, no words) still is
        if has_digit or not (value.endswith("=") or "+" in value) or value.islower() or value.isupper():
            return False
    if _UPPER_SNAKE.fullmatch(value):
        return False  # a constant's name (UNIQUE_GROUP21_A, TLS1_3_VERSION), not a random literal
    threshold = entropy_threshold if is_hex else entropy_threshold + 0.5
    return shannon_entropy(value) >= threshold


_NOT_PASSWORDS = frozenset({
    "password", "passwd", "secret", "pass", "pwd", "changeit", "admin", "root", "none", "null", "empty", "required",
    "optional", "string", "text", "hidden", "test", "default", "guest", "str", "bool", "int", "bytes", "unicode",
    "char", "secretstr", "optional[str]", "true", "false", "yes", "no", "on", "off", "prompt", "stdin", "env",
    "file", "keyring", "ask", "auto", "plain", "plaintext", "md5", "sha256", "bcrypt", "argon2", "scram-sha-256",
    "trust", "peer", "ident", "reject", "interactive", "n/a", "tbd", "value", "values", "secure", "insecure"})


# crypt(3) and framework password hashes: $1$ $5$ $6$ $y$ $2b$ $argon2id$, pbkdf2_sha256$…, sha1$…
_HASHED_PASSWORD = re.compile(r"\$(?:[0-9][a-z]?|y|gy|7|argon2\w*|scrypt|bcrypt|pbkdf2[\w\-]*|sha\d*|md5)\$|"
                              r"(?:pbkdf2_sha\d+|argon2|bcrypt(?:_sha256)?|sha1|md5|scrypt|crypt)\$|sha\d*[:$]")
_NUMBER_LITERAL = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F_]+|0[oObB][0-7_]+|\d[\d_]*(?:\.\d+)?(?:[eE][-+]?\d+)?)[uUlLfF]*")


def _looks_like_password(value: str, bare: bool = False) -> bool:
    """A plausible literal password. A bare value (no quotes: config lines, comments, prose)
    must also hold a digit or a symbol: a bare dictionary word there is prose ("password:
    required", ":param password: hashed"), and real passwords mostly mix classes."""
    if len(value) < 5 or len(value) > 128 or " " in value.strip() or _is_placeholder(value):
        return False
    low = value.lower()
    if "password" in low or "passwd" in low or _REGEX_LIKE.search(value):
        return False
    if low in _NOT_PASSWORDS:
        return False
    if low.isdigit() and len(low) < 6:
        return False
    if re.fullmatch(r"[a-z]+(?:_[a-z]+)+", value) or re.fullmatch(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+", value):
        return False  # identifiers / constants (PASSWORD_FIELD, DB_PASS_2)
    if value.startswith(("http://", "https://", "/", "./", "{", "[")) or _HASHED_PASSWORD.match(value):
        return False  # URLs, paths, markup, and hashed (not plain) passwords
    if _NUMBER_LITERAL.fullmatch(value):
        return False  # 0x216, 1_000_000
    if bare:
        if value.startswith((":", "=")):
            return False  # markup (:setting:`X`), a second operator
        if value.isalpha() or _wordy(value) and not any(c.isdigit() for c in value):
            return False
        if re.fullmatch(r"[A-Za-z_][\w]*\(\)?|[\w.]+\(.*", value):
            return False  # calls
    return True


def _line_bounds(text: str, pos: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, (len(text) if end < 0 else end)


_KEYWORDS = ("pass", "pwd", "pw", "secret", "token", "key", "auth", "credential", "bearer", "api")
_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-$")
_IDENT_TAIL = re.compile(r"[\w.\-$]*")
# "API key", "client secret", "access token": one word before a bare keyword word, in prose
_PHRASE_BEFORE = re.compile(r"([A-Za-z][A-Za-z0-9]{1,20})[ \t]+\Z")  # \Z: `$` would match before a newline
# What follows the NAME: closing quotes of a quoted name, C array brackets, a type annotation
# (Rust/TS/Go/Python: `: &'static str`, `: Option<String>`), then an operator or a connector.
_AFTER_NAME = re.compile(
    r"""(?P<nq>\\?["'`]{0,2}|\*\*|__)(?:\]|\[\d*\])?[ \t]*
        (?P<ann>:[ \t]*[&*]?(?:'static[ \t]+)?(?:mut[ \t]+)?[A-Za-z_\[][\w\[\], .|<>:;&']{0,40}?(?=[ \t]*=[ \t]*(?:[\w:]+\([ \t]*)?[rbuf]{0,2}\\?["'`]))?
        (?P<op>(?<=["'])[ \t]*,?[ \t]+(?:content|value|default[_\-]?[vV]alue|default)[ \t]*=|[ \t]*(?::=|=>|==|=|:|,)|\((?=[ \t]*[rbuf]{0,2}\\?["'`])|\{(?=[ \t]*[rbuf]{0,2}\\?["'`])|[ \t]+\((?![ \t]*["'`])|[ \t]+(?:is|to|as|are)[ \t]+
          |[ \t]*\|(?=[ \t])|[ \t]*<<<|[ \t]+)""",
    re.X)
_VALUE = re.compile(
    r"""[ \t]*(?:(?:[A-Z]\w{0,30}::(?:new|from)|String|Some|Ok|SecretStr|SecretString|Secret|str|new[ \t]+String|
                   Optional\.of)\([ \t]*|\{[ \t]*(?:value|default)[ \t]*[=:][ \t]*)?
        (?:[rbuf]{0,2}\\?(?P<q>``|["'`])(?P<qv>[^"'`\n]{1,400}?)\\?(?P=q)
          |(?P<uv>[^\s"'`,;)\]}>]{1,400}))""", re.X)
# a literal fallback after a reference: `process.env.X || "v"`, `ENV["X"] ?? "v"`, `getenv("X") or "v"`,
# and the default argument of an environment lookup: `os.environ.get("X", "v")`, `getenv("X", "v")`
_FALLBACK = re.compile(r"""[\w.$\[\]'"()\\]{0,80}?[ \t]*(?:\|\||\?\?|\bor\b|\?:)[ \t]*\\?(?P<q>["'`])(?P<v>[^"'`\n\\]{1,400}?)\\?(?P=q)|
                           [ \t]*\\?(?P<q2>["'])[\w.\-:]{1,80}\\?(?P=q2)[ \t]*,[ \t]*\\?(?P<q3>["'`])(?P<v2>[^"'`\n\\]{1,400}?)\\?(?P=q3)|
                           [\w.$\[\]'"()\\]{0,80}?[ \t]*\?[ \t]*[^:;?\n]{1,80}?[ \t]:[ \t]*(?P<q4>["'`])(?P<v3>[^"'`\n]{1,400}?)(?P=q4)""", re.X)
# callee words whose quoted arguments are credentials: `new BasicAWSCredentials(id, "v")`, `api.New("v")`
_CALL_WORDS = frozenset({"api", "client", "credential", "credentials", "auth", "sdk", "signer", "secret", "token",
                         "key", "session", "login"})
_QUOTED_ARG = re.compile(r"""(["'`])([^"'`\n]{16,400}?)\1""")
_SNAKE_IDENT = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
# plain words that are verbs or common nouns in prose: never a NAME before a connector
_PROSE_VERB = re.compile(r"(?i)pass(?:es|ed|ing)?|bypass|keys?|auth")
# comment openers and list/prose starts after which a bare NAME=value / NAME: value counts
_LINE_STARTS = ("", "export", "set", "SET", "-", "*", "#", "##", "//", "///", "//!", "/*", "/**", "<!--", ";", "--",
                "%", "rem", "REM", "::", '"""', "'''", "#:", "|", ">", "+", "$", "env", "ENV", "setenv")
_PROSE_WORDS = re.compile(r"(?i)\b(?:set|use|export|the|your|default|is|with|login|admin|demo|test|our|this|a|an|"
                          r"initial|new|example|staging|prod(?:uction)?|dev|local|redis|db|database|smtp|ftp|mysql|"
                          r"postgres|ldap|mail|app|service|user|root|api)[ \t]*$")
# user / password pairs in prose and comments: "login with admin / pw", "`admin` / `pw`"
# Both are matched only at the anchor words, found with str.find (never scanned over a file).
_LOGIN_PAIR = re.compile(r"(?i)(?:log[ \t-]?in|sign[ \t-]?in|credentials?|creds|account|user(?:name)?|auth)\b[^\n/]{0,30}?"
                         r"(?:`[\w.\-]{2,32}`[ \t]*/[ \t]*`([^\s`'\"]{5,64})`|"
                         r"(?:\*\*|__)[\w.\-]{2,32}(?:\*\*|__)[ \t]*/[ \t]*(?:\*\*|__)([^\s`'\"*]{5,64}?)(?:\*\*|__)|"
                         r"\b[\w.\-]{2,32}[ \t]+/[ \t]+([^\s`'\"/]{5,64}?))(?=[\s.,;)]|$)")
_LOGIN_ANCHORS = ("login", "log in", "log-in", "sign", "credential", "creds", "account", "user", "auth")
# connection calls whose positional arguments are (…, "user", "password", …): JDBC's
# getConnection(url, user, password), MySQL's mysql_real_connect(conn, host, user, password, …)
_CONNECT_CALL = re.compile(r"(?i)(?:connect\w*|login|logon|auth\w*|credentials?)[ \t]*\(")
_CONNECT_ANCHORS = ("connect", "login", "logon", "auth", "credential")
_STRING_PAIR = re.compile(r"""\\?(["'])([\w.\-@]{1,32})\\?\1[ \t]*,[ \t]*(?:(?:Some|Ok|String::from|Optional\.of)\([ \t]*)?\\?(["'])([^"'\n\\]{5,128}?)\\?\3""")
# a lone literal given to an auth/login call: redis.auth('pw'), client.login("pw")
_LONE_ARG = re.compile(r"""[ \t]*\\?(["'])([^"'\n\\]{5,128}?)\\?\1[ \t]*\)""")
_LONE_ARG_CALLEE = re.compile(r"(?i)(?<![\w])(?:auth|login|authenticate)[ \t]*\($")


_IDENT_BACK = re.compile(r"[\w.\-$]{1,80}\Z")  # \Z, not `$`: a name at a line start is no part of the line above


def _random_segment(value: str, entropy_threshold: float) -> bool:
    """Does an identifier-shaped value hold a long random segment (`shpat_<32 hex>`)?"""
    return any(len(seg) >= 16 and looks_like_secret(seg, "", entropy_threshold) for seg in value.split("_"))
# after a NAME, a character that can start an operator, a connector or a value; anything else
# (a newline, `)`, `;`, `.`…) ends the check at once: most keyword hits in code are `pass`
# statements, `key)` arguments and `token.` attributes
_AFTER_OK = frozenset(" \t=:,(\"'`[]\\{*")


def _identifier_at(text: str, pos: int) -> tuple[int, int]:
    m = _IDENT_BACK.search(text, max(0, pos - 80), pos)
    start = m.start() if m else pos
    return start, _IDENT_TAIL.match(text, pos).end()


# a line that starts with a few plain words (prose), a CLI option before NAME=v, key=value pairs
_PROSE_PREFIX = re.compile(r"[ \t]*(?:[\"'`*_(]{0,2}[A-Za-z][\w\-]*[\"'`*_)]{0,2}[ \t]+){1,6}")
_CLI_FLAG_BEFORE = re.compile(r"(?:^|[ \t])(?:--?[A-Za-z][\w\-]*|config:set|--set|--env)[ \t]*=?[ \t]*$|(?:^|[ \t])-D$")
_KV_BEFORE = re.compile(r"(?:^[ \t]*|[\"'(])[\w.\-]+=[^\s\"']*[ \t]+(?:[\w.\-]+=[^\s\"']*[ \t]+)*$")
_LEADING_TAGS = re.compile(r"^(?:<[A-Za-z][^<>]{0,40}>[ \t]*)+")
_NAME_EXT = re.compile(r"\.(?:[a-z][a-z0-9]{0,4}|[A-Z][A-Z0-9]{0,4})$")  # .yml, .PNG (not .Moss7)
_LOWER_OBJECT = re.compile(r"[a-z_][a-z0-9_]*\.")
_USER_PART = re.compile(r"[\w.\-@]{1,64}")
_COMMENT_OPENERS = ("#", "//", "/*", "*", "<!--", ";", "--", "%", "rem ", "REM ", "::")


def _literal_context(prefix: str, value: str) -> bool:
    """Is a bare value text rather than code: inside a string literal (`"host=%s password=v"`),
    or a comment or prose line whose value mixes in a digit (`# password: Heron.Lichen2`)?
    There a dotted value is no attribute reference."""
    if value.startswith(("$", "%", "{", "<")) or "(" in value or "\\" in value:
        return False  # calls, and escaped quotes of a notebook's JSON source line
    if any(prefix.count(q) % 2 for q in ('"', "'", "`")):
        return True
    p = prefix.strip()
    return (p.startswith(_COMMENT_OPENERS) or bool(_PROSE_PREFIX.fullmatch(p + " "))) and _text_like(value)


def _text_like(value: str) -> bool:
    """A value of a comment or prose line that is text, not code: it mixes in a digit and a
    capital and calls nothing (`# password = config.Password2` is commented-out code)."""
    return any(c.isdigit() for c in value) and any(c.isupper() for c in value) and "(" not in value and not (
        _LOWER_OBJECT.match(value) or _NAME_EXT.search(value))  # nor a file name (format_1_1_AES256.yml)


def _bare_allowed(prefix: str, text: str, start: int) -> bool:
    """May a bare (unquoted) value follow a NAME that starts after `prefix` on its line?"""
    p = _LEADING_TAGS.sub("", prefix.strip(" \t\"'`")).strip(" \t\"'`")  # <pre>, <code>
    if p in _LINE_STARTS or p.endswith((";", "?", "&", "(", "[", "{", ",")) or text.startswith("--", start):
        return True
    if p.startswith(("#", "//", "/*", "*", "<!--", ";", "--", "%", ">", "|", "-", "rem ", "REM ", "::")):
        return True  # anywhere inside a comment, a quote, a list item or a table row
    if bool(_PROSE_WORDS.search(p)) or p.endswith((":", ".")):
        return True
    if _PROSE_PREFIX.fullmatch(p + " ") or _CLI_FLAG_BEFORE.search(prefix):
        return True  # "The bind pw is v", "firebase server key: v"; docker run -e NAME=v, java -DNAME=v
    # NAME=v inside a string literal: `"host=db password=v"`, `echo "NAME=v" >> .env`
    if any(prefix.count(q) % 2 for q in ('"', "'", "`")):
        return True
    return _KV_BEFORE.search(prefix) is not None


def detect_assignments(text: str, path: str | None = None, entropy_threshold: float = 3.0) -> list[Span]:
    """Passwords and high-entropy secrets given to password/key/secret/token-like names.

    Speed: the keywords are found with str.find on the lower-cased text (C speed); only at
    those hits is the identifier around them taken and the operator/value regexes *matched*
    at its end (never scanned over the file)."""
    skip_keys = is_lock_file(path)
    # in config and documentation files a bare value is text, never an attribute reference
    text_file = bool(path) and path.lower().endswith(_TEXT_EXTS)
    config_file = bool(path) and path.lower().endswith(_CONFIG_EXTS)
    low = text.lower()
    names = set()
    n = len(text)
    for kw in _KEYWORDS:
        i = low.find(kw)
        while i >= 0:
            e = _IDENT_TAIL.match(text, i).end()
            if e < n and text[e] in _AFTER_OK and (text[e] not in "{*" or text.startswith("**", e)
                                                   or _QUOTE_NEXT.match(text, e + 1)):
                names.add(_identifier_at(text, i))  # `key{"v"}` (C++ brace init), `**password**:` (Markdown)
            i = low.find(kw, e if e > i else i + len(kw))
    spans = []
    for start, end in sorted(names):
        if text[start:start + 1] == "$" or text[start - 2:start] == "${" and text.startswith("}", end):
            continue  # `$PWD`, `${TOKEN}`: a variable's use, not a name given a value (`${key:v}` has a default)
        name = text[start:end].lstrip(".-$").rstrip(".-")
        if not name:
            continue
        parts = name.split(".")
        kind = secret_name_kind(parts[-1])
        if kind is None and parts[-1].lower() in ("key", "secret", "token", "value") and text[start - 1:start] in "{\"' ":
            po = _PARENT_OBJECT.search(text, max(0, start - 80), start)
            if po and (secret_name_kind(po.group(1)) or secret_name_kind(po.group(1) + "_" + parts[-1])):
                kind = secret_name_kind(po.group(1)) or secret_name_kind(po.group(1) + "_" + parts[-1])
        if kind is None and parts[-1].lower() == "auth" and _QUOTED_AFTER_OP.match(text, end):
            kind = KEY  # `auth: 'v'` (Octokit, request options): only a random literal counts
        if kind is None and len(parts) > 1 and parts[-2].lower() not in ("self", "this", "cls", "me", "that", ""):
            kind = secret_name_kind(parts[-2] + "_" + parts[-1])  # api.key, aws.secret (properties keys)
        phrase = False
        pstart = start
        if name.lower() in ("key", "secret", "token", "password", "keys"):
            pb = _PHRASE_BEFORE.search(text, max(0, start - 24), start)
            if pb and kind is None:  # "API key", "client secret"
                kind = secret_name_kind(pb.group(1) + "_" + name)
                phrase = kind is not None
            if pb and secret_name_kind(pb.group(1) + "_" + name):
                pstart = pb.start(1)  # the line's prefix ends before the phrase ("AWS secret: v")
        if kind is None and not skip_keys and text.startswith("(", end):
            if any(w in _CALL_WORDS for w in _words(name)):
                spans += _call_secrets(text, end, entropy_threshold)
            continue
        if kind is None or (kind == KEY and skip_keys):
            continue
        if kind == PASSWORD and text.startswith("(", end):
            handled, last = _last_quoted_arg(text, end)
            if handled:  # keyring.set_password("svc", "bot", "pw"), ssh_userauth_password(s, NULL, "pw")
                if last is not None:
                    spans.append(last)
                continue
        if text.startswith("(", end) and not _QUOTE_NEXT.match(text, end + 1):
            if kind == KEY:
                spans += _call_secrets(text, end, entropy_threshold)
            continue
        after = _AFTER_NAME.match(text, end)
        vm = after and _VALUE.match(text, after.end())
        if after and after.group("op").strip() in ("=", ":=") and not text[
                after.end():(text.find("\n", after.end()) + 1 or len(text) + 1) - 1].strip():
            nl = _NEXT_LINE_QUOTED.match(text, after.end())
            if nl:  # `static final String NAME =\n        "v";` (Java, C, Go, Kotlin)
                vm = nl
        if not vm:
            spans += _line_value(text, start, pstart, end, kind, entropy_threshold)
            continue
        op = after.group("op")
        quoted = vm.group("qv") is not None
        value = vm.group("qv") if quoted else vm.group("uv")
        vstart = vm.start("qv") if quoted else vm.start("uv")
        literal_ctx = not quoted and (_literal_context(text[text.rfind("\n", 0, start) + 1:vstart], value) or (
            text_file and not value.startswith(("$", "%", "{", "<")) and "(" not in value and "\\" not in value))
        if not quoted and not literal_ctx and _is_reference(value, entropy_threshold):
            fb = _FALLBACK.match(text, vm.start("uv") + len(value))
            if fb:  # a literal default behind a reference
                g = "v" if fb.group("v") is not None else "v2" if fb.group("v2") is not None else "v3"
                value, vstart, quoted = fb.group(g), fb.start(g), True
        if not quoted:
            if len(value) > 4 and value[:2] in ("**", "__") and value[:2] in value[2:]:
                inner = value[2:value.index(value[:2], 2)]  # **v**
                vstart, value = vstart + 2, inner
            if "</" in value:
                value = value[:value.index("</")]  # <pre>NAME = v</pre>
            if value.endswith(("*/", "-->")):
                value = value[:-2] if value.endswith("*/") else value[:-3]
            if not config_file:
                value = value.rstrip(".")  # a sentence's full stop; a config value keeps its dots
        if not value or "://" in value:
            continue  # URLs: detect_url_passwords looks inside them
        if not quoted and " " in after.group("op") and not (not literal_ctx and _is_reference(value, entropy_threshold)) and not (
                looks_like_secret(value, "", entropy_threshold) or kind == PASSWORD):
            spans += _line_value(text, start, pstart, end, kind, entropy_threshold)
            continue  # "API key used by the demo (v)": the value comes later on the line
        ls, le = _line_bounds(text, start)
        prefix = text[ls:pstart]
        op = op.strip()
        if op == "|" and not text[ls:start].lstrip().startswith("|"):
            continue  # a table cell, only in a table row
        connector = op in ("", "is", "to", "as", "are", "|")
        if connector and not phrase and _PROSE_VERB.fullmatch(name):
            if kind == PASSWORD and op in ("is", "are"):
                spans += _line_value(text, start, pstart, end, kind, entropy_threshold)  # "root pass is v"
            continue  # "pass `x` to", "key to success": English words, not names
        if op == ",":
            if not quoted:
                continue
            if not after.group("nq") and not _UPPER_SNAKE.fullmatch(name):
                continue  # setProperty("name", "v") and OPTION_NAME, "v"; a plain variable before a comma is no name  # define('NAME', 'v') / setProperty("name", "v"): a quoted name, then a literal
        elif op == "(" and after.group("op").startswith((" ", "\t")):
            if quoted or not text.startswith(")", vm.end()):
                continue  # prose: "the API key (v)"
        elif op.startswith(("(", "{")):
            if not quoted:
                continue  # setPassword("v"), std::string kApiKey{"v"}
        elif connector and not quoted and not op and kind == PASSWORD and not prefix.strip().endswith("#define"):
            spans += _line_value(text, start, pstart, end, kind, entropy_threshold)
            continue  # "password reset", "pass through"; "root password for the box: v" is read on  # "password reset", "pass through": no bare value after a plain space
        if not quoted:
            if (not literal_ctx and _is_reference(value, entropy_threshold)) or not (
                    _bare_allowed(prefix, text, start) or (pstart != start and _bare_allowed(text[ls:start], text, start))):
                continue
            if _SNAKE_IDENT.fullmatch(value) and not _random_segment(value, entropy_threshold):
                continue  # a constant or variable (FP32_FLAT_GROUPS, default_token), not a literal
        line = text[ls:le]
        if kind == PASSWORD:
            if _HASHED_PASSWORD.match(value):
                continue  # a password hash is not the password
            if ":" in value and "user" in name.lower():  # CURLOPT_USERPWD, "user:password"
                user, _, pw = value.partition(":")
                if _USER_PART.fullmatch(user) and pw:
                    vstart, value = vstart + len(user) + 1, pw
            if "$" in text[start - 1:start + 1] and after.group("nq"):
                continue  # "$pass" = "x": a shell test compares a variable, it assigns nothing
            # bare words in code (`password = form_value`) are references, not literals
            if not quoted and value.isidentifier() and not any(c.isdigit() for c in value):
                continue
            if looks_like_secret(value, line, entropy_threshold) or _looks_like_password(
                    value, bare=not quoted or op == ","):
                spans.append(Span(vstart, vstart + len(value), PASSWORD, "password_assignment"))
        elif looks_like_secret(value, line, entropy_threshold):
            detector = "aws_secret_key" if "aws" in name.lower() else "secret_assignment"
            spans.append(Span(vstart, vstart + len(value), KEY, detector))
    return (spans + _detect_login_pairs(text, low) + _detect_table_secrets(text, entropy_threshold)
            + _detect_nested_config(text, path, entropy_threshold) + _detect_name_value_pairs(text, entropy_threshold)
            + _detect_password_stdin(text))


# Environment lists that name the variable and the value apart: Kubernetes / Compose YAML
# (`- name: API_KEY` then `value: "v"`) and ECS-style JSON (`{"name": "API_KEY", "value": "v"}`).
_NAME_VALUE_YAML = re.compile(r"""-?[ \t]*name:[ \t]*(["']?)([\w.\-]{2,80})\1[ \t]*\n[ \t]*value:[ \t]*(["']?)([^\s"'#]{5,400})\3[ \t]*(?:#.*)?(?:\n|$)""")
_NAME_VALUE_JSON = re.compile(r'"name"[ \t]*:[ \t]*"([\w.\-]{2,80})"[ \t]*,[ \t]*"value"[ \t]*:[ \t]*"([^"\n]{5,400})"')


def _detect_name_value_pairs(text: str, entropy_threshold: float) -> list[Span]:
    if "value" not in text or "name" not in text:
        return []
    spans = []
    for rx, ng, vg in ((_NAME_VALUE_YAML, 2, 4), (_NAME_VALUE_JSON, 1, 2)):
        for m in rx.finditer(text):
            kind, value = secret_name_kind(m.group(ng)), m.group(vg)
            if kind is None or _is_placeholder(value) or value.startswith(("$", "{", "%")):
                continue
            if looks_like_secret(value, "", entropy_threshold) or (kind == PASSWORD and _looks_like_password(value)):
                spans.append(Span(m.start(vg), m.end(vg), kind, "name_value_pair"))
    return spans


# `echo "pw" | docker login -u ci --password-stdin` (and printf, podman, helm registry login…)
_PASSWORD_STDIN = re.compile(r"""\b(?:echo|printf)[ \t]+(?:-n[ \t]+)?(["']?)([^\s"'|]{5,128})\1[ \t]*\|[^\n|]{0,200}?--password-stdin\b""")


def _detect_password_stdin(text: str) -> list[Span]:
    if "--password-stdin" not in text:
        return []
    return [Span(m.start(2), m.end(2), PASSWORD, "password_stdin") for m in _PASSWORD_STDIN.finditer(text)
            if not m.group(2).startswith(("$", "%", "{")) and _looks_like_password(m.group(2))]


_CELL_STRIP = " \t`'\"*"


def _cell_kind(cell: str) -> str | None:
    """The secret kind a table cell names ("API key", "`STRIPE_SECRET`", "Password (staging)")."""
    value = cell.strip(_CELL_STRIP)
    if len(value) > 80 or looks_like_secret(value) or _looks_like_password(value, bare=True) and any(
            c.isdigit() for c in value):
        return None  # a value, not a label
    words = _CAMEL.findall(cell)
    if len(words) == 1 and words[0].lower() in ("key", "secret", "token", "password", "passwd", "pwd", "keys",
                                                "secrets", "tokens"):
        return PASSWORD if words[0].lower().startswith("p") else KEY  # a row labelled `key`
    for i, w in enumerate(words):
        if secret_name_kind(w):
            return secret_name_kind(w)
        if i and secret_name_kind(words[i - 1] + "_" + w):
            return secret_name_kind(words[i - 1] + "_" + w)
    return None


def _detect_table_secrets(text: str, entropy_threshold: float) -> list[Span]:
    """Markdown/rst table rows: a row whose cell names a secret ("| Publishable key (test) | `v` |"),
    or a column whose header does, holds the secret in another cell."""
    spans: list[Span] = []
    i = text.find("|")
    header: list[str | None] | None = None
    prev_end = -2
    while i >= 0:
        ls, le = _line_bounds(text, i)
        line = text[ls:le]
        if line.lstrip().startswith("|") and line.count("|") >= 3:
            if ls != prev_end + 1:
                header = None  # a new table
            cells, pos = [], ls + line.index("|") + 1
            for part in line.strip().strip("|").split("|"):
                cells.append((pos, part))
                pos += len(part) + 1
            kinds = [_cell_kind(c) for _, c in cells]
            first = header is None
            if first:
                header = kinds
            if not all(set(c.strip()) <= set("-:= ") for _, c in cells):
                row_kind = next((k for k in kinds if k), None)
                for j, (cs, cell) in enumerate(cells):
                    kind = row_kind or (None if first or j >= len(header) else header[j])
                    value = cell.strip(_CELL_STRIP)
                    if not kind or not value or _cell_kind(cell):
                        continue
                    vs = cs + cell.index(value)
                    if looks_like_secret(value, line, entropy_threshold) or (
                            kind == PASSWORD and _looks_like_password(value, bare=True) and not _is_path(value)):
                        spans.append(Span(vs, vs + len(value), kind, "table_secret"))
            prev_end = le
        i = text.find("|", le + 1) if le < len(text) else -1
    return spans


# a word of a prose line; `*` only inside it (`**bold**`, a `*/` closer and `* ` bullets are no part of a value)
_LINE_TOKEN = re.compile(r"""[^\s"'`()<>\[\]{},;|*]+(?:\*+[^\s"'`()<>\[\]{},;|*/]+)*""")


def _line_value(text: str, start: int, pstart: int, end: int, kind: str, entropy_threshold: float) -> list[Span]:
    """A secret named in a comment, docstring or prose line ("#: API key of the demo account
    (v)", "// root password for the test box: v"): the first secret-looking word after the
    name on the same line (a password within the next 5 words)."""
    ls, le = _line_bounds(text, start)
    if not _bare_allowed(text[ls:pstart], text, start):
        return []
    line = text[ls:le]
    said = False  # "… is", "…:": past the fifth word a password needs a connector before it
    for n, m in enumerate(_LINE_TOKEN.finditer(text, end, le)):
        value = m.group().rstrip(".:!?") if kind == KEY else m.group().rstrip(".:")
        if kind == KEY and looks_like_secret(value, line, entropy_threshold):
            return [Span(m.start(), m.start() + len(value), KEY, "keyword_line")]
        if kind == PASSWORD:
            if n >= 7 or n >= 5 and not said:
                break
            said = said or m.group().lower() in ("is", "are", "was") or m.group().endswith(":")
            if text[m.end():le].strip(" \t*/->#`'\".!") not in ("", ")"):
                continue  # a password in prose ends the line: "root password for the box: v"
            if any(not c.isalpha() for c in value) and _looks_like_password(value, bare=True) and not (
                    _is_path(value) or (_NON_LITERAL.match(value) and not _text_like(value))
                    or "=" in value or value.startswith(("-", "--"))):
                return [Span(m.start(), m.start() + len(value), PASSWORD, "keyword_line")]
    return []


_QUOTE_NEXT = re.compile(r"""[ \t]*[rbuf]{0,2}\\?["'`]""")
_NEXT_LINE_QUOTED = re.compile(r"""[ \t]*\n[ \t]*(?:[rbuf]{0,2}\\?(?P<q>["'`])(?P<qv>[^"'`\n]{1,400}?)\\?(?P=q)(?P<uv>)?)[ \t]*[;,)]?[ \t]*(?:$|\n)""")
_PARENT_OBJECT = re.compile(r"""["']?([A-Za-z][\w.\-]{1,60})["']?[ \t]*[:=][ \t]*\{[ \t]*\\?["']?\Z""")
_QUOTED_AFTER_OP = re.compile(r"""\\?["']?[ \t]*(?::|=>|=)[ \t]*\\?["'`]""")


_CONVERSION_CALLS = (".toCharArray(", ".into(", ".to_owned(", ".to_string(", ".getBytes(", ".encode(")
_ARG_STRINGS = re.compile(r"""\\?(["'])([^"'\n\\]{0,128}?)\\?\1""")


_KEYWORD_ARG = re.compile(r"[ \t]*([A-Za-z_]\w*)[ \t]*=[ \t]*$")


def _last_quoted_arg(text: str, paren: int) -> tuple[bool, Span | None]:
    """The password of a call to a password-named function with two or more arguments: its
    last positional quoted argument, when only keyword arguments follow it (`hasher="md5"` is
    not the password) and it looks like a password. (handled, span): handled is True when
    that argument is a quoted literal at all, so a placeholder there (the stage's own
    `<PASSWORD>`) ends the call's reading, and a rescan of redacted text does not fall
    back to reading another argument as the password."""
    close = text.find(")", paren, paren + 300)
    if close < 0:
        return False, None
    args = text[paren + 1:close]
    if args.endswith(_CONVERSION_CALLS) and text.startswith(")", close + 1):
        args = args[:args.rindex(".")]  # "pw".toCharArray(), "pw".into(): the literal is the argument
    if "," not in args or "\n" in args or "(" in args:
        return False, None
    found = list(_ARG_STRINGS.finditer(args))
    tail_from = len(args)
    for m in reversed(found):
        segment = args[args.rfind(",", 0, m.start()) + 1:m.start()]
        keyword = _KEYWORD_ARG.match(segment)
        trailing = args[m.end():tail_from]
        if trailing.strip(" \t,"):
            return False, None  # a non-literal argument follows: not the (…, "password") shape
        if keyword and secret_name_kind(keyword.group(1)) != PASSWORD:
            tail_from = args.rfind(",", 0, m.start()) if "," in args[:m.start()] else 0
            continue  # hasher="md5", timeout="30": a keyword argument that is not the password
        if not args[:m.start()].strip():
            return False, None  # the first argument: read as in setPassword("v")
        value = m.group(2)
        if _looks_like_password(value, bare=True) and not _is_path(value):
            s = paren + 1 + m.start(2)
            return True, Span(s, s + len(value), PASSWORD, "password_call")
        return True, None
    return False, None


def _call_secrets(text: str, paren: int, entropy_threshold: float) -> list[Span]:
    """Quoted high-entropy arguments of a call to a credential-like callee."""
    close = text.find(")", paren, paren + 400)
    args = text[paren + 1:close if close >= 0 else paren + 400]
    ls, le = _line_bounds(text, paren)
    spans = []
    for m in _QUOTED_ARG.finditer(args):
        if looks_like_secret(m.group(2), text[ls:le], entropy_threshold):
            s = paren + 1 + m.start(2)
            spans.append(Span(s, s + len(m.group(2)), KEY, "call_secret"))
    return spans


_CONFIG_EXTS = (".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".properties", ".env")
_TEXT_EXTS = _CONFIG_EXTS + (".md", ".markdown", ".rst", ".txt", ".html", ".htm")
_CONFIG_LINE = re.compile(r"""[ \t]*(?:-[ \t]+)?["']?([\w.\-]{1,60})["']?[ \t]*[:=][ \t]*(["']?)([^\s"'#]{16,400})\2[ \t]*(?:#.*)?$""")
_CONFIG_PARENT = re.compile(r"""[ \t]*(?:\[\[?[ \t]*([\w.\- "']{1,80})\]|["']?([\w.\-]{1,60})["']?[ \t]*:)[ \t]*(?:#.*)?$""")


def _detect_nested_config(text: str, path: str | None, entropy_threshold: float) -> list[Span]:
    """A high-entropy value under a secret-named parent: YAML `api_keys:` / `stripe_secret:`
    blocks, TOML/INI `[credentials]` sections (`live: "v"`, `default = "v"`)."""
    if not path or not path.lower().endswith(_CONFIG_EXTS):
        return []
    spans = []
    lines = text.split("\n")
    pos = 0
    starts = []
    for line in lines:
        starts.append(pos)
        pos += len(line) + 1
    for n, line in enumerate(lines):
        m = _CONFIG_LINE.match(line)
        if not m or secret_name_kind(m.group(1)) or not looks_like_secret(m.group(3), line, entropy_threshold):
            continue
        indent = len(line) - len(line.lstrip())
        for k in range(n - 1, max(-1, n - 40), -1):
            prev = lines[k]
            if not prev.strip() or prev.lstrip().startswith("#"):
                continue
            pi = len(prev) - len(prev.lstrip())
            pm = _CONFIG_PARENT.match(prev)
            if pm and (pm.group(1) is not None or pi < indent):
                parent = (pm.group(1) or pm.group(2)).strip(" \"'")
                if _cell_kind(parent) == KEY or secret_name_kind(parent.split(".")[-1] + "_" + m.group(1)) == KEY:
                    s = starts[n] + m.start(3)
                    spans.append(Span(s, s + len(m.group(3)), KEY, "nested_secret"))
                break
            if pi < indent:
                break
    return spans


def _detect_login_pairs(text: str, low: str) -> list[Span]:
    spans = []
    if "/" in text:
        for anchor in _LOGIN_ANCHORS:
            i = low.find(anchor)
            while i >= 0:
                if i == 0 or not low[i - 1].isalnum():
                    m = _LOGIN_PAIR.match(text, i)
                    if m:
                        g = next(k for k in (1, 2, 3) if m.group(k))
                        v = m.group(g)
                        # a leading `=`/`:` is markup in `key: v` lines, not after "admin / "
                        ok = _looks_like_password(v, bare=True) or (
                            v[0] in "=:" and _looks_like_password(v) and any(c.isdigit() for c in v))
                        if ok and not _is_path(v):
                            spans.append(Span(m.start(g), m.end(g), PASSWORD, "login_pair"))
                i = low.find(anchor, i + len(anchor))
    for anchor in _CONNECT_ANCHORS:
        i = low.find(anchor)
        while i >= 0:
            m = _CONNECT_CALL.match(text, i)
            if m:
                close = text.find(")", m.end(), m.end() + 300)
                args = text[m.end():close if close >= 0 else m.end() + 300]
                p = _STRING_PAIR.search(args)
                if p and _looks_like_password(p.group(4), bare=True):
                    s = m.end() + p.start(4)
                    spans.append(Span(s, s + len(p.group(4)), PASSWORD, "login_call"))
                elif not p and _LONE_ARG_CALLEE.search(text, max(0, i - 1), m.end()):
                    one = _LONE_ARG.match(text, m.end())
                    if one and _looks_like_password(one.group(2), bare=True):
                        spans.append(Span(one.start(2), one.end(2), PASSWORD, "login_call"))
            i = low.find(anchor, i + len(anchor))
    return spans


# RFC 2606 documentation hosts: credentials in their URLs are examples
_DOC_HOST = re.compile(r"@(?:[\w\-]+\.)*example\.(?:com|org|net)\b|@(?:[\w\-]+\.)*(?:test|example|invalid)(?![\w.\-])")
_MYSQL_P_RE = re.compile(r"(?<=\s)-p([^\s'\"\-$][^\s'\"]{3,127})(?=\s|$)")  # mysql -pSECRET (no space)
_CLI_P_QUOTED = re.compile(r"""(?<=\s)-p[ \t]+(["'])([^"'\n]{4,128})\1""")  # sshpass -p "pw", mysql -p 'pw'
# `--password v` / `--password=v` of any command; `-p v` of a login command (docker, podman,
# helm registry, oras…); smbclient's `-U user%pw`; `htpasswd -b FILE USER pw`
# (each is matched only where its anchor, found with str.find, stands after a space)
_CLI_PASSWORD_OPT = re.compile(r"""--(?:password|passwd|pass)(?:=|[ \t]+)(["']?)([^\s"'$%{<-][^\s"']{3,127})\1(?=\s|$)""")
_CLI_LOGIN_P = re.compile(r"""login\b[^\n|;&]{0,120}?(?<=\s)-p[ \t]+(["']?)([^\s"'$%{<-][^\s"']{3,127})\1(?=\s|$)""")
_CLI_USER_PERCENT = re.compile(r"""(?:-U|--user)[ \t]+(["']?)[\w.\-\\]{1,64}%([^\s"']{4,128})\1(?=\s|$)""")
_HTPASSWD_B = re.compile(r"""htpasswd[ \t]+-[A-Za-z]*b[A-Za-z]*[ \t]+(?:-\w+[ \t]+)*[^\s-]\S*[ \t]+[\w.\-@]{1,64}[ \t]+(["']?)([^\s"']{4,128})\1(?=\s|$)""")
_CLI_RULES = (("--pass", _CLI_PASSWORD_OPT), ("login", _CLI_LOGIN_P), ("-U ", _CLI_USER_PERCENT),
              ("--user", _CLI_USER_PERCENT), ("htpasswd", _HTPASSWD_B))
_DSN_RE = re.compile(r"(?<![\w.\-])[\w.\-]{1,64}:([^\s/'\"`<>:]{1,128})@(?:tcp|unix|udp)\(")
_URL_USER_ONLY = re.compile(r"([^\s:/@'\"`<>{}]{16,128})@(?=[\w\-\[])")


def detect_url_passwords(text: str, entropy_threshold: float = 3.0) -> list[Span]:
    """scheme://user:PASSWORD@host and Go/MySQL DSNs user:PASSWORD@tcp(host); a high-entropy
    user part alone (scheme://TOKEN@host, e.g. Sentry DSNs) is a KEY."""
    spans = []
    if "@tcp(" in text or "@unix(" in text or "@udp(" in text:
        for m in _DSN_RE.finditer(text):
            if not (_is_placeholder(m.group(1)) or m.group(1).startswith(("$", "%", "{"))):
                spans.append(Span(m.start(1), m.end(1), PASSWORD, "dsn_password"))
    if "sshpass" in text or "mysql" in text or "mariadb" in text:
        for m in _CLI_P_QUOTED.finditer(text):
            ls, le = _line_bounds(text, m.start())
            if re.search(r"\b(?:sshpass|mysql|mysqldump|mysqladmin|mariadb)\b", text[ls:m.start()]) and \
                    _looks_like_password(m.group(2)):
                spans.append(Span(m.start(2), m.end(2), PASSWORD, "cli_password"))
        for m in _MYSQL_P_RE.finditer(text):
            ls, le = _line_bounds(text, m.start())
            if re.search(r"\b(?:mysql|mysqldump|mysqladmin|mariadb)\b", text[ls:m.start()]) and not _is_placeholder(m.group(1)):
                spans.append(Span(m.start(1), m.end(1), PASSWORD, "cli_password"))
    for anchor, rx in _CLI_RULES:
        i = text.find(anchor)
        while i >= 0:
            if i == 0 or text[i - 1] in " \t\n\"'`(|;&$":
                m = rx.match(text, i)
                if m and _looks_like_password(m.group(2), bare=True) and not _is_path(m.group(2)):
                    spans.append(Span(m.start(2), m.end(2), PASSWORD, "cli_password"))
            i = text.find(anchor, i + len(anchor))
    i = text.find("://")
    while i >= 0:
        m = _URL_USERINFO.match(text, i + 3)
        u = None if m else _URL_USER_ONLY.match(text, i + 3)
        if u and looks_like_secret(u.group(1), "", entropy_threshold):
            spans.append(Span(u.start(1), u.end(1), KEY, "url_token"))
        if m:
            value = m.group(2)
            low = value.lower()
            if not (_is_placeholder(value) or low in {"pass", "pwd", "token", "pw"} or value.startswith(("$", "%", "{"))
                    or "password" in low or "passwd" in low or "secret" in low or value.isdigit()
                    or _DOC_HOST.match(text, m.end() - 1)):
                spans.append(Span(m.start(2), m.end(2), PASSWORD, "url_password"))
        i = text.find("://", i + 3)
    return spans


# `Bearer v`, and `"Bearer " + "v"` (a literal concatenated to the scheme)
_BEARER_RE = re.compile(r"""(?<![\w])[Bb]earer(?:\s+|[ \t]*\\?["'`][ \t]*\+[ \t]*\\?["'`])([A-Za-z0-9._~+/\-]{20,}=*)""")
# other schemes of an Authorization header: `Authorization: token v`, `f"Bot v"`, `Api-Key v`
_AUTH_SCHEME_RE = re.compile(
    r"""(?i)authorization\b[^\n]{0,40}?(?<![\w\-])(?:token|bot|api-?key|key|sso-key|otp|basic|digest)"""
    r"""(?:\s+|[ \t]*["'`][ \t]*\+[ \t]*["'`])([A-Za-z0-9._~+/\-]{16,}=*)""")


def detect_bearer(text: str, entropy_threshold: float = 3.0) -> list[Span]:
    spans = []
    if "earer" in text:
        for m in _BEARER_RE.finditer(text):
            if looks_like_secret(m.group(1), "", entropy_threshold):
                spans.append(Span(m.start(1), m.end(1), KEY, "bearer_token"))
    if "uthorization" in text or "UTHORIZATION" in text:
        for m in _AUTH_SCHEME_RE.finditer(text):
            if looks_like_secret(m.group(1), "", entropy_threshold):
                spans.append(Span(m.start(1), m.end(1), KEY, "auth_header"))
    return spans


# Vendor-style tokens of any vendor: a short lower-case prefix (with an optional version), `_`
# or `-`, then a random body (dop_v1_<hex>, shpat_<hex>, hf_<letters>, glptt-<hex>, pypi-<base64>,
# xapp-1-…). Context-free, so the body must look random on its own: 20+ characters that pass
# looks_like_secret, no word runs, no UUID, no hash whose prefix names its algorithm.
# Found from each `_`/`-` that a long run follows (a charset-led scan), the prefix matched
# backwards in a short window, the whole run once.
_SEP_RUN = re.compile(r"[_\-](?=[A-Za-z0-9][A-Za-z0-9_\-]{18})")
_PREFIX_BACK = re.compile(r"(?<![A-Za-z0-9_\-.\\/+=])[a-z][a-z0-9]{1,9}(?:[_\-]v\d)?\Z")
_RUN_TAIL = re.compile(r"[A-Za-z0-9_\-]*")
_PREFIXED_TOKEN = re.compile(r"([a-z][a-z0-9]{1,9}(?:[_\-]v\d)?)([_\-])([A-Za-z0-9][A-Za-z0-9_\-]{19,400})\Z")
_HASH_PREFIXES = frozenset({"sha", "sha1", "sha224", "sha256", "sha384", "sha512", "md5", "blake2", "blake2b", "blake3",
                            "crc", "crc32", "xxh", "xxh64", "hash", "commit", "rev", "git", "etag", "build", "v", "id",
                            "uuid", "guid", "req", "request", "trace", "span", "run", "job", "node", "chunk", "data",
                            "module", "asset", "static", "cache", "sha3", "murmur", "fnv", "nonce", "seed", "salt",
                            "test", "def", "fn", "func", "get", "set", "is", "has", "on", "to", "from"})
_UUID_IN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _random_body(core: str) -> bool:
    """A token body that is random on its own: mixed case, or hex, or digits all through it
    (`workspace_fp32_fallback`, `cmr10_minus_sign` are identifiers: lower case, few digits)."""
    if any(c.isupper() for c in core) and any(c.islower() for c in core):
        return True
    if all(c in _HEX for c in core):
        return True
    return sum(c.isdigit() for c in core) * 4 >= len(core)


def detect_prefixed_tokens(text: str, entropy_threshold: float = 3.0) -> list[Span]:
    spans = []
    last = -1
    for r in _SEP_RUN.finditer(text):
        i = r.start()
        pb = _PREFIX_BACK.search(text, max(0, i - 14), i)
        if pb is None or pb.start() == last:
            continue
        s0 = last = pb.start()
        e0 = _RUN_TAIL.match(text, i).end()
        if e0 < len(text) and text[e0] in ".+/=[{(@":
            continue  # part of a dotted name, a path, base64, a regex, a call
        m = _PREFIXED_TOKEN.match(text, s0, e0)
        if not m:
            continue
        prefix, body = m.group(1), m.group(3)
        if prefix.split("_")[0].split("-")[0] in _HASH_PREFIXES or _UUID_IN.search(m.group()):
            continue
        if sum(c.isdigit() for c in prefix) > 2 or all(c in _HEX for c in prefix) and any(c.isdigit() for c in prefix):
            continue  # the first group of a hex id (`3f2a9c1b-…`), not a vendor prefix
        core = body.replace("-", "").replace("_", "")
        if len(core) < 20 or _wordy(body) or not _random_body(core) or not looks_like_secret(
                core, "", entropy_threshold, min_length=20):
            continue
        if all(c in _HEX for c in core):
            ls, le = _line_bounds(text, m.start())
            if _HASH_CONTEXT.search(text, ls, m.start()):
                continue  # `sha: abc_<hex>`: a digest with a label
        spans.append(Span(m.start(), m.end(), KEY, "prefixed_token"))
    return spans


# `curl -u user:pw`, `--user user:pw` (curl, wget, httpie)
_CLI_USERPASS = re.compile(r"""(?<=\s)(?:-u|--user)[ \t]+(["']?)[\w.\-@]{1,64}:([^\s"']{4,128})\1(?=\s|$)""")
# Java's char[] passwords: `"v".toCharArray()`
_CHAR_ARRAY = re.compile(r"""(["'])([^"'\n]{5,128}?)\1\.toCharArray\(\)""")
# credentials in URL query strings: `?key=v`, `&access_token=v`, `?api_key=v` (a scan led by
# the rare `?`/`&`)
_QUERY_END = re.compile(r"[\s\"'`<>]")
_QUERY_SECRET = re.compile(r"[?&]((?i:[a-z_\-]{0,30}(?:key|token|secret|signature|sig|password|passwd|pwd|auth)))="
                           r"([^&\s\"'#<>;]{8,400})")
# SDK clients and bots built from a literal: `Client::new("v")`, `NewClient("v")`, `Bot("v")`
_CLIENT_ANCHORS = ("lient", "Bot", "bot")
_CLIENT_TAIL = re.compile(r"(?:::new|\.new|\.New|\.create)?[ \t]*\(")
# an SDK object built from one literal: `new Stripe("v")`, `require("stripe")("v")`: only a random,
# non-hex literal that is the call's single argument counts
_NEW_SINGLE = re.compile(r"""new[ \t]+[A-Z][\w$]*(?:\.[A-Z][\w$]*)*[ \t]*\([ \t]*(["'`])([A-Za-z0-9_\-.+/=]{20,400})\1[ \t]*\)""")
_CALL_RESULT_SINGLE = re.compile(r"""\)\([ \t]*(["'`])([A-Za-z0-9_\-.+/=]{20,400})\1[ \t]*\)""")


def detect_misc_credentials(text: str, entropy_threshold: float = 3.0) -> list[Span]:
    spans = []
    if ("-u " in text or "--user" in text) and ("curl" in text or "wget" in text or "http" in text):
        for m in _CLI_USERPASS.finditer(text):
            ls, le = _line_bounds(text, m.start())
            if re.search(r"\b(?:curl|wget|http|https|httpie|xh)\b", text[ls:m.start()]) and (
                    looks_like_secret(m.group(2), "", entropy_threshold) or _looks_like_password(m.group(2), bare=True)):
                spans.append(Span(m.start(2), m.end(2), PASSWORD, "cli_userpass"))
    if ".toCharArray()" in text:
        for m in _CHAR_ARRAY.finditer(text):
            if _looks_like_password(m.group(2)):
                spans.append(Span(m.start(2), m.end(2), PASSWORD, "char_array"))
    q = text.find("?")
    while q >= 0:  # each query string: from its `?` to the first space or quote
        qe = _QUERY_END.search(text, q, q + 2000)
        qe = qe.start() if qe else min(len(text), q + 2000)
        for m in _QUERY_SECRET.finditer(text, q, qe):
            name = m.group(1)
            kind = secret_name_kind(name) or (KEY if name.lower() in ("key", "sig", "signature", "auth") else None)
            v = m.group(2)
            if kind == PASSWORD and _looks_like_password(v) and not v.startswith(("$", "{", "%")):
                spans.append(Span(m.start(2), m.end(2), PASSWORD, "query_secret"))
            elif kind == KEY and looks_like_secret(v, "", entropy_threshold):
                spans.append(Span(m.start(2), m.end(2), KEY, "query_secret"))
        q = text.find("?", max(qe, q + 1))
    for anchor, rx in (("new ", _NEW_SINGLE), (")(", _CALL_RESULT_SINGLE)):
        i = text.find(anchor)
        while i >= 0:
            m = rx.match(text, i)
            if m and not all(c in _HEX for c in m.group(2)) and looks_like_secret(m.group(2), "", entropy_threshold):
                spans.append(Span(m.start(2), m.end(2), KEY, "sdk_literal"))
            i = text.find(anchor, i + len(anchor))
    for a in _CLIENT_ANCHORS:
        i = text.find(a)
        while i >= 0:
            if a != "lient" or (i and text[i - 1] in "Cc"):
                m = _CLIENT_TAIL.match(text, i + len(a))
                if m:
                    spans += _call_secrets(text, m.end() - 1, entropy_threshold)
            i = text.find(a, i + len(a))
    return spans


# Personal names where code and docs name people: author tags and fields (`@author`,
# `__author__ = "…"`, `"author": "…"`, `authors = ["…"]`, `.. moduleauthor::`, `:Author:`,
# `<meta name="author" content="…">`), "Written/Created/Maintained/Contributed by", and
# copyright lines (`Copyright (c) 2019-2021 First Last`). docs/recipe.md §5.1: NAME only with >= 2 words.
# A name is 2-4 capitalised words (any script's letters, O'Connor, Jean-Luc) with the
# particles of family names between them (van der, de la, von, bin); a copyright holder that
# carries an organisation word (Inc, Foundation, Project, Authors, Networks…) is no person.
_CAP = r"(?:[A-ZÀ-ÖØ-ÞĀ-ſ][a-zß-öø-ÿā-ſ]+|[A-Z](?=['’]))(?:['’\-][A-ZÀ-ÖØ-ÞĀ-ſ]?[a-zß-öø-ÿā-ſ]+)*"
_PARTICLE = r"(?:van|von|der|den|de|del|della|di|da|das|dos|du|la|le|bin|binti|ibn|al|el|ter|ten|zu)"
_NAME_RE = _CAP + r"(?:[ \t]+(?:[A-Z]\.[ \t]+)?(?:" + _PARTICLE + r"[ \t]+){0,2}" + _CAP + r"){1,3}"
_AUTHOR_RE = re.compile(
    r"(?:@author|@maintainer|@contributor|\b__(?:author|maintainer|credits)__\s*=[ \t]*\[?|\b[Aa]uthors?\b[\"'*_]{0,2}\s*[:=]|\b[Mm]aintainers?\b[\"'*_]{0,2}\s*[:=]|"
    r"\b[Cc]ontributors?\b[\"'*_]{0,2}\s*[:=]|\b[Oo]wner\b[\"'*_]{0,2}\s*[:=]|\b[Cc]ontact[*_]{0,2}\s*:|"
    r"\b(?:[Cc]reated|[Ww]ritten|[Mm]aintained|[Cc]ontributed|[Dd]eveloped|[Cc]oded|[Pp]orted|[Rr]eviewed|[Pp]atch(?:ed)?|"
    r"[Rr]eported|[Ss]uggested|[Ii]mplemented|[Ff]ixed|[Tt]ested)\s+by|\b[Tt]hanks\s+to|&copy;|"
    r"\.\.\s+(?:module|section|code)author::|:[Aa]uthor:|name=[\"']author[\"']\s+content=|"
    r"\b[Cc]opyright\b(?:\s*(?:\([Cc]\)|©))?|\([Cc]\)|©|mailto:[^\s\"'<>]{3,80}[\"']?>|\buser\.name\b)"
    # an author object (`author: { name: 'X Y' }`) names the person in its `name`
    r"[ \t]*[:=]?[ \t]*[*_]{0,2}[ \t]*(?:\[[ \t]*)?(?:\{[ \t]*[\"']?name[\"']?[ \t]*[:=][ \t]*)?\\?[\"']?[ \t]*(?:(?:\d{4}(?:[ \t]*[-–,][ \t]*\d{4})*,?[ \t]+)?(?:by[ \t]+)?)"
    r"(" + _NAME_RE + r")(?![\w@])")
_ORG_WORDS = frozenset({"Inc", "Ltd", "Llc", "Corp", "Corporation", "Foundation", "Project", "Projects", "Authors",
                        "Contributors", "Team", "Software", "Labs", "Limited", "Company", "Group", "Developers",
                        "Systems", "Gmbh", "Technologies", "Technology", "University", "The", "All", "Rights",
                        "Reserved", "Free", "Open", "Source", "Apache", "Google", "Microsoft", "Facebook", "Meta",
                        "Amazon", "Mozilla", "Python", "License", "Licensed", "Community", "Organization",
                        "Institute", "Association", "Cooperative", "Coop", "Collective", "Guild", "Federation",
                        "Alliance", "Trust", "Club", "Meetup", "Initiative", "Enterprises", "Enterprise", "Holdings", "Partners", "Networks", "Network", "Solutions",
                        "Studio", "Studios", "Works", "Industries", "Media", "Games", "Digital", "Cloud", "Data",
                        "Security", "Consulting", "Services", "Ventures", "Capital", "Interactive", "Research",
                        "Analytics", "Platforms", "Platform", "Society", "Consortium", "Council", "Agency",
                        "Laboratory", "Laboratories", "Lab", "Center", "Centre", "College", "School", "Department",
                        "Co", "Sa", "Ag", "Bv", "Pty", "Plc", "Srl", "Oy", "Ab", "As", "Kk", "Contributor",
                        "Maintainers", "Owners", "Members", "Others", "Et", "Al", "See", "Copyright", "Permission",
                        "Use", "Version", "Released", "Under", "Mit", "Bsd", "Gnu", "General", "Public", "Notice",
                        "This", "File", "Code", "Module", "Package", "Library", "Framework", "Toolkit", "Tools",
                        "Xcode", "Visual", "Studio", "Jetbrains", "Github", "Gitlab", "Sphinx", "Jupyter",
                        "Generated", "Automatically", "Auto", "Unknown", "Anonymous", "Various", "Original",
                        "Alibaba", "Tencent", "Baidu", "Huawei", "Samsung", "Intel", "Nvidia", "Oracle", "Ibm",
                        "Red", "Hat", "Canonical", "Adobe", "Apple", "Netflix", "Uber", "Twitter", "Salesforce",
                        "Vmware", "Cisco", "Dell", "Hp", "Sap", "Linux", "Kernel", "Debian", "Ubuntu", "Eclipse",
                        "Rust", "Go", "Node", "Js", "Org", "Net", "Com", "Io", "Ansible", "Core",
                        # heading words ("For Maintainers: Release Process")
                        "Release", "Process", "Guide", "Notes", "Information", "Section", "Only", "Required",
                        "Optional", "Details", "Overview", "Usage", "Example", "Examples", "Name", "Email"})
_NEXT_WORD = re.compile(r"[ \t]*,?[ \t]*([A-Za-z]{2,})\b")
_AUTHOR_GATE = ("uthor", "mailto:", "aintain", "ontact", "ritten by", "reated by", "ontribut", "opyright", "(c)", "(C)", "©",
                "eveloped by", "oded by", "orted by", "wner", "eviewed by", "atch by", "atched by", "eported by",
                "uggested by", "mplemented by", "ixed by", "ested by", "hanks to", "&copy;", "__credits__", "user.name")
# a person's name right before an address: `Name <a@b.c>`, `Name (a@b.c)`, `("Name", "a@b.c")`,
# `name: 'Name', email: 'a@b.c'` (checked at each email the email rule found)
_NAME_BEFORE_EMAIL = re.compile(r"(" + _NAME_RE + r")(?:[ \t]*(?:<|&lt;|\(<?|\[)[ \t]*(?:<a[ \t]+href=[\"']mailto:)?|"
                                r"\\?[\"'][ \t]*,[ \t]*(?:[\w\"']{1,12}[ \t]*[:=][ \t]*)?\\?[\"'])\Z")
# more names of a list after the first: "Contributors: A B, C D and E F"
_NEXT_NAME = re.compile(r"\\?[\"']?[ \t]*(?:,|\band\b|&)[ \t]*\\?[\"']?[ \t]*(" + _NAME_RE + r")(?![\w@])")
# a `name:` key whose next line is the `email:` key of the same entry (YAML/TOML author lists)
_NAME_KEY_BEFORE_EMAIL = re.compile(r"\bname[\"']?[ \t]*[:=][ \t]*[\"']?(" + _NAME_RE + r")[\"']?[ \t]*,?[ \t]*\r?\n"
                                    r"[ \t]*(?:-[ \t]+)?[\"']?e-?mail[\"']?[ \t]*[:=][ \t]*[\"']?<?\Z")


# a list item that names a person, then the role: "* First Last — maintainer", "- First Last (author)"
_NAME_ROLE = re.compile(r"[ \t]*(?:[-*+•]|\d+\.)[ \t]+(" + _NAME_RE + r")[ \t]*(?:[—–\-:,]+|\()[ \t]*"
                        r"(?i:co-?)?(?i:maintainers?|authors?|creators?|contributors?|lead|owner)\b")


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
        r = _NAME_ROLE.match(text, ls, le)
        if r and not any(w.strip(".").capitalize() in _ORG_WORDS for w in re.split(r"[ \t]+", r.group(1))):
            spans.append(Span(r.start(1), r.end(1), NAME, "author_line"))
        for m in _AUTHOR_RE.finditer(text, ls, le):
            words = re.split(r"[ \t]+", m.group(1))
            if any(w.strip(".").capitalize() in _ORG_WORDS for w in words):
                continue
            nxt = _NEXT_WORD.match(text, m.end(1))
            if nxt and nxt.group(1).capitalize() in _ORG_WORDS:
                continue  # "Type Supply LLC", "Acme Widgets, Inc."
            spans.append(Span(m.start(1), m.end(1), NAME, "author_line"))
            pos = m.end(1)
            while True:
                n = _NEXT_NAME.match(text, pos, le)
                if not n or any(w.strip(".").capitalize() in _ORG_WORDS for w in re.split(r"[ \t]+", n.group(1))):
                    break
                spans.append(Span(n.start(1), n.end(1), NAME, "author_line"))
                pos = n.end(1)
    return spans


def detect_names_before_emails(text: str, emails: list[Span]) -> list[Span]:
    spans = []
    for e in emails:
        m = _NAME_BEFORE_EMAIL.search(text, max(0, e.start - 120), e.start) or _NAME_KEY_BEFORE_EMAIL.search(
            text, max(0, e.start - 160), e.start)
        if m and not any(w.strip(".").capitalize() in _ORG_WORDS for w in re.split(r"[ \t]+", m.group(1))):
            spans.append(Span(m.start(1), m.end(1), NAME, "name_email"))
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
    emails = detect_emails(text)
    spans = emails + detect_names_before_emails(text, emails) + detect_ips(text) + detect_vendor_keys(text)
    spans += detect_assignments(text, path, entropy_threshold)
    spans += detect_url_passwords(text, entropy_threshold) + detect_bearer(text, entropy_threshold)
    spans += detect_prefixed_tokens(text, entropy_threshold) + detect_misc_credentials(text, entropy_threshold)
    spans += detect_author_names(text)
    return merge_spans(spans)


PLACEHOLDERS = {EMAIL: "<EMAIL>", KEY: "<KEY>", PASSWORD: "<PASSWORD>", NAME: "<NAME>", USERNAME: "<NAME>"}


def ip_replacement(value: str) -> str:
    """One of docs/recipe.md §5.1's 5 synthetic private addresses of the value's family, chosen from a
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
