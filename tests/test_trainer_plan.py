"""codemill plan: Chinchilla-optimal allocation and Harm's law against docs/recipe.md §13."""
from __future__ import annotations

import pytest

from trainer.plan import chinchilla_optimal, harms_law, loss, make_plan


@pytest.mark.parametrize("k_n, overhead", [(0.75, 0.028), (0.5, 0.21), (0.4, 0.44), (0.35, 0.66), (0.3, 1.06),
                                           (0.25, 1.89)])
def test_harms_law_matches_facts_table(k_n, overhead):
    n, d = chinchilla_optimal(1e23)
    _, got = harms_law(k_n, n, d)
    assert got == pytest.approx(overhead, abs=0.006)


@pytest.mark.parametrize("flops", [1e20, 1e23, 1e25])
def test_optimum_is_a_minimum_on_the_budget(flops):
    n, d = chinchilla_optimal(flops)
    assert 6 * n * d == pytest.approx(flops)
    best = loss(n, d)
    for f in (0.8, 0.95, 1.05, 1.25):
        assert loss(n * f, flops / (6 * n * f)) > best
    # overhead does not depend on the budget (docs/recipe.md §13)
    assert harms_law(0.5, n, d)[1] == pytest.approx(0.2078, abs=5e-4)


def test_same_loss_for_the_smaller_model_and_full_size_no_overhead():
    p = make_plan(1e23, model_fraction=0.5)
    assert loss(p.n, p.d) == pytest.approx(p.loss_opt, rel=1e-9)
    assert make_plan(1e23, model_fraction=1.0).overhead == pytest.approx(0.0, abs=1e-12)
    assert make_plan(1e23, model_fraction=0.05).overhead == float("inf")


def test_cli_plan_prints_numbers(capsys):
    from jobs.cli import main
    assert main(["plan", "--flops", "1e23", "--model-fraction", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "+105.5% compute" in out and "Chinchilla-optimal" in out
    assert main(["plan", "--gpu-hours", "1000", "--params", "1B"]) == 0
    assert "1000 GPU-hours" in capsys.readouterr().out
