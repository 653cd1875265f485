"""Run untrusted generated programs: separate process, time limit, memory limit, no network,
fresh temporary directory.

- time: wall-clock timeout; the whole process group is killed (SIGKILL) when it expires, and
  RLIMIT_CPU stops a busy loop even if the parent dies;
- memory: RLIMIT_AS (address space) and RLIMIT_FSIZE (bytes written) set before exec;
- network: when running as root with `unshare` available the child gets a fresh network
  namespace (no interfaces but a down loopback); in every case a Python audit hook installed
  before the program runs refuses socket creation, connect, bind and name lookups;
- files: the program runs in a new temporary directory (cwd and TMPDIR), removed afterwards,
  with `python -I` (isolated: no user site, no PYTHON* environment variables).
"""
from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass

# Runs inside the child before the program. Audit hooks cannot be removed once added.
_PRELUDE = r'''
import sys
def _codemill_no_network(event, args):
    if event.startswith("socket.") or event in ("urllib.Request", "http.client.connect"):
        raise PermissionError("network access is disabled in the codemill sandbox (" + event + ")")
sys.addaudithook(_codemill_no_network)
del _codemill_no_network
__codemill_src = open("program.py").read()
exec(compile(__codemill_src, "program.py", "exec"), {"__name__": "__main__"})
'''


@dataclass
class SandboxResult:
    status: str           # passed | failed | timeout
    returncode: int | None
    stdout: str
    stderr: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def _netns_available() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


_NETNS: bool | None = None


def netns_available() -> bool:
    global _NETNS
    if _NETNS is None:
        _NETNS = _netns_available()
    return _NETNS


def run_program(code: str, timeout: float = 3.0, memory_mb: int = 1024, use_netns: bool | None = None,
                max_output: int = 20000) -> SandboxResult:
    """Execute `code` as a Python program in the sandbox; passed = exit status 0 within the limits."""
    if use_netns is None:
        use_netns = netns_available()
    mem = int(memory_mb) * 1024 * 1024
    cpu = max(1, int(timeout) + 1)

    def limit():  # in the child, before exec
        os.setsid()
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024 * 1024, 16 * 1024 * 1024))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    with tempfile.TemporaryDirectory(prefix="codemill-sandbox-") as work:
        with open(os.path.join(work, "program.py"), "w") as f:
            f.write(code)
        cmd = [sys.executable, "-I", "-c", _PRELUDE]
        if use_netns:
            cmd = ["unshare", "-n", "--"] + cmd
        env = {"PATH": "/usr/bin:/bin", "TMPDIR": work, "HOME": work, "LANG": "C.UTF-8"}
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, preexec_fn=limit, text=True, errors="replace")
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, err = proc.communicate()
            return SandboxResult("timeout", None, out[-max_output:], err[-max_output:])
        status = "passed" if proc.returncode == 0 else "failed"
        if proc.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
            status = "timeout"
        return SandboxResult(status, proc.returncode, out[-max_output:], err[-max_output:])
