"""Run untrusted generated programs (HumanEval candidates) so that they cannot touch the machine.

`codemill eval-model` executes code that a model wrote; the program must not be able to read
the project or the lake, write or delete anything outside its own scratch directory, start
processes that outlive it, reach the network, or exhaust the machine. Python-level hooks
cannot promise that (a program can always find another way in), so the containment comes
from the kernel. `run_program(code, timeout=..., memory_mb=...)` is the one entry point.

Contained mode (root with util-linux `unshare`: this machine and CI). `unshare --pid --fork
--kill-child --mount --net --ipc --uts` starts this file as PID 1 ("init") of fresh namespaces;
`_contain` below is the whole recipe, in order:

1. a new root on a small tmpfs, holding only /usr, /bin, /lib* and the interpreter's prefix,
   bound read-only, nosuid, nodev, with the interpreter's site-packages covered by an empty
   tmpfs; /dev with null, zero, full, random and urandom; /proc of the new PID namespace; and
   the work directory, a private tmpfs of WORK_MB. Nothing else exists there: not the
   project, the lake, /etc, /home, /root's files, /tmp or /work;
2. pivot_root into it, detach the old root from the namespace, remount / read-only;
3. fork the program: rlimits (processes, CPU, address space, file size, open files, core),
   no_new_privs, no supplementary groups, a dedicated uid/gid (not root, not shared with any
   account), a seccomp filter refusing namespaces, mounts and a few kernel surfaces
   (SECCOMP_DENIED), then exec `python -I -S -B` on the program;
4. wait for it until the deadline. Whether it exits or the deadline passes, init then
   SIGKILLs every other process of the PID namespace and reaps them (a grandchild that called
   setsid and double-forked is one of them: orphans are init's), reports, and exits. The
   network namespace has a loopback that is down and nothing else.

If init itself misses its deadline, the caller kills it, and the kernel takes the namespace
with it (killing PID 1 of a PID namespace kills every process in it).

Fallback mode, where that is not possible (not root, no `unshare`, namespaces refused), or
when forced (`contained=False`, or CODEMILL_SANDBOX=fallback): the same rlimits, a new
session killed as a group at the deadline, a caller's root dropped to the sandbox uid where
that uid can still read the interpreter, and a Python audit hook that refuses sockets,
process creation, ctypes, rlimit changes, and file access outside the work directory and
the interpreter. That stops accidents, not a determined
program, and a warning says so once per process. docs/sandbox.md has the threat model, the
tests behind every claim and the measured cost.

The file has two halves: first what runs inside the sandbox as init (the standard library's
light modules only, so that it starts in a few milliseconds), then the caller's side.
"""
from __future__ import annotations

import os
import sys

# Limits every program runs under (run_program's arguments set time, memory and processes).
FILE_SIZE_MB = 16      # RLIMIT_FSIZE: largest file it may write; stdout and stderr are files too
OPEN_FILES = 64        # RLIMIT_NOFILE
WORK_MB = 64           # size of the work directory's tmpfs (contained mode)
DEVICES = ("null", "zero", "full", "random", "urandom")

# ---------------------------------------------------------------------------------------------
# Inside the sandbox: init, PID 1 of the fresh namespaces, root until it forks the program
# ---------------------------------------------------------------------------------------------
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
READ_ONLY = MS_RDONLY | MS_NOSUID | MS_NODEV
# Syscalls the program is refused (EPERM) by a seccomp filter, x86_64 numbers. Without it, a
# program may exec `unshare -Ur` (exec needs no fork), be root of a nested user namespace and
# mount a tmpfs that no rlimit bounds: memory for the taking, and the kernel surface that
# unprivileged user namespaces open. unshare, setns, mount and friends, the new mount API,
# keyrings, bpf, ptrace, perf, userfaultfd, io_uring; clone with a CLONE_NEW* flag; clone3
# answers ENOSYS, so that glibc falls back to clone, whose flags the filter can read.
SECCOMP_DENIED = {"x86_64": (0xC000003E, (272, 308, 165, 166, 155, 161, 250, 248, 249, 321, 323, 298, 101,
                                          428, 429, 430, 431, 432, 433, 442, 425, 426, 427))}
SECCOMP_CLONE = {"x86_64": (56, 435)}  # clone, clone3
CLONE_NEW_FLAGS = 0x7E020080  # NEWNS NEWCGROUP NEWUTS NEWIPC NEWUSER NEWPID NEWNET NEWTIME


def _contain(spec: dict) -> None:
    """The containment, start to end (see the module docstring for why each step is there)."""
    status_fd = spec["status_fd"]
    os.set_inheritable(status_fd, False)  # the program must not be able to forge the report
    os.umask(0o022)
    try:
        with open(spec["program"], "rb") as f:
            source = f.read()
        _build_view(spec["root"], spec["system_paths"], spec["hidden"])
        _make_work_dir(spec["root"] + spec["work"], spec["uid"], source)
        _enter_view(spec["root"])
    except OSError as e:
        _report(status_fd, "error", f"building the sandbox's filesystem view: {e}")
        return
    child = os.fork()
    if child == 0:
        _exec_program(spec)  # never returns
    outcome = _await(child, spec["timeout"])
    _kill_the_rest()  # before the report: once the caller has it, nothing of the program is left
    _report(status_fd, *outcome)
    # returning ends init, and with it the namespaces


def _build_view(root: str, system_paths: list[str], hidden: list[str]) -> None:
    """A root holding only what the interpreter needs, read-only; devices; /proc."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here propagates to the host
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=2048,mode=755")
    for path in system_paths:
        if os.path.islink(path):  # /bin -> usr/bin on merged-/usr systems
            _make_parents(root + path)
            os.symlink(os.readlink(path), root + path)
        elif os.path.isdir(path):
            _bind_read_only(path, root + path)
    for path in hidden:  # the interpreter's site-packages: the program gets the stdlib only
        if os.path.isdir(root + path):
            _mount("tmpfs", root + path, "tmpfs", READ_ONLY | MS_NOEXEC, "size=4k,nr_inodes=16,mode=755")
    os.makedirs(root + "/dev")
    for name in DEVICES:
        open(f"{root}/dev/{name}", "w").close()
        _mount(f"/dev/{name}", f"{root}/dev/{name}", None, MS_BIND)
        _mount(None, f"{root}/dev/{name}", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC)
    os.symlink("/proc/self/fd", root + "/dev/fd")
    os.makedirs(root + "/proc")
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")


def _make_work_dir(path: str, uid: int, source: bytes) -> None:
    """The only writable place: a private tmpfs owned by the program's uid, bounded in size."""
    _make_parents(path)
    os.mkdir(path)
    _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={WORK_MB}m,nr_inodes=4096,mode=700,uid={uid},gid={uid}")
    with open(os.path.join(path, "program.py"), "wb") as f:
        f.write(source)


def _enter_view(root: str) -> None:
    """pivot_root into the view and drop the old root from this namespace altogether."""
    import ctypes
    os.chdir(root)
    number = SYS_PIVOT_ROOT.get(os.uname().machine)
    if number is None:  # an architecture without a table entry: chroot (escapable only by root)
        os.chroot(".")
    else:
        _libc_call("syscall", ctypes.c_long(number), b".", b".")
        _libc_call("umount2", b".", MNT_DETACH)
    os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | READ_ONLY)


def _exec_program(spec: dict) -> None:
    """In the forked child: limits, no privileges, exec the interpreter. Never returns."""
    import resource
    try:
        for name, limits in spec["rlimits"].items():
            resource.setrlimit(getattr(resource, name), tuple(limits))
        _libc_call("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # setuid binaries stay unprivileged
        uid = spec["uid"]
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)  # all capabilities go with uid 0
        os.chdir(spec["work"])
        _install_seccomp_filter()
        os.execve(spec["argv"][0], spec["argv"], spec["env"])
    except BaseException as e:  # noqa: BLE001 - whatever went wrong must reach the caller
        _report(spec["status_fd"], "error", f"starting the program: {e!r}")
    finally:
        os._exit(127)


def _install_seccomp_filter() -> None:
    """The classic-BPF filter of SECCOMP_DENIED (no-op on an architecture without a table: the
    caller warns). Other architectures and the x32 ABI are killed outright."""
    import ctypes
    machine = os.uname().machine
    if machine not in SECCOMP_DENIED:
        return
    arch, denied = SECCOMP_DENIED[machine]
    clone, clone3 = SECCOMP_CLONE[machine]
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ/JGE/JSET|K, BPF_RET|K
    allow, eperm, enosys, kill = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38, 0x80000000
    # (code, jump-if-true label, jump-if-false label, k), and (label, ret, action) targets
    prog = [(ld, None, None, 4), (jeq, None, "kill", arch),                  # seccomp_data.arch
            (ld, None, None, 0), (jge, "kill", None, 0x40000000),             # .nr; no x32 ABI
            *[(jeq, "eperm", None, nr) for nr in denied],
            (jeq, "enosys", None, clone3), (jeq, None, "allow", clone),
            (ld, None, None, 16), (jset, "eperm", "allow", CLONE_NEW_FLAGS),  # clone's flags (args[0])
            ("allow", ret, allow), ("eperm", ret, eperm), ("enosys", ret, enosys), ("kill", ret, kill)]
    labels = {ins[0]: i for i, ins in enumerate(prog) if isinstance(ins[0], str)}

    class SockFilter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]

    def offset(i, label):
        return 0 if label is None else labels[label] - i - 1
    code = [SockFilter(ins[1], 0, 0, ins[2]) if isinstance(ins[0], str)
            else SockFilter(ins[0], offset(i, ins[1]), offset(i, ins[2]), ins[3]) for i, ins in enumerate(prog)]
    fprog = SockFprog(len(code), (SockFilter * len(code))(*code))
    _libc_call("prctl", PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0)


def _await(child: int, timeout: float) -> tuple[str, str]:
    """Wait for the program until the deadline: ("exit", returncode) or ("timeout", "")."""
    import select
    pidfd = os.pidfd_open(child)
    if not select.select([pidfd], [], [], timeout)[0]:
        return "timeout", ""
    _, status = os.waitpid(child, 0)
    return "exit", str(os.waitstatus_to_exitcode(status))


def _kill_the_rest() -> None:
    """SIGKILL every process of the PID namespace but init, and reap them all. They are init's
    children or orphans reparented to it (setsid and double forks included), so when waitpid
    has no child left, nothing of the program runs anymore. kill(-1) is repeated until then: a
    fork racing the first one is caught by the next."""
    import signal
    while True:
        try:
            os.kill(-1, signal.SIGKILL)  # from PID 1: every other process of this namespace
        except ProcessLookupError:
            pass
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _report(fd: int, kind: str, detail: str) -> None:
    """One line to the caller on the status pipe: `exit N`, `timeout`, or `error MESSAGE`."""
    os.write(fd, f"{kind} {detail}".replace("\n", " ").encode() + b"\n")


_LIBC = None


def _libc_call(name: str, *args) -> int:
    """Call a libc function (mount, umount2, syscall, prctl) and turn -1 into OSError."""
    global _LIBC
    import ctypes
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)
    rc = getattr(_LIBC, name)(*args)
    if rc == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}{args!r}: {os.strerror(err)}")
    return rc


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    import ctypes

    def enc(s):
        return None if s is None else s.encode()
    _libc_call("mount", enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data))


def _bind_read_only(path: str, target: str) -> None:
    """Bind `path` (not its submounts) at `target`: read-only, no setuid, no device files."""
    _make_parents(target)
    os.makedirs(target, exist_ok=True)
    _mount(path, target, None, MS_BIND)
    _mount(None, target, None, MS_REMOUNT | MS_BIND | READ_ONLY)


def _make_parents(path: str) -> None:
    """Create the missing directories leading to `path`, traverse-only (0711): the program can
    reach /root/.pyenv/... or its work directory but cannot list /root or /tmp."""
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        _make_parents(parent)
        os.mkdir(parent, 0o711)


# How _run_contained starts init: `python -I -S -B -c INIT_BOOTSTRAP CODE SPEC` runs this
# file's bytecode, compiled once by the caller and written beside each run (CODE), as a module
# of its own name: init neither recompiles the file (~15 ms a run; no __pycache__ where
# PYTHONDONTWRITEBYTECODE is set) nor runs the caller's half below.
INIT_MODULE = "__codemill_sandbox_init__"
INIT_BOOTSTRAP = ("import marshal, sys; "
                  "exec(marshal.loads(open(sys.argv[1], 'rb').read()), {'__name__': %r})" % INIT_MODULE)

if __name__ == INIT_MODULE:
    import marshal  # built in: json would double init's start-up time
    _contain(marshal.loads(bytes.fromhex(sys.argv[2])))
    os._exit(0)

# ---------------------------------------------------------------------------------------------
# The caller's side (imports the init above does not pay for)
# ---------------------------------------------------------------------------------------------
import atexit  # noqa: E402
import logging  # noqa: E402
import marshal  # noqa: E402
import math  # noqa: E402
import secrets  # noqa: E402
import select  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sysconfig  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

log = logging.getLogger(__name__)

# Sockets and name lookups are refused by an audit hook in both modes (the network namespace
# is the real barrier in contained mode). The program path arrives as argv[1].
_PRELUDE = r'''
import sys
def _codemill_no_network(event, args):
    if event.startswith("socket.") or event in ("urllib.Request", "http.client.connect"):
        raise PermissionError("network access is disabled in the codemill sandbox (" + event + ")")
sys.addaudithook(_codemill_no_network)
del _codemill_no_network
import builtins
builtins.exit = builtins.quit = sys.exit  # `site` (skipped by -S) would define them
__codemill_path = sys.argv[1]
with open(__codemill_path) as __codemill_f:
    __codemill_src = __codemill_f.read()
del __codemill_f
exec(compile(__codemill_src, "program.py", "exec"), {"__name__": "__main__"})
'''

# The fallback's guard, run before the prelude when the kernel's containment is not there.
_FALLBACK_GUARD = r'''
import os, resource, sys
def _codemill_guard(cfg):
    for name, limits in cfg["rlimits"].items():
        resource.setrlimit(getattr(resource, name), tuple(limits))
    if cfg["uid"] is not None:  # root without namespaces: dropped where the interpreter allows it
        uid = cfg["uid"]
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    work = os.path.realpath(cfg["work"])
    readable = tuple(os.path.realpath(p) for p in cfg["readable"]) + (work,)
    writable = (work, "/dev/null")
    denied = frozenset(("os.system", "os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn",
                        "subprocess.Popen", "os.kill", "os.killpg",
                        "resource.setrlimit", "resource.prlimit", "ctypes.dlopen", "ctypes.dlsym"))
    denied_modules = frozenset(("ctypes", "_ctypes", "_posixsubprocess", "_xxsubinterpreters"))
    reads = {"os.listdir": (0,), "os.scandir": (0,)}
    writes = {"os.remove": (0,), "os.rmdir": (0,), "os.rename": (0, 1), "os.replace": (0, 1), "os.mkdir": (0,),
              "os.chmod": (0,), "os.chown": (0,), "os.link": (0, 1), "os.symlink": (1,), "os.truncate": (0,),
              "os.utime": (0,), "shutil.rmtree": (0,), "shutil.copyfile": (1,), "shutil.move": (0, 1)}
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    realpath, fsdecode = os.path.realpath, os.fsdecode

    def inside(path, roots):
        if isinstance(path, int) or path is None:  # a descriptor it already holds / the cwd
            return True
        p = realpath(fsdecode(path))
        return any(p == r or p.startswith(r.rstrip("/") + "/") for r in roots)

    def refuse(event, detail=""):
        raise PermissionError(f"{event}{detail} is not allowed in the codemill sandbox (fallback mode)")

    def guard(event, args):
        if event in denied or (event == "import" and args[0] in denied_modules):
            refuse(event, f" {args[0]!r}" if event == "import" else "")
        if event == "open":
            path, mode, flags = args
            write = bool((flags or 0) & write_flags) or (isinstance(mode, str) and any(c in mode for c in "wax+"))
            if not inside(path, writable if write else readable):
                refuse("open", f" {path!r}")
        elif event in writes or event in reads:
            roots = writable if event in writes else readable
            for i in (writes.get(event) or reads[event]):
                if len(args) > i and not inside(args[i], roots):
                    refuse(event, f" {args[i]!r}")
    sys.addaudithook(guard)
_codemill_guard(__GUARD_CONFIG__)
del _codemill_guard
'''


# A dedicated uid per run, far above accounts and container subuid ranges: RLIMIT_NPROC counts
# per uid, so a run's process limit is not shared with other runs or with `nobody`'s daemons.
SANDBOX_UID_BASE = 2_000_000_000
SANDBOX_UID_SPAN = 1 << 24
SETUP_GRACE_S = 10.0   # beyond the program's timeout, for the sandbox's own start on a busy machine
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ENV_VAR = "CODEMILL_SANDBOX"  # auto (default) | contained | fallback


@dataclass
class SandboxResult:
    status: str           # passed | failed | timeout
    returncode: int | None
    stdout: str
    stderr: str
    contained: bool = True  # False: ran under the fallback (rlimits + audit hook only)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the program): results would be meaningless."""


class SandboxUnavailable(SandboxError):
    """Containment was required but this machine cannot provide it."""


def run_program(code: str, timeout: float = 3.0, memory_mb: int = 1024, *, processes: int = 1,
                contained: bool | None = None, max_output: int = 20000) -> SandboxResult:
    """Execute `code` as a Python program in the sandbox; passed = exit status 0 within the limits.

    `processes` is RLIMIT_NPROC for the program's uid (1: it cannot fork or start threads).
    `contained`: None = the kernel's containment where available, else the fallback (warned
    once); True = containment or SandboxUnavailable; False = the fallback. CODEMILL_SANDBOX
    (auto | contained | fallback) sets the default."""
    limits = _limits(timeout, memory_mb, processes)
    if sandbox_mode(contained) == "contained":
        return _run_contained(code, timeout, limits, max_output)
    return _run_fallback(code, timeout, limits, max_output)


def sandbox_mode(contained: bool | None = None) -> str:
    """'contained' or 'fallback': what run_program(contained=...) would use here."""
    if contained is None:
        contained = {"": None, "auto": None, "contained": True, "fallback": False}.get(
            os.environ.get(ENV_VAR, "").strip().lower(), "bad")
        if contained == "bad":
            raise ValueError(f"{ENV_VAR}={os.environ[ENV_VAR]!r}: expected auto, contained or fallback")
    if contained is False:
        _warn_once("forced", "sandbox: fallback mode was asked for: generated programs run with rlimits and "
                             "a Python audit hook only, without the kernel's containment")
        return "fallback"
    reason = containment_unavailable()
    if reason is None:
        return "contained"
    if contained:
        raise SandboxUnavailable(f"sandbox containment is not available here: {reason}")
    _warn_once("unavailable", f"sandbox: the kernel's containment is not available ({reason}); generated "
                              "programs run with rlimits and a Python audit hook only, which stop accidents "
                              "but not a determined program")
    return "fallback"


_PROBE: list[str | None] = []


def containment_available() -> bool:
    return containment_unavailable() is None


def containment_unavailable() -> str | None:
    """Why the contained mode cannot run here, or None. Probed once per process by running a
    program contained (the only proof that the namespaces, mounts and uid switch all work)."""
    if not _PROBE:
        _PROBE.append(_probe())
    return _PROBE[0]


def _probe() -> str | None:
    if os.geteuid() != 0:
        return "not running as root (namespaces, mounts and the uid switch need it)"
    if not shutil.which("unshare"):
        return "util-linux `unshare` not found"
    seccomp = os.uname().machine in SECCOMP_DENIED
    if not seccomp:
        _warn_once("seccomp", f"sandbox: no seccomp table for {os.uname().machine}: contained programs are not "
                              "refused nested namespaces and mounts")
    probe = "import os\nassert os.getuid() != 0\n"
    if seccomp:
        probe += "assert open('/proc/self/status').read().split('Seccomp:')[1].split()[0] == '2'\n"
    try:
        result = _run_contained(probe, 10.0, _limits(10.0, 512, 1), 2000)
    except SandboxError as e:
        return str(e)
    if not result.passed:
        return f"a trivial program did not pass contained ({result.status}: {result.stderr.strip()[-300:]})"
    return None


_WARNED: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _WARNED:
        _WARNED.add(key)
        log.warning(message)


def _limits(timeout: float, memory_mb: int, processes: int) -> dict[str, list[int]]:
    """rlimit name -> [soft, hard]. CPU: a busy loop dies by itself even if nobody waits for it."""
    mem, fsize = int(memory_mb) * 2 ** 20, FILE_SIZE_MB * 2 ** 20
    cpu = max(1, math.ceil(timeout)) + 1
    return {"RLIMIT_NPROC": [processes, processes], "RLIMIT_CPU": [cpu, cpu + 1], "RLIMIT_AS": [mem, mem],
            "RLIMIT_FSIZE": [fsize, fsize], "RLIMIT_NOFILE": [OPEN_FILES, OPEN_FILES], "RLIMIT_CORE": [0, 0]}


def base_python() -> str:
    """The interpreter the programs run on: the venv's base (the programs need the stdlib only,
    and a venv under the project must not have to be visible to them)."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def _interpreter_paths() -> tuple[list[str], list[str]]:
    """(paths to show read-only, paths to cover): the system directories and the interpreter's
    prefix; the interpreter's site-packages covered."""
    shown = [p for p in SYSTEM_PATHS if os.path.lexists(p)]
    for prefix in (sys.base_prefix, sys.base_exec_prefix, os.path.dirname(os.path.dirname(base_python()))):
        prefix = os.path.realpath(prefix)
        if not any(prefix == p or prefix.startswith(p + "/") for p in shown):
            shown.append(prefix)
    base_vars = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
    hidden = sorted({os.path.realpath(sysconfig.get_path(k, vars=base_vars)) for k in ("purelib", "platlib")})
    return shown, hidden


class _Workspace:
    """Host-side scratch for one run: program.py under work/, stdout and stderr files beside it
    (files, so that RLIMIT_FSIZE bounds them and the caller never holds a gigabyte of output)."""

    def __init__(self, code: str, uid: int | None):
        self._tmp = tempfile.TemporaryDirectory(prefix=f"codemill-sandbox-{os.getpid()}-")
        self.dir = self._tmp.name
        os.chmod(self.dir, 0o711)
        self.work = os.path.join(self.dir, "work")
        os.mkdir(self.work, 0o700)
        self.program = os.path.join(self.work, "program.py")
        with open(self.program, "w") as f:
            f.write(code)
        if uid is not None and os.geteuid() == 0:
            os.chown(self.work, uid, uid)
        self.stdout = open(os.path.join(self.dir, "stdout"), "w+b")
        self.stderr = open(os.path.join(self.dir, "stderr"), "w+b")

    def output(self, max_chars: int) -> tuple[str, str]:
        return _tail(self.stdout, max_chars), _tail(self.stderr, max_chars)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stdout.close()
        self.stderr.close()
        self._tmp.cleanup()


def _tail(f, max_chars: int) -> str:
    f.seek(0, os.SEEK_END)
    size = f.tell()
    f.seek(max(0, size - 4 * max_chars))
    return f.read().decode("utf-8", errors="replace")[-max_chars:]


def _status(returncode: int | None) -> str:
    if returncode is None or returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return "timeout"  # the deadline, or RLIMIT_CPU (SIGXCPU at the soft limit, SIGKILL at the hard)
    return "passed" if returncode == 0 else "failed"


def _program_env(work: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": work, "TMPDIR": work, "LANG": "C.UTF-8"}


def _run_contained(code: str, timeout: float, limits: dict, max_output: int) -> SandboxResult:
    uid = SANDBOX_UID_BASE + secrets.randbelow(SANDBOX_UID_SPAN)
    python = base_python()
    shown, hidden = _interpreter_paths()
    with _Workspace(code, uid) as ws:
        read_end, write_end = os.pipe()
        spec = {"status_fd": write_end, "root": os.path.join(ws.dir, "root"), "program": ws.program,
                "work": ws.work, "uid": uid, "timeout": timeout, "rlimits": limits,
                "system_paths": shown, "hidden": hidden, "env": _program_env(ws.work),
                "argv": [python, "-I", "-S", "-B", "-c", _PRELUDE, ws.program]}
        os.mkdir(spec["root"], 0o700)
        cmd = [shutil.which("unshare") or "unshare", "--pid", "--fork", "--kill-child", "--mount", "--net",
               "--ipc", "--uts", "--propagation", "private", "--",
               python, "-I", "-S", "-B", "-c", INIT_BOOTSTRAP, _init_code_file(ws.dir), marshal.dumps(spec).hex()]
        _reap_finished()
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=ws.stdout, stderr=ws.stderr,
                                    pass_fds=(write_end,), cwd="/", env={"PATH": "/usr/bin:/bin"})
        finally:
            os.close(write_end)
        try:
            records = _read_reports(read_end, time.monotonic() + timeout + SETUP_GRACE_S)
        finally:
            os.close(read_end)
        if records is None:  # init did not keep its own deadline: kill the namespace from here
            _kill_namespace(proc)
            records = []
        else:
            _reap_later(proc)  # init and unshare exit on their own (unmounting takes ~20 ms)
        out, err = ws.output(max_output)
    errors = [detail for kind, detail in records if kind == "error"]
    if errors:
        raise SandboxError(f"{'; '.join(errors)} (stderr: {err.strip()[-500:]})")
    kind, detail = records[-1] if records else ("timeout", "")
    returncode = int(detail) if kind == "exit" else None
    return SandboxResult(_status(returncode), returncode, out, err, contained=True)


_INIT_CODE: list[bytes] = []


def _init_code_file(directory: str) -> str:
    """This file compiled (once per process) and marshalled into `directory`, for INIT_BOOTSTRAP."""
    if not _INIT_CODE:
        with open(__file__, encoding="utf-8") as f:
            _INIT_CODE.append(marshal.dumps(compile(f.read(), __file__, "exec")))
    path = os.path.join(directory, "init.marshal")
    with open(path, "wb") as f:
        f.write(_INIT_CODE[0])
    return path


def _read_reports(fd: int, deadline: float) -> list[tuple[str, str]] | None:
    """(kind, detail) lines from init up to its final word (exit / timeout), or up to its end
    if it died without one; None if the deadline passed first."""
    data = b""
    while True:
        complete = data.split(b"\n")[:-1]
        records = [(kind, detail) for kind, _, detail in (line.decode(errors="replace").partition(" ")
                                                           for line in complete)]
        if any(kind in ("exit", "timeout") for kind, _ in records):
            return records
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 65536)
        if not chunk:
            return records
        data += chunk


# Finished runs whose init and unshare are still exiting: reaped at the next run or at exit.
_REAPING: list[subprocess.Popen] = []
_REAPING_LOCK = threading.Lock()  # run_program may be called from several threads


def _reap_later(proc: subprocess.Popen) -> None:
    with _REAPING_LOCK:
        _REAPING.append(proc)


def _reap_finished() -> None:
    with _REAPING_LOCK:
        _REAPING[:] = [p for p in _REAPING if p.poll() is None]


@atexit.register
def _reap_all() -> None:
    with _REAPING_LOCK:
        for p in _REAPING:
            p.wait()


def _kill_namespace(proc: subprocess.Popen) -> None:
    """SIGKILL init (PID 1 of the namespace: the kernel takes everything with it) and unshare,
    then wait until init is gone."""
    try:
        with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
            inits = [int(p) for p in f.read().split()]
    except OSError:
        inits = []
    for pid in inits + [proc.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()
    deadline = time.monotonic() + 5
    while inits and time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in inits):
        time.sleep(0.01)


def _fallback_uid() -> int | None:
    """The uid a fallback program drops to: a sandbox uid when started as root, if that uid can
    still read the interpreter (a pyenv under a 0700 /root cannot be); else None (unchanged)."""
    if os.geteuid() != 0:
        return None
    stdlib = sysconfig.get_path("stdlib", vars={"installed_base": sys.base_prefix})
    if all(_readable_by_others(p) for p in (base_python(), stdlib)):
        return SANDBOX_UID_BASE + secrets.randbelow(SANDBOX_UID_SPAN)
    _warn_once("fallback-root", f"sandbox: the fallback keeps root's uid: the interpreter ({base_python()}) is "
                                "not readable by other users, so programs cannot be dropped to an unprivileged "
                                "one; only the audit hook stands between them and the machine")
    return None


def _readable_by_others(path: str) -> bool:
    """Whether a uid that is neither owner nor in the group can read `path` (mode bits only)."""
    path = os.path.realpath(path)
    return bool(os.stat(path).st_mode & 0o004) and all(os.stat(p).st_mode & 0o001 for p in _ancestors(path))


def _ancestors(path: str):
    while path != os.path.dirname(path):
        path = os.path.dirname(path)
        yield path


def _run_fallback(code: str, timeout: float, limits: dict, max_output: int) -> SandboxResult:
    uid = _fallback_uid()
    python = base_python()
    with _Workspace(code, uid) as ws:
        readable = [sys.base_prefix, sys.base_exec_prefix, "/usr", "/lib", "/lib64"] + \
            [f"/dev/{d}" for d in DEVICES]
        config = {"rlimits": limits, "uid": uid, "work": ws.work, "readable": readable}
        prelude = _FALLBACK_GUARD.replace("__GUARD_CONFIG__", repr(config)) + _PRELUDE
        proc = subprocess.Popen([python, "-I", "-S", "-B", "-c", prelude, ws.program], cwd=ws.work,
                                env=_program_env(ws.work), stdin=subprocess.DEVNULL, stdout=ws.stdout,
                                stderr=ws.stderr, start_new_session=True)
        try:
            returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            returncode = None
        out, err = ws.output(max_output)
    return SandboxResult(_status(returncode), returncode, out, err, contained=False)
