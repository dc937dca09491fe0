"""Statistics of the scorecard: Wilson intervals, the Rogan-Gladen judge-error correction,
paired (cluster) bootstrap intervals and McNemar's exact test.

A judge that misses some concept images (sensitivity Se < 1) and flags some clean ones
(specificity Sp < 1) reports an apparent rate p that is not the true rate pi:
p = Se * pi + (1 - Sp) * (1 - pi). Rogan and Gladen (1978) invert it:
pi = (p + Sp - 1) / (Se + Sp - 1), clipped to [0, 1]. Its interval here is a parametric
bootstrap over all three estimates: p from the scored images, Se and Sp from the judge's own test
counts (when the card gives counts; otherwise they are taken as exact and the interval covers
only the sampling of p).

Bootstrap resampling is over clusters (a prompt with all its seeds, by default), with every pair
of images kept together, so paired metrics (method vs ORG on the same prompt and seed) keep
their pairing and correlated seeds of one prompt are not counted as independent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from dataigm.detectors.scoring import wilson_interval

__all__ = ["wilson_interval", "JudgeErrorRates", "rogan_gladen", "corrected_rate", "cluster_bootstrap",
           "mcnemar_exact", "cohen_kappa"]


@dataclass(frozen=True)
class JudgeErrorRates:
    """A judge's sensitivity and specificity, with the counts they were measured on (when known)."""

    sensitivity: float
    specificity: float
    n_positive: int | None = None    # concept images the sensitivity was measured on
    n_negative: int | None = None    # clean images the specificity was measured on
    source: str = ""                 # where the numbers come from (the judge's card, a config)

    def informative(self) -> bool:
        """Se + Sp > 1: a judge at or below chance cannot be corrected for."""
        return self.sensitivity + self.specificity > 1.0


def rogan_gladen(p: float | np.ndarray, se: float | np.ndarray, sp: float | np.ndarray) -> np.ndarray:
    """The true rate behind an apparent rate p, for a judge with sensitivity se and specificity sp."""
    p, se, sp = (np.asarray(v, dtype=np.float64) for v in (p, se, sp))
    denom = se + sp - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        pi = np.where(denom > 0, (p + sp - 1.0) / denom, np.nan)
    return np.clip(pi, 0.0, 1.0)


def corrected_rate(k: int, n: int, rates: JudgeErrorRates, resamples: int = 2000, seed: int = 0,
                   level: float = 0.95) -> tuple[float, float, float]:
    """(Rogan-Gladen estimate, CI low, CI high) for k of n images flagged."""
    if n == 0:
        return float("nan"), 0.0, 1.0
    estimate = float(rogan_gladen(k / n, rates.sensitivity, rates.specificity))
    rng = np.random.default_rng(seed)
    p = rng.binomial(n, k / n, size=resamples) / n
    se = _resampled(rng, rates.sensitivity, rates.n_positive, resamples)
    sp = _resampled(rng, rates.specificity, rates.n_negative, resamples)
    draws = rogan_gladen(p, se, sp)
    draws = draws[~np.isnan(draws)]
    if draws.size == 0:
        return estimate, 0.0, 1.0
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(draws, [alpha, 1.0 - alpha])
    return estimate, float(min(low, estimate)), float(max(high, estimate))


def _resampled(rng: np.random.Generator, value: float, n: int | None, size: int) -> np.ndarray:
    if not n:
        return np.full(size, value)
    return rng.binomial(n, value, size=size) / n


def cluster_bootstrap(
    clusters: Sequence[str],
    statistic: Callable[[np.ndarray], float],
    resamples: int = 200,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of `statistic(rows)` over resamples of whole clusters.

    `clusters[i]` is the cluster of row i (a prompt); `statistic` gets the row indices of one
    resample (rows of a cluster drawn twice appear twice). NaN results are left out.
    """
    labels = np.asarray(clusters)
    if labels.size == 0 or resamples < 1:
        return float("nan"), float("nan")
    uniques, inverse = np.unique(labels, return_inverse=True)
    members = [np.flatnonzero(inverse == c) for c in range(len(uniques))]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        picks = rng.integers(0, len(uniques), size=len(uniques))
        rows = np.concatenate([members[c] for c in picks])
        value = statistic(rows)
        if value is not None and np.isfinite(value):
            values.append(value)
    if not values:
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(np.asarray(values), [alpha, 1.0 - alpha])
    return float(low), float(high)


def mcnemar_exact(a: Sequence[bool], b: Sequence[bool]) -> dict[str, float | int]:
    """McNemar's exact test on paired decisions (same prompts, same seeds): b01 = flagged by b
    only, b10 = flagged by a only; p from the two-sided binomial test of b10 vs b01."""
    from scipy.stats import binomtest

    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError("mcnemar_exact: a and b must be paired (same length)")
    only_a = int(np.sum(a & ~b))
    only_b = int(np.sum(~a & b))
    discordant = only_a + only_b
    p = 1.0 if discordant == 0 else float(binomtest(only_a, discordant, 0.5).pvalue)
    return {"n_pairs": int(a.size), "only_a": only_a, "only_b": only_b, "p_value": p}


def cohen_kappa(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Cohen's kappa of two binary raters on the same items: (observed - chance agreement) /
    (1 - chance agreement). NaN when chance agreement is 1 (both raters say one thing always)."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.size == 0:
        return float("nan")
    observed = float(np.mean(a == b))
    pa, pb = float(a.mean()), float(b.mean())
    chance = pa * pb + (1.0 - pa) * (1.0 - pb)
    return float("nan") if chance >= 1.0 else (observed - chance) / (1.0 - chance)
