"""pass@k estimator (FACTS §11.1), HumanEval plumbing, and the execution sandbox."""
from __future__ import annotations

import socket
import threading
import time
from math import comb

import pytest

from trainer.evaluate import humaneval_problems, mean_pass_at_k, pass_at_k, program_for, truncate_completion
from trainer.sandbox import netns_available, run_program


def test_pass_at_k_hand_computed():
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 10, 5) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    # 1 - C(7,2)/C(10,2) = 1 - 21/45
    assert pass_at_k(10, 3, 2) == pytest.approx(1 - 21 / 45)
    # n - c < k -> 1
    assert pass_at_k(5, 3, 3) == 1.0
    assert pass_at_k(200, 13, 10) == pytest.approx(1 - comb(187, 10) / comb(200, 10))
    assert pass_at_k(200, 13, 100) == pytest.approx(1 - comb(187, 100) / comb(200, 100))
    assert mean_pass_at_k([(4, 1), (4, 0), (4, 4)], 1) == pytest.approx((0.25 + 0 + 1) / 3)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 5)


def test_humaneval_canonical_solutions_pass_and_wrong_ones_fail():
    problems = humaneval_problems(limit=3)
    assert len(problems) == 3 and problems[0]["task_id"] == "HumanEval/0"
    for p in problems:
        assert run_program(program_for(p, p["canonical_solution"])).passed
        assert not run_program(program_for(p, "    return None\n")).passed


def test_truncate_at_stop_sequences():
    assert truncate_completion("    return 1\n\ndef g():\n    pass") == "    return 1\n"
    assert truncate_completion("    x = 1\n    return x\nprint(3)") == "    x = 1\n    return x"
    assert truncate_completion("    return 2") == "    return 2"


def test_sandbox_kills_an_infinite_loop():
    t0 = time.monotonic()
    r = run_program("while True:\n    pass\n", timeout=1.0)
    assert r.status == "timeout" and not r.passed
    assert time.monotonic() - t0 < 10


def test_sandbox_memory_limit():
    r = run_program("x = bytearray(2 * 1024 ** 3)\nprint('allocated')", memory_mb=512)
    assert r.status == "failed" and "MemoryError" in r.stderr and "allocated" not in r.stdout


def test_sandbox_runs_in_a_fresh_temp_dir():
    r = run_program("import os\nprint(os.getcwd())\nopen('f.txt', 'w').write('x')")
    assert r.passed and "codemill-sandbox-" in r.stdout
    import os
    assert not os.path.exists(r.stdout.strip())  # removed afterwards


@pytest.fixture()
def local_server():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    port = srv.getsockname()[1]
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
    yield port
    stop.set()
    th.join()
    srv.close()


CONNECT = """import socket
s = socket.create_connection(("127.0.0.1", {port}), timeout=2)
print("got", s.recv(5))
"""


@pytest.mark.parametrize("use_netns", [False, True])
def test_sandbox_blocks_network(local_server, use_netns):
    if use_netns and not netns_available():
        pytest.skip("no `unshare -n` here (needs root)")
    # the same program reaches the server outside the sandbox ...
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", CONNECT.format(port=local_server)], capture_output=True, text=True,
                         timeout=20)
    assert "got b'hello'" in out.stdout
    # ... and fails inside it (audit hook, or the empty network namespace, or both)
    r = run_program(CONNECT.format(port=local_server), use_netns=use_netns)
    assert r.status == "failed" and "got" not in r.stdout


def test_sandbox_netns_blocks_raw_socket_syscalls_too(local_server):
    if not netns_available():
        pytest.skip("no `unshare -n` here (needs root)")
    # ctypes-level socket calls bypass Python's audit hook; the network namespace still stops them
    code = f"""import ctypes, struct
libc = ctypes.CDLL(None)
fd = libc.socket(2, 1, 0)
addr = struct.pack('!HH4s8x', 2, {local_server}, bytes([127, 0, 0, 1]))
addr = struct.pack('H', 2) + addr[2:]
rc = libc.connect(fd, addr, len(addr))
print('rc', rc)
assert rc != 0
"""
    r = run_program(code, use_netns=True)
    assert r.passed, r.stderr
