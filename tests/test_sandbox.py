"""trainer/sandbox.py against hostile programs: each one ends failed or timeout, and the machine
is the same afterwards (the files it aimed at untouched, no process of it left, no scratch
directory left). Every hostile test runs in both modes: contained (the kernel's namespaces,
as root: this machine and CI) and the fallback (forced here; a test below also runs it as a
real non-root user)."""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest

import trainer.sandbox as sandbox
from trainer.evaluate import humaneval_problems, program_for
from trainer.sandbox import SandboxUnavailable, run_program

REPO = Path(__file__).resolve().parents[1]
# Every process and scratch directory of this test process's sandboxes carries this in its
# command line or name (the work directory's path is the program's argv[1]).
RUN_MARK = f"codemill-sandbox-{os.getpid()}-"
# ... and what a hostile program puts in the command line of whatever it manages to exec.
EXEC_MARK = f"codemill-hostile-{os.getpid()}"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the contained mode needs root (CI and this machine)")
MODES = [pytest.param(True, id="contained", marks=needs_root), pytest.param(False, id="fallback")]


def sandbox_processes() -> list[str]:
    """Command lines of host processes that belong to this test process's sandboxes."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if RUN_MARK in cmdline or EXEC_MARK in cmdline:
            found.append(f"{pid}: {cmdline[:200]}")
    return found


def scratch_dirs() -> list[str]:
    return [n for n in os.listdir(tempfile.gettempdir()) if n.startswith(RUN_MARK)]


@pytest.fixture(autouse=True)
def machine_unchanged():
    """After every test: no sandbox process alive, no scratch directory left."""
    yield
    deadline = time.monotonic() + 2  # a killed process may take a moment to be reaped
    while sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox_processes() == []
    assert scratch_dirs() == []


@pytest.fixture(params=MODES)
def run(request):
    """run_program in one mode; the fallback's warning is expected (and tested elsewhere)."""
    return partial(run_program, contained=request.param)


def contained_only(run):
    if not run.keywords["contained"]:
        pytest.skip("a property of the contained mode")


def code(text: str) -> str:
    return textwrap.dedent(text).lstrip()


# ---------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------
def test_cannot_write_outside_its_directory(run, tmp_path):
    targets = [tmp_path / "written.txt", Path(tempfile.gettempdir()) / f"{EXEC_MARK}.txt", REPO / f"{EXEC_MARK}.txt"]
    for target in targets:
        r = run(f"open({str(target)!r}, 'w').write('escaped')\nprint('wrote')")
        assert r.status == "failed" and "wrote" not in r.stdout, (target, r)
        assert not target.exists()


def test_cannot_delete_outside_its_directory(run, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    lake = tmp_path / "lake" / "gold" / "tokens"
    lake.mkdir(parents=True)
    (lake / "part-0.parquet").write_bytes(b"PAR1")
    for program in (f"import os\nos.remove({str(victim)!r})",
                    f"import shutil\nshutil.rmtree({str(tmp_path / 'lake')!r})",
                    f"import os\nos.rename({str(victim)!r}, 'stolen.txt')"):
        r = run(program)
        assert r.status == "failed", (program, r)
    assert victim.read_text() == "keep me"
    assert (lake / "part-0.parquet").read_bytes() == b"PAR1"


def test_cannot_read_the_project_the_lake_or_home(run, tmp_path):
    lake_file = tmp_path / "lake" / "tokenizer" / "tokenizer.json"
    lake_file.parent.mkdir(parents=True)
    lake_file.write_text('{"secret": 1}')
    for program in (f"print(open({str(REPO / 'README.md')!r}).read()[:40])",
                    f"print(open({str(lake_file)!r}).read())",
                    f"import os\nprint(os.listdir({str(REPO)!r}))",
                    f"import os\nprint(os.listdir({str(Path.home())!r}))",
                    f"print(open({str(REPO / '.venv' / 'pyvenv.cfg')!r}).read())"):
        r = run(program)
        assert r.status == "failed" and r.stdout == "", (program, r)


def test_contained_view_holds_only_the_system_and_the_interpreter(run):
    contained_only(run)
    r = run(code("""
        import os, sys
        print(sorted(os.listdir("/")))
        print(os.path.exists("/etc/passwd"), os.path.exists("/work"), os.path.exists("/home"))
        stdlib = os.path.dirname(os.__file__)
        print(os.listdir(os.path.join(stdlib, "site-packages")) if os.path.isdir(stdlib + "/site-packages") else [])
        open("scratch.txt", "w").write("fine")  # its own directory is writable
        for path in ("/usr/escape", "/tmp/escape", "/escape", "/root", "/tmp"):
            try:
                open(path, "w") if "escape" in path else os.listdir(path)
                print("REACHED", path)
            except OSError as e:
                print(type(e).__name__)
    """))
    assert r.passed, r.stderr
    top, flags, site, *errors = r.stdout.splitlines()
    assert set(eval(top)) <= {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "dev", "proc", "tmp", "root"}
    assert flags == "False False False"
    assert site == "[]"  # the interpreter's site-packages is covered: the stdlib only
    assert len(errors) == 5 and not any(e.startswith("REACHED") for e in errors), errors


def test_contained_program_is_nobody_in_its_own_namespaces(run):
    contained_only(run)
    r = run(code("""
        import os
        status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
        print(os.getuid(), os.getgid(), os.getgroups(), os.getpid())
        print(status["CapEff"].strip(), status["CapPrm"].strip(), status["NoNewPrivs"].strip(), status["Seccomp"].strip())
        print(sorted(p for p in os.listdir("/proc") if p.isdigit()))
    """))
    assert r.passed, r.stderr
    ids, caps, pids = r.stdout.splitlines()
    uid, gid, groups, pid = ids.split(" ", 3)
    assert int(uid) >= sandbox.SANDBOX_UID_BASE and int(gid) == int(uid) and groups == "[]"
    assert pid == "2"  # init is PID 1 of a namespace of its own
    assert caps == "0000000000000000 0000000000000000 1 2"  # no capability, no_new_privs, seccomp filter
    assert pids == "['2']"  # hidepid: init is invisible, the host's processes do not exist here


def test_cannot_make_namespaces_or_mount(run):
    """Without the seccomp filter, exec'ing `unshare -Ur` (exec needs no fork) made the program
    root of a nested user namespace, free to mount a tmpfs no rlimit bounds."""
    contained_only(run)
    r = run("import os\nos.execv('/usr/bin/unshare', ['unshare', '-Urm', '/bin/sh', '-c', 'echo inside'])")
    assert r.status == "failed" and "inside" not in r.stdout and "Operation not permitted" in r.stderr, r
    r = run(code("""
        import ctypes, errno
        libc = ctypes.CDLL(None, use_errno=True)
        for flag in (0x10000000, 0x20000, 0x40000000):  # CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET
            assert libc.unshare(flag) == -1 and ctypes.get_errno() == errno.EPERM
        assert libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) == -1
        print("refused")
    """))
    assert r.passed and r.stdout == "refused\n", r


def test_exec_replaces_the_program_without_leaving_the_sandbox(run):
    """exec starts no process: contained, `id` runs as the sandbox's uid; the fallback refuses it."""
    r = run("import os\nos.execv('/usr/bin/id', ['id', '-u'])")
    if run.keywords["contained"]:
        assert r.passed and int(r.stdout) >= sandbox.SANDBOX_UID_BASE, r
    else:
        assert r.status == "failed" and r.stdout == "", r


# ---------------------------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("program", [
    "import subprocess\nprint(subprocess.run(['id', '-u'], capture_output=True, text=True).stdout)",
    "import os\nassert os.system('id -u') == 0",
    "import os\nos.waitpid(os.posix_spawn('/usr/bin/id', ['id', '-u'], {}), 0)",
], ids=["subprocess", "os.system", "posix_spawn"])
def test_cannot_spawn_a_subprocess(run, program):
    r = run(program)
    assert not r.passed and r.stdout.strip() == "", r


THREAD = "import threading\nt = threading.Thread(target=print, args=('thread',))\nt.start()\nt.join()"


def test_threads_are_refused_where_the_process_limit_applies(run):
    """RLIMIT_NPROC counts threads. It binds a non-root uid (the contained program, a fallback
    run by or dropped to one); a root fallback that keeps its uid is not bound (its threads
    still die with it)."""
    if not run.keywords["contained"] and os.geteuid() == 0 and sandbox._fallback_uid() is None:
        pytest.skip("a root fallback that keeps root's uid is not bound by RLIMIT_NPROC")
    r = run(THREAD)
    assert r.status == "failed" and "thread" not in r.stdout, r


def test_fork_bomb_is_stopped(run):
    t0 = time.monotonic()
    r = run("import os\nwhile True:\n    os.fork()\n", timeout=2)
    assert r.status == "failed", r  # the first fork is refused
    assert time.monotonic() - t0 < 10


def test_fork_bomb_with_processes_allowed_dies_with_the_namespace(run):
    """With RLIMIT_NPROC raised, a bomb that swallows the refusals fills its quota and spins: the
    deadline kills the whole PID namespace."""
    contained_only(run)
    r = run("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
            timeout=1.5, processes=32)
    assert r.status == "timeout", r


DAEMON = """
import os, sys, time
r, w = os.pipe()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:  # the grandchild: no parent, no session, no process group of ours
        print("daemon up", os.getpid(), flush=True)
        os.write(w, b"x")
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)  # {mark}"])
    os._exit(0)
os.read(r, 1)
{then}
"""


def test_daemonizing_grandchild_is_refused(run):
    r = run(DAEMON.format(mark=EXEC_MARK, then="time.sleep(30)"), timeout=2)
    assert r.status == "failed" and "daemon up" not in r.stdout, r


@pytest.mark.parametrize("then,status", [("time.sleep(30)", "timeout"), ("sys.exit(0)", "passed")],
                         ids=["outlives-the-deadline", "outlives-the-program"])
def test_daemon_dies_with_the_pid_namespace(run, then, status):
    """Processes allowed, the setsid + double fork daemon does start; it must not survive the
    deadline, nor a program that exits at once (machine_unchanged scans the host's /proc)."""
    contained_only(run)
    r = run(DAEMON.format(mark=EXEC_MARK, then=then), timeout=1.5, processes=8)
    assert r.status == status and "daemon up" in r.stdout, r
    assert [p for p in sandbox_processes() if EXEC_MARK in p] == []  # at once, not after a grace period


def test_a_stuck_init_is_killed_from_outside(run, monkeypatch):
    """The caller's own deadline, behind init's: init stopped (SIGSTOP) misses its deadline; the
    caller kills the namespace, and the program inside it dies too."""
    contained_only(run)
    monkeypatch.setattr(sandbox, "SETUP_GRACE_S", 1.0)
    stopped = []

    def stop_init():
        deadline = time.monotonic() + 5
        while not stopped and time.monotonic() < deadline:
            for line in sandbox_processes():
                pid, cmdline = line.split(": ", 1)
                if sandbox.INIT_MODULE in cmdline and "unshare" not in cmdline.split()[0]:
                    os.kill(int(pid), signal.SIGSTOP)
                    stopped.append(int(pid))
                    return
            time.sleep(0.005)
    th = threading.Thread(target=stop_init)
    th.start()
    t0 = time.monotonic()
    r = run(f"import time\ntime.sleep(60)  # {EXEC_MARK}", timeout=0.5)
    th.join()
    assert stopped and r.status == "timeout" and time.monotonic() - t0 < 5, r


# ---------------------------------------------------------------------------------------------
# network
# ---------------------------------------------------------------------------------------------
@pytest.fixture()
def local_server():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    stop = threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                conn.sendall(b"hello")
                conn.close()
            except OSError:
                pass
    th = threading.Thread(target=serve, daemon=True)
    th.start()
    yield srv.getsockname()[1]
    stop.set()
    th.join()
    srv.close()


CONNECT = """import socket
s = socket.create_connection(("127.0.0.1", {port}), timeout=2)
print("got", s.recv(5))
"""


def test_cannot_reach_the_network(run, local_server):
    # the same program reaches the server outside the sandbox ...
    out = subprocess.run([sys.executable, "-c", CONNECT.format(port=local_server)], capture_output=True, text=True,
                         timeout=20)
    assert "got b'hello'" in out.stdout
    # ... and fails inside it, as does a name lookup
    for program in (CONNECT.format(port=local_server), "import socket\nprint(socket.getaddrinfo('pypi.org', 443))"):
        r = run(program)
        assert r.status == "failed" and "got" not in r.stdout and "(" not in r.stdout, r


def test_raw_socket_syscalls_meet_an_empty_network_namespace(run, local_server):
    """ctypes-level calls bypass Python's audit hook; the network namespace still stops them."""
    contained_only(run)
    program = f"""import ctypes, struct
libc = ctypes.CDLL(None)
fd = libc.socket(2, 1, 0)
addr = struct.pack('!HH4s8x', 2, {local_server}, bytes([127, 0, 0, 1]))
addr = struct.pack('H', 2) + addr[2:]
rc = libc.connect(fd, addr, len(addr))
print('socket', fd, 'connect', rc)
assert fd >= 0 and rc != 0
"""
    r = run(program)
    assert r.passed, r.stderr


# ---------------------------------------------------------------------------------------------
# resources
# ---------------------------------------------------------------------------------------------
def test_allocating_10_gb_fails(run):
    r = run("x = bytearray(10 * 1024 ** 3)\nprint('allocated')", memory_mb=1024)
    assert r.status == "failed" and "MemoryError" in r.stderr and "allocated" not in r.stdout


def test_spinning_forever_times_out(run):
    t0 = time.monotonic()
    r = run("while True:\n    pass\n", timeout=1.0)
    assert r.status == "timeout" and not r.passed
    assert time.monotonic() - t0 < 6


def test_sleeping_forever_times_out(run):
    t0 = time.monotonic()
    r = run("import time\ntime.sleep(3600)", timeout=1.0)
    assert r.status == "timeout" and time.monotonic() - t0 < 6


@pytest.mark.parametrize("program", [
    "with open('big.bin', 'wb') as f:\n    for _ in range(1024):\n        f.write(bytes(2 ** 20))",
    "import sys\nfor _ in range(1024):\n    sys.stdout.buffer.write(bytes(2 ** 20))\nsys.stdout.flush()",
], ids=["file", "stdout"])
def test_writing_1_gb_fails(run, program):
    r = run(program, timeout=10, max_output=1000)
    assert r.status == "failed", r.stderr[-500:]
    assert "File too large" in r.stderr and len(r.stdout) <= 1000


def test_many_files_meet_the_work_directory_quota(run):
    contained_only(run)
    size = (sandbox.FILE_SIZE_MB - 1) * 2 ** 20
    r = run(f"for i in range({sandbox.WORK_MB // (sandbox.FILE_SIZE_MB - 1) + 2}):\n"
            f"    open(f'f{{i}}', 'wb').write(bytes({size}))", timeout=10)
    assert r.status == "failed" and "No space left" in r.stderr, r.stderr[-500:]


def test_exhausting_file_descriptors_fails(run):
    r = run("files = [open('/dev/null') for _ in range(100000)]\nprint(len(files))")
    assert r.status == "failed" and "Too many open files" in r.stderr


# ---------------------------------------------------------------------------------------------
# what must still work
# ---------------------------------------------------------------------------------------------
def test_every_canonical_humaneval_solution_passes_and_a_wrong_one_fails(run):
    problems = humaneval_problems()
    assert len(problems) == 164
    with ThreadPoolExecutor(max_workers=2) as pool:  # the sandbox is processes: threads suffice
        results = list(pool.map(lambda p: run(program_for(p, p["canonical_solution"])), problems))
    failed = {p["task_id"]: r.stderr[-300:] for p, r in zip(problems, results) if not r.passed}
    assert failed == {}
    assert all(r.contained is run.keywords["contained"] for r in results)
    wrong = run(program_for(problems[0], "    return None\n"))
    assert wrong.status == "failed" and "AssertionError" in wrong.stderr


def test_output_and_exit_status_come_back(run):
    r = run("import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(3)")
    assert (r.status, r.returncode, r.stdout, r.stderr) == ("failed", 3, "out\n", "err\n")
    assert run("exit(0)").passed  # site's exit() is there although -S skips site
    assert run("print('x' * 50000)", max_output=100).stdout == "x" * 99 + "\n"
    assert run("pass").contained is run.keywords["contained"]


# ---------------------------------------------------------------------------------------------
# choosing the mode, and the fallback without root
# ---------------------------------------------------------------------------------------------
def test_fallback_is_announced_once(monkeypatch, caplog):
    monkeypatch.setattr(sandbox, "_WARNED", set())
    with caplog.at_level(logging.WARNING, logger="trainer.sandbox"):
        assert not run_program("pass", contained=False).contained
        assert not run_program("pass", contained=False).contained
    warnings = [r.getMessage() for r in caplog.records if r.name == "trainer.sandbox"]
    assert len([w for w in warnings if "fallback mode was asked for" in w]) == 1
    assert len(warnings) == len(set(warnings)) >= 1  # root here may add one about keeping its uid


def test_environment_variable_chooses_the_mode(monkeypatch):
    monkeypatch.setenv(sandbox.ENV_VAR, "fallback")
    assert sandbox.sandbox_mode() == "fallback" and not run_program("pass").contained
    monkeypatch.setenv(sandbox.ENV_VAR, "sometimes")
    with pytest.raises(ValueError):
        sandbox.sandbox_mode()


NON_ROOT_CHILD = r"""
import json, logging, os, sys
logging.basicConfig(format="LOG %(levelname)s %(name)s: %(message)s")
from trainer.sandbox import SandboxUnavailable, containment_unavailable, run_program
out = {"euid": os.geteuid(), "reason": containment_unavailable()}
for name, code in json.loads(sys.argv[1]).items():
    r = run_program(code, timeout=1.5)
    out[name] = [r.status, r.contained]
try:
    run_program("pass", contained=True)
    out["required"] = "ran"
except SandboxUnavailable:
    out["required"] = "refused"
print(json.dumps(out))
"""


@needs_root
def test_fallback_as_a_real_non_root_user(tmp_path):
    """The fallback as it runs where there is no root: this process in a user namespace as uid
    1000, without any capability on the host. (Mapped onto host uid 0, so that it can still read
    the interpreter under a 0700 /root; for the same reason the kernel exempts it from
    RLIMIT_NPROC, so threads are not among the programs here: the contained tests show the
    limit on a real unprivileged uid.)"""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    programs = {
        "ok": "import math\nassert math.comb(5, 2) == 10",
        "write": f"open({str(tmp_path / 'written.txt')!r}, 'w').write('x')",
        "delete": f"import os\nos.remove({str(victim)!r})",
        "read": f"print(open({str(REPO / 'README.md')!r}).read())",
        "subprocess": "import subprocess\nsubprocess.run(['id', '-u'])",
        "fork": "import os\nos.fork()",
        "socket": "import socket\nsocket.getaddrinfo('pypi.org', 443)",
        "memory": "x = bytearray(10 * 1024 ** 3)",
        "spin": "while True:\n    pass",
        "fds": "f = [open('/dev/null') for _ in range(100000)]",
    }
    done = subprocess.run(["unshare", "--user", "--map-user=1000", "--map-group=1000", sys.executable, "-c",
                           NON_ROOT_CHILD, json.dumps(programs)], capture_output=True, text=True, timeout=120,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["euid"] == 1000 and "not running as root" in out["reason"]
    assert out.pop("ok") == ["passed", False]
    assert out.pop("spin") == ["timeout", False]
    for name in programs.keys() - {"ok", "spin"}:
        assert out[name] == ["failed", False], name
    assert out["required"] == "refused"
    warnings = [line for line in done.stderr.splitlines() if line.startswith("LOG WARNING trainer.sandbox")]
    assert len(warnings) == 1 and "not available" in warnings[0]
    assert victim.read_text() == "keep me" and not (tmp_path / "written.txt").exists()
