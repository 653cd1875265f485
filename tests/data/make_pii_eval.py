"""Generate tests/data/pii_eval.jsonl: the team's labelled PII evaluation set.

    .venv/bin/python tests/data/make_pii_eval.py        # rewrites tests/data/pii_eval.jsonl

Snippets are composed deterministically (seeded) from templates written to look like real
code and config in many languages × fake values (random names, public-looking IPs, keys in
each vendor's format with random characters). None of the values is a real credential or a
real person's address. Each record:

    {"id": "...", "language": "...", "negative": bool, "content": "...",
     "spans": [{"start": int, "end": int, "type": "EMAIL|IP_ADDRESS|KEY|PASSWORD"}]}

A template holds slots `{{TYPE:kind}}` (a labelled value of entity TYPE produced by the
generator `kind`) and `{{-:kind}}` (an unlabelled look-alike that must NOT be flagged).
Negative records contain only unlabelled slots and literal look-alikes.
"""
from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import string
import uuid
from pathlib import Path

SEED = 20240605
OUT = Path(__file__).with_name("pii_eval.jsonl")
FILLS_PER_TEMPLATE = 3

FIRST = ["maria", "john", "wei", "fatima", "lukas", "aiko", "carlos", "olga", "samir", "emma", "noah", "priya",
         "diego", "hannah", "yusuf", "chloe", "mateo", "ingrid", "kenji", "amara"]
LAST = ["garcia", "smith", "zhang", "khan", "muller", "tanaka", "silva", "ivanova", "haddad", "johnson", "patel",
        "rossi", "novak", "okafor", "larsen", "dubois", "kowalski", "nguyen", "schmidt", "moreau"]
DOMAINS = ["gmail.com", "outlook.com", "protonmail.ch", "acme-corp.io", "univ-lyon1.fr", "cs.stanford.edu",
           "mail.ru", "yahoo.co.jp", "fastmail.fm", "company.de", "startup.ai", "hospital.org.uk", "gmx.net"]
WORDS = ["sunflower", "dragon", "winter", "coffee", "rocket", "purple", "tiger", "harbor", "maple", "falcon"]
ALNUM = string.ascii_letters + string.digits


def rand(r: random.Random, alphabet: str, n: int) -> str:
    return "".join(r.choice(alphabet) for _ in range(n))


def public_ipv4(r: random.Random) -> str:
    import ipaddress
    from udfs.pii import PUBLIC_DNS
    while True:
        a = r.choice([23, 31, 45, 52, 54, 64, 66, 77, 81, 85, 91, 104, 128, 134, 141, 151, 159, 178, 185, 193, 203, 212])
        ip = f"{a}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        addr = ipaddress.ip_address(ip)
        if addr.is_global and ip not in PUBLIC_DNS:
            return ip


def public_ipv6(r: random.Random) -> str:
    groups = [r.choice(["2001:67c", "2a00:1450", "2a03:2880", "2604:a880", "2600:1f18", "2406:da00"])]
    groups += [f"{r.randint(0, 0xffff):x}" for _ in range(r.choice([2, 6]))]
    if len(groups) == 3:
        return ":".join(groups) + "::" + f"{r.randint(1, 0xffff):x}"
    return ":".join(groups)


def gen(kind: str, r: random.Random) -> str:
    f, l = r.choice(FIRST), r.choice(LAST)
    if kind == "email":
        local = r.choice([f"{f}.{l}", f"{f[0]}{l}", f"{f}{r.randint(1, 99)}", f"{l}.{f}", f"{f}_{l}"])
        return f"{local}@{r.choice(DOMAINS)}"
    if kind == "ipv4":
        return public_ipv4(r)
    if kind == "ipv6":
        return public_ipv6(r)
    if kind == "aws_id":
        return r.choice(["AKIA", "ASIA"]) + rand(r, string.ascii_uppercase + string.digits, 16)
    if kind == "aws_secret":
        return rand(r, ALNUM + "/+", 40)
    if kind == "github":
        return r.choice(["ghp_", "gho_", "ghs_"]) + rand(r, ALNUM, 36)
    if kind == "github_pat":
        return "github_pat_" + rand(r, ALNUM, 22) + "_" + rand(r, ALNUM, 59)
    if kind == "gitlab":
        return "glpat-" + rand(r, ALNUM + "_-", 20)
    if kind == "slack":
        return f"xox{r.choice('bpa')}-{rand(r, string.digits, 12)}-{rand(r, string.digits, 13)}-{rand(r, ALNUM, 24)}"
    if kind == "stripe":
        return r.choice(["sk_live_", "rk_live_"]) + rand(r, ALNUM, 24)
    if kind == "google":
        return "AIza" + rand(r, ALNUM + "_-", 35)
    if kind == "npm":
        return "npm_" + rand(r, ALNUM, 36)
    if kind == "jwt":
        head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
        body = base64.urlsafe_b64encode(json.dumps({"sub": rand(r, string.digits, 8), "name": f"{f} {l}",
                                                    "iat": r.randint(10**9, 2 * 10**9)}).encode()).decode().rstrip("=")
        return f"{head}.{body}.{rand(r, ALNUM + '_-', 43)}"
    if kind == "pem":
        body = "\n".join(rand(r, ALNUM + "+/", 64) for _ in range(r.randint(4, 8)))
        label = r.choice(["RSA ", "EC ", "OPENSSH ", ""])
        return f"-----BEGIN {label}PRIVATE KEY-----\n{body}\n-----END {label}PRIVATE KEY-----"
    if kind == "hexsecret":
        return rand(r, "0123456789abcdef", r.choice([32, 40, 64]))
    if kind == "b64secret":
        return rand(r, ALNUM, r.choice([24, 32, 40])) + r.choice(["", "=", "=="]) * 0
    if kind == "password":
        return r.choice([f"{r.choice(WORDS).capitalize()}{r.randint(10, 9999)}{r.choice('!@#$%&*')}",
                         f"{r.choice(WORDS)}_{r.choice(WORDS)}{r.randint(1, 99)}",
                         rand(r, ALNUM + "!#%&*", r.randint(10, 16)),
                         f"{l.capitalize()}{r.randint(1970, 2010)}{r.choice('!?.')}"])
    if kind == "url_password":  # characters that need no percent-encoding in a URL
        return rand(r, ALNUM, r.randint(6, 10)) + r.choice(["", "!", "*", "-", "_", "."]) + str(r.randint(1, 99))
    if kind == "user":
        return r.choice([f, l, f"{f}{r.randint(1, 99)}", "admin", "root", "deploy"])
    if kind == "host":
        return r.choice(["db.internal.acme-corp.io", "prod-db-01.eu-west-1.rds.amazonaws.com", "cache.startup.ai",
                         "mq.company.de", "mongo0.cluster.hospital.org.uk"])
    # ---- look-alikes (never labelled) ----
    if kind == "private_ipv4":
        return r.choice([f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
                         f"192.168.{r.randint(0, 255)}.{r.randint(1, 254)}", f"172.{r.randint(16, 31)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
                         "127.0.0.1", "0.0.0.0", f"169.254.{r.randint(0, 255)}.{r.randint(1, 254)}",
                         f"192.0.2.{r.randint(1, 254)}", f"198.51.100.{r.randint(1, 254)}", f"203.0.113.{r.randint(1, 254)}",
                         "255.255.255.0", "255.255.0.0"])
    if kind == "dns":
        return r.choice(["8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "208.67.222.222", "94.140.14.14"])
    if kind == "private_ipv6":
        return r.choice(["::1", "fe80::1ff:fe23:4567:890a", "fd12:3456:789a:1::1", "2001:db8::8a2e:370:7334", "::", "fc00::1"])
    if kind == "version4":
        return f"{r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}"
    if kind == "version_long":
        return f"{r.randint(1, 30)}.{r.randint(0, 20)}.{r.randint(0, 300)}.{r.randint(0, 99)}"
    if kind == "placeholder_email":
        return r.choice(["user@example.com", "you@example.org", "noreply@github.com", "no-reply@accounts.google.com",
                         "jane.doe@example.net", "admin@localhost", "test@test.com", "foo@bar.com",
                         "your.email@domain.com", f"{f}@example.com", "someone@company.example"])
    if kind == "uuid":
        return str(uuid.UUID(int=r.getrandbits(128)))
    if kind == "sha1":
        return hashlib.sha1(rand(r, ALNUM, 12).encode()).hexdigest()
    if kind == "sha256":
        return hashlib.sha256(rand(r, ALNUM, 12).encode()).hexdigest()
    if kind == "md5":
        return hashlib.md5(rand(r, ALNUM, 12).encode()).hexdigest()
    if kind == "integrity":
        return "sha512-" + base64.b64encode(hashlib.sha512(rand(r, ALNUM, 12).encode()).digest()).decode()
    if kind == "b64vector":
        return base64.b64encode(rand(r, string.ascii_letters, r.choice([12, 18, 24])).encode()).decode()
    if kind == "placeholder_key":
        return r.choice(["your-api-key", "YOUR_API_KEY_HERE", "xxxxxxxxxxxxxxxxxxxxxxxx", "<your-token>", "${API_TOKEN}",
                         "changeme", "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx", "AKIAIOSFODNN7EXAMPLE", "{{ secret_key }}",
                         "REPLACE_ME", "dummy-token-for-tests", "<SECRET>", "********"])
    if kind == "placeholder_password":
        return r.choice(["changeme", "password", "<password>", "${DB_PASSWORD}", "********", "xxx", "your_password",
                         "{{ db_password }}", "%(password)s", "secret", "CHANGE_ME"])
    if kind == "date":
        return r.choice([f"{r.randint(1990, 2030)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
                         f"{r.randint(1, 28):02d}.{r.randint(1, 12):02d}.{r.randint(1990, 2030)}"])
    raise ValueError(kind)


# ---------------------------------------------------------------------------------------
# Templates: (language, template). Positive templates hold at least one labelled slot.
# ---------------------------------------------------------------------------------------
POSITIVE = [
    ("python", '# Author: {{NAME_:name}} <{{EMAIL:email}}>\n"""Utilities for parsing logs."""\nimport re\n'),
    ("python", '__author__ = "{{EMAIL:email}}"\n__version__ = "{{-:version4}}"\n'),
    ("python", 'ADMINS = [("Ops", "{{EMAIL:email}}"), ("Dev", "{{EMAIL:email}}")]\nDEBUG = False\n'),
    ("python", 'def notify():\n    send_mail(subject, body, "{{EMAIL:email}}", [to])\n'),
    ("javascript", '/**\n * @author {{EMAIL:email}}\n * @since {{-:version4}}\n */\nexport function parse(x) { return x; }\n'),
    ("java", '/*\n * Copyright (c) 2019 ACME Corp.\n * Contact: {{EMAIL:email}}\n */\npackage com.acme.util;\n'),
    ("yaml", 'maintainers:\n  - name: ops\n    email: {{EMAIL:email}}\n  - email: {{EMAIL:email}}\n'),
    ("markdown", '## Support\n\nWrite to [{{EMAIL:email}}](mailto:{{EMAIL:email}}) for help.\n'),
    ("go", 'const contact = "{{EMAIL:email}}"\n\nfunc main() {\n\tfmt.Println(contact)\n}\n'),
    ("ruby", 'Gem::Specification.new do |s|\n  s.email = ["{{EMAIL:email}}"]\n  s.version = "{{-:version4}}"\nend\n'),
    ("php", "<?php\n$mail->setFrom('{{EMAIL:email}}', 'Billing');\n$mail->addAddress('{{EMAIL:email}}');\n"),
    ("toml", '[package]\nname = "parser"\nauthors = ["Dev Team <{{EMAIL:email}}>"]\n'),
    ("python", 'SERVER = "{{IP_ADDRESS:ipv4}}"\nPORT = 8080\nsock.connect((SERVER, PORT))\n'),
    ("nginx", 'upstream backend {\n    server {{IP_ADDRESS:ipv4}}:8000;\n    server {{IP_ADDRESS:ipv4}}:8000 backup;\n}\n'),
    ("yaml", 'hosts:\n  web: {{IP_ADDRESS:ipv4}}\n  db: {{-:private_ipv4}}\nresolver: {{-:dns}}\n'),
    ("shell", '#!/bin/sh\nssh deploy@{{IP_ADDRESS:ipv4}} "sudo systemctl restart app"\n'),
    ("javascript", "const API_HOST = 'http://{{IP_ADDRESS:ipv4}}:3000/api';\nfetch(API_HOST + '/users');\n"),
    ("ini", '[database]\nhost = {{IP_ADDRESS:ipv4}}\nport = 5432\n'),
    ("java", 'InetAddress addr = InetAddress.getByName("{{IP_ADDRESS:ipv4}}");\n'),
    ("python", 'ALLOWED_HOSTS = ["{{IP_ADDRESS:ipv4}}", "localhost", "{{-:private_ipv4}}"]\n'),
    ("c", '#define UPSTREAM_V6 "{{IP_ADDRESS:ipv6}}"\nstatic int port = 443;\n'),
    ("yaml", 'listen:\n  - "[{{IP_ADDRESS:ipv6}}]:443"\n  - "{{IP_ADDRESS:ipv4}}:443"\n'),
    ("log", '2023-04-01 12:00:01 INFO accepted connection from {{IP_ADDRESS:ipv4}} port 51544\n'),
    ("python", 'AWS_ACCESS_KEY_ID = "{{KEY:aws_id}}"\nAWS_SECRET_ACCESS_KEY = "{{KEY:aws_secret}}"\nREGION = "eu-west-1"\n'),
    ("ini", '[default]\naws_access_key_id = {{KEY:aws_id}}\naws_secret_access_key = {{KEY:aws_secret}}\n'),
    ("javascript", "const s3 = new AWS.S3({\n  accessKeyId: '{{KEY:aws_id}}',\n  secretAccessKey: '{{KEY:aws_secret}}',\n});\n"),
    ("python", 'g = Github("{{KEY:github}}")\nrepo = g.get_repo("acme/tools")\n'),
    ("yaml", 'env:\n  GITHUB_TOKEN: {{KEY:github}}\n  NODE_ENV: production\n'),
    ("shell", 'export GH_TOKEN={{KEY:github_pat}}\ngh release list\n'),
    ("shell", 'curl --header "PRIVATE-TOKEN: {{KEY:gitlab}}" https://gitlab.com/api/v4/projects\n'),
    ("python", 'slack = WebClient(token="{{KEY:slack}}")\nslack.chat_postMessage(channel="#ops", text="deployed")\n'),
    ("ruby", "Stripe.api_key = '{{KEY:stripe}}'\ncharge = Stripe::Charge.create(amount: 500)\n"),
    ("javascript", 'const stripe = require("stripe")("{{KEY:stripe}}");\n'),
    ("html", '<script src="https://maps.googleapis.com/maps/api/js?key={{KEY:google}}&callback=init"></script>\n'),
    ("kotlin", 'val mapsKey = "{{KEY:google}}"\n'),
    ("npmrc", '//registry.npmjs.org/:_authToken={{KEY:npm}}\n'),
    ("python", 'headers = {"Authorization": "Bearer {{KEY:jwt}}"}\nrequests.get(url, headers=headers)\n'),
    ("javascript", "localStorage.setItem('token', '{{KEY:jwt}}');\n"),
    ("pem", '{{KEY:pem}}\n'),
    ("python", 'PRIVATE_KEY = """{{KEY:pem}}"""\n'),
    ("python", 'SECRET_KEY = "{{KEY:b64secret}}"\nDEBUG = True\n'),
    ("python", 'api_key = "{{KEY:hexsecret}}"\nclient = Client(api_key)\n'),
    ("dotenv", 'APP_ENV=production\nJWT_SECRET={{KEY:b64secret}}\nAPI_TOKEN={{KEY:hexsecret}}\n'),
    ("json", '{\n  "client_id": "web-app",\n  "client_secret": "{{KEY:b64secret}}",\n  "redirect_uri": "https://app.io/cb"\n}\n'),
    ("csharp", 'private const string ApiKey = "{{KEY:b64secret}}";\n'),
    ("go", 'var webhookSecret = "{{KEY:hexsecret}}"\n'),
    ("php", "<?php\ndefine('AUTH_KEY', '{{KEY:b64secret}}');\n"),
    ("yaml", 'auth:\n  access_token: "{{KEY:b64secret}}"\n'),
    ("python", 'DATABASES = {"default": {"USER": "app", "PASSWORD": "{{PASSWORD:password}}", "HOST": "db"}}\n'),
    ("python", 'conn = psycopg2.connect(host="db", user="app", password="{{PASSWORD:password}}")\n'),
    ("yaml", 'spring:\n  datasource:\n    username: app\n    password: {{PASSWORD:password}}\n'),
    ("dotenv", 'DB_USER=app\nDB_PASSWORD={{PASSWORD:password}}\nDB_HOST=localhost\n'),
    ("java", 'String password = "{{PASSWORD:password}}";\nconn = DriverManager.getConnection(url, "sa", password);\n'),
    ("python", 'engine = create_engine("postgresql://{{-:user}}:{{PASSWORD:url_password}}@{{-:host}}:5432/prod")\n'),
    ("javascript", "mongoose.connect('mongodb://{{-:user}}:{{PASSWORD:url_password}}@{{-:host}}:27017/app');\n"),
    ("shell", 'git clone https://{{-:user}}:{{PASSWORD:url_password}}@gitlab.acme-corp.io/team/repo.git\n'),
    ("xml", '<connectionStrings>\n  <add name="db" connectionString="Server=db;User Id=sa;Password={{PASSWORD:password}};" />\n</connectionStrings>\n'),
    ("php", "<?php\n$config = ['db_user' => 'root', 'db_pass' => '{{PASSWORD:password}}'];\n"),
    ("ini", '[smtp]\nuser = mailer\npasswd = {{PASSWORD:password}}\n'),
    ("go", 'dsn := "app:{{PASSWORD:url_password}}@tcp(db:3306)/prod"\n'),
    ("json", '{"mysql": {"user": "root", "password": "{{PASSWORD:password}}"}}\n'),
    ("python", 'if password == "{{PASSWORD:password}}":\n    grant_access()\n'),
    ("python", 'EMAIL_HOST_USER = "{{EMAIL:email}}"\nEMAIL_HOST_PASSWORD = "{{PASSWORD:password}}"\n'),
    ("yaml", 'smtp:\n  server: {{IP_ADDRESS:ipv4}}\n  from: {{EMAIL:email}}\n  password: "{{PASSWORD:password}}"\n'),
    ("python", 'client = boto3.client("s3", aws_access_key_id="{{KEY:aws_id}}", aws_secret_access_key="{{KEY:aws_secret}}")\n'),
    ("dockerfile", 'FROM python:3.11-slim\nENV SENTRY_DSN=https://{{KEY:hexsecret}}@o1.ingest.sentry.io/42\nENV NPM_TOKEN={{KEY:npm}}\n'),
]

NEGATIVE = [
    ("python", '@app.route("/users/<int:user_id>")\n@login_required\ndef show(user_id):\n    return render(user_id)\n'),
    ("java", '@Override\npublic String toString() {\n    return "Point@" + hashCode();\n}\n'),
    ("python", 'result = weights @ inputs.T\nproj = A@B.transpose()\n'),
    ("javascript", '// e.g. {{-:placeholder_email}}\nconst placeholder = "{{-:placeholder_email}}";\n'),
    ("markdown", 'Set `EMAIL={{-:placeholder_email}}` in your `.env`. Commits use {{-:placeholder_email}}.\n'),
    ("css", '.logo { background: url("logo@2x.png"); }\n@media (min-width: 600px) { .nav { color: #fafafa; } }\n'),
    ("shell", 'npm install lodash@4.17.21 @types/node@{{-:version4}}\ngit clone git@github.com:acme/tools.git\n'),
    ("python", '__version__ = "{{-:version4}}"\nVERSION = ({{-:version4}})\nrequires = ["django>={{-:version_long}}"]\n'),
    ("xml", '<dependency>\n  <artifactId>guava</artifactId>\n  <version>{{-:version_long}}</version>\n</dependency>\n'),
    ("csharp", '[assembly: AssemblyVersion("{{-:version_long}}")]\n[assembly: AssemblyFileVersion("{{-:version_long}}")]\n'),
    ("python", 'LISTEN = "{{-:private_ipv4}}"\nGATEWAY = "{{-:private_ipv4}}"\nNAMESERVERS = ["{{-:dns}}", "{{-:dns}}"]\n'),
    ("yaml", 'network:\n  address: {{-:private_ipv4}}\n  netmask: 255.255.255.0\n  dns: [{{-:dns}}]\n'),
    ("c", 'static const char *LOOPBACK6 = "{{-:private_ipv6}}";\nstd::vector<int> v; std::map<int, int> m;\n'),
    ("python", 'start = datetime.strptime("{{-:date}}", "%Y-%m-%d")\nx = 1.5; y = 2.25\n'),
    ("python", 'OID_SUBJECT_KEY = ObjectIdentifier("2.5.29.14")\nOID_USAGE = ObjectIdentifier("2.5.29.15")\n'),
    ("python", 'REQUEST_ID = "{{-:uuid}}"\nDEFAULT_NS = uuid.UUID("{{-:uuid}}")\n'),
    ("json", '{\n  "id": "{{-:uuid}}",\n  "token_type": "bearer",\n  "expires_in": 3600\n}\n'),
    ("shell", 'git checkout {{-:sha1}}\n# fixed in commit {{-:sha1}}\n'),
    ("python", 'EXPECTED_SHA256 = "{{-:sha256}}"\nassert hashlib.sha256(data).hexdigest() == EXPECTED_SHA256\n'),
    ("python", 'checksums = {"model.bin": "{{-:md5}}"}  # md5\n'),
    ("npm-lock", '{\n  "node_modules/left-pad": {\n    "version": "1.3.0",\n    "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz",\n    "integrity": "{{-:integrity}}"\n  }\n}\n'),
    ("html", '<script src="https://cdn.jsdelivr.net/npm/bootstrap@5.3.0/dist/js/bootstrap.min.js" integrity="{{-:integrity}}" crossorigin="anonymous"></script>\n'),
    ("python", 'def test_b64():\n    assert b64decode("{{-:b64vector}}") == expected\n    assert encode(b"hello") == "aGVsbG8="\n'),
    ("python", 'password = os.environ["DB_PASSWORD"]\napi_key = os.getenv("API_KEY")\n'),
    ("javascript", 'const token = process.env.GITHUB_TOKEN;\nconst secret = config.get("secret");\n'),
    ("yaml", 'db:\n  password: {{-:placeholder_password}}\n  api_key: "{{-:placeholder_key}}"\n'),
    ("python", 'API_KEY = "{{-:placeholder_key}}"  # set me\nPASSWORD = "{{-:placeholder_password}}"\n'),
    ("dotenv", 'API_TOKEN={{-:placeholder_key}}\nDB_PASSWORD=\n'),
    ("python", 'PASSWORD_FIELD = "password"\nMIN_PASSWORD_LENGTH = 12\npassword_hint = "Use 12 characters or more"\n'),
    ("python", 'class LoginForm(forms.Form):\n    password = forms.CharField(widget=forms.PasswordInput)\n    remember = forms.BooleanField()\n'),
    ("java", 'public void setPassword(String password) {\n    this.password = password;\n}\n'),
    ("go", 'type Config struct {\n\tPassword string `json:"password"`\n\tAPIKey   string `json:"api_key"`\n}\n'),
    ("python", 'MAX_TOKENS = 4096\ntoken_count = len(tokens)\ntokenizer = AutoTokenizer.from_pretrained(path)\n'),
    ("python", 'secret_key = get_random_secret_key()\ntoken = generate_token(user)\n'),
    ("typescript", 'interface Auth {\n  token: string;\n  refreshToken?: string;\n}\n'),
    ("shell", 'docker run -e POSTGRES_PASSWORD=$POSTGRES_PASSWORD -p 5432:5432 postgres:{{-:version_long}}\n'),
    ("python", 'url = f"postgresql://{user}:{password}@{host}/{db}"\nredis_url = "redis://localhost:6379/0"\n'),
    ("yaml", 'url: "https://${USER}:${PASS}@registry.acme-corp.io"\nmirror: "http://user:password@proxy.example.com:3128"\n'),
    ("python", 'AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # from the AWS docs\nAWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n'),
    ("python", 'ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"\nDIGITS = "0123456789"\n'),
    ("css", ':root { --primary: #1a2b3c; --accent: #ff00aa; }\n'),
    ("python", 'PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----\n{{-:b64vector}}\n-----END PUBLIC KEY-----"""\n'),
    ("python", 'if line.startswith("-----BEGIN RSA PRIVATE KEY-----"):\n    in_key = True\n'),
    ("markdown", 'Pass the key with `--api-key <KEY>` or set `API_KEY=<your-api-key>`.\n'),
    ("cargo-lock", '[[package]]\nname = "serde"\nversion = "1.0.188"\nchecksum = "{{-:sha256}}"\n'),
    ("python", 'ENCODED = "{{-:b64vector}}"\nFIXTURE_ID = "{{-:uuid}}"\n'),
    ("c", '/* see section 4.2.1.3 of RFC 5280 */\nint x = 10; double y = 3.14159;\n'),
    ("python", 'docker_image = "python@sha256:{{-:sha256}}"\n'),
    ("python", 'session["csrf_token"] = secrets.token_hex(32)\nauth = HTTPBasicAuth(user, pwd)\n'),
    ("javascript", "import { author } from './package.json';\nconsole.log(`by ${author}`);\n"),
    ("python", 'PATTERN = r"(?:key|pwd|password|pass|token)\\s*=\\s*(\\S+)"\n'),
    ("python", 'def login(username, password):\n    return authenticate(username=username, password=password)\n'),
]

# The file name each snippet is evaluated under (detect-secrets and the lock-file rule look at it).
PATHS = {"python": "app/settings.py", "javascript": "src/index.js", "typescript": "src/auth.ts", "java": "src/Main.java",
         "yaml": "config/app.yaml", "markdown": "README.md", "go": "main.go", "ruby": "lib/app.rb", "php": "index.php",
         "toml": "pyproject.toml", "nginx": "nginx.conf", "shell": "deploy.sh", "ini": "config.ini", "c": "src/net.c",
         "log": "server.log", "kotlin": "App.kt", "npmrc": ".npmrc", "html": "index.html", "pem": "server.key",
         "dotenv": ".env", "json": "config.json", "csharp": "Program.cs", "xml": "web.config", "dockerfile": "Dockerfile",
         "css": "style.css", "rust": "src/main.rs", "sql": "seed.sql", "csv": "users.csv", "terraform": "main.tf",
         "properties": "application.properties", "npm-lock": "package-lock.json", "cargo-lock": "Cargo.lock"}

# Held-out templates: written after the rules were tuned on the ones above and scored once,
# without changing the rules for them (the report gives their scores separately: "hold-").
HOLDOUT_POSITIVE = [
    ("python", 'import smtplib\nserver = smtplib.SMTP("smtp.gmail.com", 587)\nserver.login("{{EMAIL:email}}", "{{PASSWORD:password}}")\n'),
    ("javascript", "const transporter = nodemailer.createTransport({\n  auth: { user: '{{EMAIL:email}}', pass: '{{PASSWORD:password}}' },\n});\n"),
    ("rust", 'const MAINTAINER: &str = "{{EMAIL:email}}";\nfn main() { println!("{}", MAINTAINER); }\n'),
    ("python", '# Reported by {{EMAIL:email}} on the mailing list\ndef fix(): ...\n'),
    ("sql", "INSERT INTO users (name, email) VALUES ('Ann', '{{EMAIL:email}}');\n"),
    ("csv", 'id,name,email\n1,Ann,{{EMAIL:email}}\n2,Bo,{{EMAIL:email}}\n'),
    ("python", 'BLOCKLIST = {"{{IP_ADDRESS:ipv4}}", "{{IP_ADDRESS:ipv4}}"}\n'),
    ("shell", 'iptables -A INPUT -s {{IP_ADDRESS:ipv4}} -j DROP\nping -c 1 {{-:private_ipv4}}\n'),
    ("terraform", 'resource "aws_security_group_rule" "office" {\n  cidr_blocks = ["{{IP_ADDRESS:ipv4}}/32"]\n}\n'),
    ("go", 'addr := net.ParseIP("{{IP_ADDRESS:ipv6}}")\n'),
    ("json", '{"peers": ["{{IP_ADDRESS:ipv4}}:30303", "{{IP_ADDRESS:ipv4}}:30303"]}\n'),
    ("python", 'os.environ["OPENAI_API_KEY"] = "sk-{{KEY:b64secret}}"\n'),
    ("yaml", 'steps:\n  - run: npm publish\n    env:\n      NODE_AUTH_TOKEN: {{KEY:npm}}\n'),
    ("java", 'private static final String SLACK_TOKEN = "{{KEY:slack}}";\n'),
    ("typescript", 'export const firebaseConfig = {\n  apiKey: "{{KEY:google}}",\n  authDomain: "app.firebaseapp.com",\n};\n'),
    ("shell", 'aws configure set aws_access_key_id {{KEY:aws_id}}\n'),
    ("ruby", "config.secret_key_base = '{{KEY:hexsecret}}'\n"),
    ("python", 'GITLAB_TOKEN = "{{KEY:gitlab}}"\nproject = gl.projects.get(42)\n'),
    ("csharp", 'var client = new HttpClient();\nclient.DefaultRequestHeaders.Add("Authorization", "Bearer {{KEY:jwt}}");\n'),
    ("properties", 'spring.datasource.url=jdbc:mysql://db:3306/app\nspring.datasource.password={{PASSWORD:password}}\n'),
    ("python", 'redis_client = redis.Redis(host="cache", port=6379, password="{{PASSWORD:password}}")\n'),
    ("yaml", 'services:\n  db:\n    environment:\n      - MYSQL_ROOT_PASSWORD={{PASSWORD:password}}\n'),
    ("php", "<?php\n$pdo = new PDO('mysql:host=db;dbname=app', 'root', '{{PASSWORD:password}}');\n"),
    ("shell", 'mysql -u root -p{{PASSWORD:password}} app < dump.sql\n'),
    ("python", 'ftp = FTP("ftp.acme-corp.io")\nftp.login(user="{{-:user}}", passwd="{{PASSWORD:password}}")\n'),
    ("javascript", "const url = 'amqp://{{-:user}}:{{PASSWORD:url_password}}@{{-:host}}:5672';\n"),
]
HOLDOUT_NEGATIVE = [
    ("python", '@pytest.mark.parametrize("x", [1, 2])\n@dataclass(frozen=True)\nclass P: ...\n'),
    ("kotlin", '@Composable\nfun Greeting(name: String) { Text("Hello $name") }\n'),
    ("markdown", 'Contact: `{{-:placeholder_email}}` (replace with your address).\n'),
    ("python", 'SUBNET = "{{-:private_ipv4}}/24"\nBIND = "0.0.0.0"\nUPSTREAM_DNS = "{{-:dns}}"\n'),
    ("yaml", 'image: node:{{-:version_long}}\nversion: "{{-:version4}}"\n'),
    ("python", 'assert parse_version("{{-:version_long}}") > parse_version("{{-:version4}}")\n'),
    ("go", 'const requestID = "{{-:uuid}}"\n'),
    ("python", 'COMMIT = "{{-:sha1}}"\nBUILD_SHA = "{{-:sha1}}"\n'),
    ("yaml", 'resolved: "https://registry.yarnpkg.com/react/-/react-18.2.0.tgz#{{-:sha1}}"\nintegrity: {{-:integrity}}\n'),
    ("python", 'def test_decode():\n    data = "{{-:b64vector}}"\n    assert decode(data)\n'),
    ("javascript", 'const password = req.body.password;\nconst token = req.headers.authorization;\n'),
    ("python", 'API_KEY = os.environ.get("API_KEY", "")\nSECRET = settings.SECRET\n'),
    ("yaml", 'password: "{{-:placeholder_password}}"\ntoken: "{{-:placeholder_key}}"\n'),
    ("shell", 'read -s -p "Password: " PASSWORD\nexport PASSWORD\n'),
    ("java", 'if (password.length() < MIN_PASSWORD_LENGTH) { throw new IllegalArgumentException("too short"); }\n'),
    ("python", 'hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt())\n'),
    ("c", 'uint8_t key[32] = {0};\nmemset(secret, 0, sizeof(secret));\n'),
    ("python", 'token_url = "https://oauth2.googleapis.com/token"\nauth_uri = "https://accounts.google.com/o/oauth2/auth"\n'),
    ("python", 'SHA256_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"\n'),
    ("javascript", 'const EXAMPLE_JWT = "eyJhbGciOiJIUzI1NiJ9.e30.placeholder_signature_for_docs";\n'),
]

SLOT = re.compile(r"\{\{([A-Z_\-]+):([a-z0-9_]+)\}\}")


def fill(template: str, r: random.Random) -> tuple[str, list[dict]]:
    out, spans, pos = [], [], 0
    length = 0
    for m in SLOT.finditer(template):
        literal = template[pos:m.start()]
        out.append(literal)
        length += len(literal)
        label, kind = m.group(1), m.group(2)
        value = gen("user" if kind == "name" else kind, r)
        if label not in ("-", "NAME_"):
            spans.append({"start": length, "end": length + len(value), "type": label})
        out.append(value)
        length += len(value)
        pos = m.end()
    out.append(template[pos:])
    return "".join(out), spans


def build() -> list[dict]:
    r = random.Random(SEED)
    records = []
    for group, templates in (("pos", POSITIVE), ("neg", NEGATIVE), ("hold-pos", HOLDOUT_POSITIVE),
                             ("hold-neg", HOLDOUT_NEGATIVE)):
        for ti, (language, template) in enumerate(templates):
            for k in range(FILLS_PER_TEMPLATE + (1 if group.endswith("neg") else 0)):
                content, spans = fill(template, r)
                records.append({"id": f"{group}-{ti:03d}-{k}", "language": language, "path": PATHS[language],
                                "negative": not spans,
                                "content": content, "spans": spans})
    return records


def main() -> int:
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    records = build()
    with OUT.open("w") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    n_spans = sum(len(r["spans"]) for r in records)
    print(f"wrote {len(records)} records ({sum(r['negative'] for r in records)} negatives, {n_spans} spans) to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
