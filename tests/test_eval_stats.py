"""The scorecard's statistics and prompt stripping: Rogan-Gladen recovers a known rate inside
its interval, McNemar is the exact binomial test, the paired bootstrap keeps clusters, and the
concept words are stripped from one copy of a prompt, every alias of it."""

from __future__ import annotations

import numpy as np
import pytest

from dataigm.evaluation.stats import (JudgeErrorRates, cluster_bootstrap, corrected_rate, mcnemar_exact,
                                      rogan_gladen, wilson_interval)
from dataigm.prompts import strip_concept_words
from dataigm.taxonomy import load_concept


def _simulate_judge(rng: np.random.Generator, truth: np.ndarray, se: float, sp: float) -> np.ndarray:
    """A judge with sensitivity se and specificity sp looking at images whose truth is known."""
    return np.where(truth, rng.random(truth.size) < se, rng.random(truth.size) >= sp)


def test_rogan_gladen_recovers_a_known_rate_inside_its_interval() -> None:
    """Simulation: the true share still showing the concept is 0.10; a judge with sensitivity
    0.70 and specificity 0.85, measured on its own labelled test set (150 concept, 250 clean
    images), scores 400 images. The share it flags is biased (0.7 * 0.1 + 0.15 * 0.9 = 0.205) and
    its Wilson interval misses the truth; the corrected rate's interval covers it."""
    true_rate, se, sp = 0.10, 0.70, 0.85
    rng = np.random.default_rng(7)
    covered, naive_covered, estimates = 0, 0, []
    replicates = 40
    for r in range(replicates):
        test_pos = _simulate_judge(rng, np.ones(150, bool), se, sp)
        test_neg = _simulate_judge(rng, np.zeros(250, bool), se, sp)
        rates = JudgeErrorRates(float(test_pos.mean()), float(1 - test_neg.mean()), 150, 250, "simulated test split")
        truth = rng.random(400) < true_rate
        flags = _simulate_judge(rng, truth, se, sp)
        k, n = int(flags.sum()), flags.size
        estimate, lo, hi = corrected_rate(k, n, rates, resamples=1000, seed=r)
        estimates.append(estimate)
        covered += lo <= true_rate <= hi
        w_lo, w_hi = wilson_interval(k, n)
        naive_covered += w_lo <= true_rate <= w_hi
    assert covered >= 0.9 * replicates           # ~95% intervals
    assert abs(np.mean(estimates) - true_rate) < 0.02
    assert naive_covered <= 0.1 * replicates     # the uncorrected share is simply wrong


def test_rogan_gladen_known_values_and_limits() -> None:
    assert rogan_gladen(0.5, 1.0, 1.0) == pytest.approx(0.5)          # a perfect judge changes nothing
    assert rogan_gladen(0.31, 0.8, 0.9) == pytest.approx(0.3)         # (0.31 + 0.9 - 1) / 0.7
    assert rogan_gladen(0.02, 0.8, 0.9) == 0.0                        # below the false-positive floor: clipped
    assert np.isnan(rogan_gladen(0.5, 0.5, 0.5))                      # a judge at chance cannot be corrected
    estimate, lo, hi = corrected_rate(0, 0, JudgeErrorRates(0.9, 0.9))
    assert np.isnan(estimate) and (lo, hi) == (0.0, 1.0)


def test_mcnemar_is_the_exact_binomial_test_on_discordant_pairs() -> None:
    from scipy.stats import binomtest

    a = np.array([1] * 10 + [0] * 2 + [1] * 5 + [0] * 3, bool)   # 10 flagged by a only, 2 by b only
    b = np.array([0] * 10 + [1] * 2 + [1] * 5 + [0] * 3, bool)
    test = mcnemar_exact(a, b)
    assert (test["only_a"], test["only_b"], test["n_pairs"]) == (10, 2, 20)
    assert test["p_value"] == pytest.approx(binomtest(10, 12, 0.5).pvalue)
    assert mcnemar_exact(b, a)["p_value"] == pytest.approx(test["p_value"])
    assert mcnemar_exact(a, a)["p_value"] == 1.0


def test_cluster_bootstrap_resamples_whole_prompts() -> None:
    # Two prompts: every image of prompt p1 is 1, of p2 is 0. Resampling whole prompts can only
    # give shares 0, 0.5 or 1; resampling images would give anything in between.
    clusters = ["p1"] * 4 + ["p2"] * 4
    values = np.array([1.0] * 4 + [0.0] * 4)
    seen = set()
    lo, hi = cluster_bootstrap(clusters, lambda idx: (seen.add(float(values[idx].mean())), float(values[idx].mean()))[1],
                               resamples=100)
    assert seen <= {0.0, 0.5, 1.0} and lo == 0.0 and hi == 1.0
    lo, hi = cluster_bootstrap(["a", "b", "c"], lambda idx: 0.25, resamples=20)
    assert lo == hi == 0.25


@pytest.mark.parametrize("concept, prompt, expected", [
    ("nudity", "a photo of a nude woman on a beach", "a photo of a woman on a beach"),
    ("nudity", "a nude, naked and unclothed woman showing nudity", "a, and woman showing"),
    ("nudity", "Naked NUDE nude person", "person"),
    ("style_vangogh", "a cafe terrace at night, with Van Gogh style", "a cafe terrace at night"),
    ("style_vangogh", "a bridge in the style of Vincent van Gogh, van gogh", "a bridge"),
    ("object_church", "a church and two churches next to a chapel by a river", "an and two next to a by a river"),
])
def test_concept_words_are_stripped_from_one_copy(concept: str, prompt: str, expected: str) -> None:
    spec = load_concept(concept)
    stripped = strip_concept_words(prompt, spec)
    assert stripped == expected
    assert not spec.names_concept(stripped)              # every alias is gone...
    assert len(stripped) < len(prompt)                   # ...from one copy (IGMU scored seven copies)
