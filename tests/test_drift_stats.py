"""Drift statistics against reference implementations on the same data.

gate computes every statistic from summaries and never imports scipy; here
scipy's ks_2samp, chisquare, wasserstein_distance and jensenshannon (and its
chebyshev distance for L-infinity) are the reference, and PSI is written out
by hand. Exact-path statistics must agree to rounding; binned-path statistics
within the precision gate reports beside them.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np
import pytest
from scipy import stats as sp
from scipy.spatial import distance

from gate.drift import compare, stats
from gate.drift.summarisers import Bins, NumericOverview, rank_probabilities

RNG = np.random.default_rng(20261201)


def value_counts(x: Any) -> list[tuple[float, int]]:
    values, counts = np.unique(np.asarray(x, dtype=float), return_counts=True)
    return list(zip(values.tolist(), counts.tolist(), strict=True))


def psi_by_hand(ref: Any, cur: Any, parts: int = 10) -> float:
    """PSI over the reference's deciles, written out: edges are the reference values at
    ranks ceil(k n / 10); bin b holds edge[b-1] < x <= edge[b]; an empty bin counts 0.0001."""
    ordered = sorted(float(v) for v in ref)
    n = len(ordered)
    edges = sorted({ordered[math.ceil(k * n / parts) - 1] for k in range(1, parts)})

    def shares(xs: Any) -> list[float]:
        counts = [0] * (len(edges) + 1)
        for x in xs:
            counts[sum(1 for e in edges if e < x)] += 1
        return [max(c / len(xs), 0.0001) for c in counts]

    e, a = shares(ref), shares(cur)
    return sum((ai - ei) * math.log(ai / ei) for ei, ai in zip(e, a, strict=True))


def exact(ref: Any, cur: Any) -> dict[str, Any]:
    return compare.numeric_exact(value_counts(ref), value_counts(cur), 10)


SAMPLES = [
    ("normal shift", RNG.normal(0, 1, 800), RNG.normal(0.3, 1.2, 600)),
    ("same distribution", RNG.normal(5, 2, 2000), RNG.normal(5, 2, 2000)),
    ("ties (rounded)", np.round(RNG.normal(0, 1, 3000), 1), np.round(RNG.normal(0.1, 1, 2500), 1)),
    ("integers", RNG.integers(0, 20, 5000), RNG.integers(2, 22, 4000)),
    ("tiny", np.array([1.0, 2.0, 3.0]), np.array([2.5, 4.0])),
    ("heavy tail", RNG.lognormal(3, 1.5, 10_000), RNG.lognormal(3.1, 1.5, 9_000)),
]


@pytest.mark.parametrize(("name", "ref", "cur"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_exact_path_matches_scipy_and_psi_by_hand(name: str, ref: Any, cur: Any) -> None:
    got = exact(ref, cur)["statistics"]
    ks = sp.ks_2samp(ref, cur)  # method auto: exact here (n <= 10,000 a side)
    assert got["ks"] == pytest.approx(float(ks.statistic), rel=1e-12, abs=1e-15)
    assert got["ks_p_value"] == pytest.approx(float(ks.pvalue), rel=1e-8, abs=1e-10)
    w = sp.wasserstein_distance(ref, cur)
    assert got["wasserstein"] == pytest.approx(w, rel=1e-10)
    assert got["wasserstein_norm"] == pytest.approx(w / max(np.std(ref), 0.001), rel=1e-10)
    assert got["psi"] == pytest.approx(psi_by_hand(ref, cur), rel=1e-10, abs=1e-12)


def test_ks_exact_p_value_over_a_grid_of_sizes() -> None:
    """The lattice-path count against scipy's exact method, equal and unequal sizes."""
    for n1, n2 in [(1, 1), (2, 7), (10, 10), (37, 53), (100, 250), (400, 400), (999, 1000)]:
        for shift in (0.0, 0.2, 0.8):
            a, b = RNG.normal(0, 1, n1), RNG.normal(shift, 1, n2)
            ref = sp.ks_2samp(a, b, method="exact")
            got = exact(a, b)
            assert got["ks_method"] == "exact"
            assert got["statistics"]["ks_p_value"] == pytest.approx(
                float(ref.pvalue), rel=1e-8, abs=1e-10), (n1, n2, shift)


@pytest.mark.slow  # large samples, compared with scipy
def test_ks_asymptotic_p_value_is_close_to_scipys() -> None:
    """Past 10,000 a side scipy uses the one-sample distribution at n = n1 n2 / (n1 + n2);
    gate uses Kolmogorov's limit with Stephens' correction. Same statistic; p-values within
    2 % (relative) wherever they matter (p >= 1e-6), and within 1e-8 absolute below."""
    for n1, n2 in [(12_000, 15_000), (20_000, 20_000), (50_000, 11_000)]:
        for shift in (0.0, 0.01, 0.02, 0.04):
            a, b = RNG.normal(0, 1, n1), RNG.normal(shift, 1, n2)
            ref = sp.ks_2samp(a, b)
            got = exact(a, b)
            assert got["ks_method"] == "asymptotic"
            assert got["statistics"]["ks"] == pytest.approx(float(ref.statistic), rel=1e-12)
            p = got["statistics"]["ks_p_value"]
            if ref.pvalue >= 1e-6:
                assert p == pytest.approx(float(ref.pvalue), rel=0.02), (n1, n2, shift)
            else:
                assert p == pytest.approx(float(ref.pvalue), abs=1e-8)


def test_kolmogorov_and_chi2_distributions_against_scipy() -> None:
    for lam in np.linspace(0.05, 6, 200):
        assert stats.kolmogorov_sf(float(lam)) == pytest.approx(
            float(sp.kstwobign.sf(lam)), rel=1e-12, abs=1e-300)
    for dof in (1, 2, 3, 9, 40, 999, 50_000):
        for x in np.linspace(0.01, 3 * dof + 40, 60):
            assert stats.chi2_sf(float(x), dof) == pytest.approx(
                float(sp.chi2.sf(x, dof)), rel=1e-8, abs=1e-300)


CATEGORIES = [
    ("shifted shares", {"a": 500, "b": 300, "c": 200}, {"a": 380, "b": 330, "c": 290}),
    ("same shares", {"x": 1000, "y": 1000}, {"x": 510, "y": 490}),
    ("many", {str(i): 50 + 3 * i for i in range(40)},
     {str(i): 60 + (i % 7) * 5 for i in range(40)}),
    ("a category gone", {"a": 10, "b": 20, "c": 30}, {"a": 15, "b": 25}),
]


@pytest.mark.parametrize(("name", "ref", "cur"), CATEGORIES, ids=[c[0] for c in CATEGORIES])
def test_categorical_statistics_match_scipy(name: str, ref: dict[str, int],
                                            cur: dict[str, int]) -> None:
    got = compare.categorical(ref, cur)["statistics"]
    keys = sorted(ref)
    observed = np.array([cur.get(k, 0) for k in keys], dtype=float)
    expected = np.array([ref[k] for k in keys], dtype=float)
    expected = expected / expected.sum() * observed.sum()
    chi = sp.chisquare(observed, expected)
    assert got["chi2"] == pytest.approx(float(chi.statistic), rel=1e-12)
    assert got["chi2_p_value"] == pytest.approx(float(chi.pvalue), rel=1e-8, abs=1e-300)
    union = sorted(set(ref) | set(cur))
    p = np.array([ref.get(k, 0) for k in union], dtype=float)
    q = np.array([cur.get(k, 0) for k in union], dtype=float)
    assert got["jensen_shannon"] == pytest.approx(
        float(distance.jensenshannon(p / p.sum(), q / q.sum())), rel=1e-12, abs=1e-15)
    assert got["linf"] == pytest.approx(float(distance.chebyshev(p / p.sum(), q / q.sum())),
                                        rel=1e-12)


def test_never_seen_categories_are_counted_apart_from_chi_squared() -> None:
    """Chi-squared runs over the reference's categories (a never-seen one would be an
    infinite statistic); the never-seen values are reported with their share."""
    ref, cur = {"DE": 400, "FR": 600}, {"DE": 380, "FR": 590, "NZ": 20, "AU": 10}
    got = compare.categorical(ref, cur)
    chi = sp.chisquare([380, 590], np.array([0.4, 0.6]) * 970)
    assert got["statistics"]["chi2_p_value"] == pytest.approx(float(chi.pvalue), rel=1e-8)
    assert got["unseen"] == {"count": 30, "categories": 2, "share": 30 / 1000,
                             "values": ["NZ", "AU"]}
    assert got["categories"] == {"reference": 2, "current": 4}


def test_one_category_has_no_chi_squared_but_its_distances() -> None:
    got = compare.categorical({"a": 10}, {"a": 4, "b": 6})["statistics"]
    assert got["chi2"] is None and got["chi2_p_value"] is None
    assert got["linf"] == pytest.approx(0.6)


def test_constant_reference_floors_the_normalisation() -> None:
    got = exact(np.full(500, 3.0), np.full(400, 3.5))
    s = got["statistics"]
    assert s["wasserstein"] == pytest.approx(0.5)
    assert s["wasserstein_norm"] == pytest.approx(0.5 / 0.001)  # std 0, floored as Evidently
    assert s["ks"] == 1.0
    ks = sp.ks_2samp(np.full(500, 3.0), np.full(400, 3.5))
    assert s["ks_p_value"] == pytest.approx(float(ks.pvalue), rel=1e-8)  # about 1e-260
    assert s["psi"] == pytest.approx(psi_by_hand(np.full(500, 3.0), np.full(400, 3.5)))
    assert all(math.isfinite(v) for v in s.values())


def binned(ref: Any, cur: Any, bins: int = 1000, psi_bins: int = 10) -> dict[str, Any]:
    """The binned path exactly as the runner drives it, on in-memory arrays."""
    ref, cur = np.asarray(ref, dtype=float), np.asarray(cur, dtype=float)
    ordered = np.sort(ref)
    wanted = sorted(set(compare.ranks(len(ref), bins)) | set(compare.ranks(len(ref), psi_bins)))
    at = {r: float(ordered[r - 1]) for r in wanted}
    edges = sorted(set(at.values()))
    psi_edges = sorted({at[r] for r in compare.ranks(len(ref), psi_bins)})

    def side(x: Any) -> tuple[Bins, NumericOverview]:
        index = np.searchsorted(edges, x, side="left")
        size = len(edges) + 1
        mean = float(x.mean())
        return (Bins(np.bincount(index, minlength=size).tolist(),
                     np.bincount(index, weights=x, minlength=size).tolist(),
                     np.bincount(index, weights=(x - mean) ** 2, minlength=size).tolist()),
                NumericOverview(len(x), float(x.min()), float(x.max()), float(x.sum())))

    (rb, ro), (cb, co) = side(ref), side(cur)
    return compare.numeric_binned(edges, psi_edges, rb, cb, ro, co)


@pytest.mark.parametrize(("name", "ref", "cur"), [
    ("normal", RNG.normal(0, 1, 40_000), RNG.normal(0.05, 1.1, 30_000)),
    ("lognormal", RNG.lognormal(2, 1, 50_000), RNG.lognormal(2.2, 1, 50_000)),
    pytest.param("integers", RNG.integers(0, 50, 30_000), RNG.integers(0, 60, 30_000),
                 marks=pytest.mark.slow),  # the slowest case
], ids=["normal", "lognormal", "integers"])
def test_binned_path_is_within_its_declared_precision(name: str, ref: Any, cur: Any) -> None:
    got = binned(ref, cur)
    s, precision = got["statistics"], got["precision"]
    ks = sp.ks_2samp(ref, cur)
    assert got["method"] == "binned"
    assert -1e-12 <= float(ks.statistic) - s["ks"] <= precision["ks"] + 1e-12
    w = sp.wasserstein_distance(ref, cur) / np.std(ref)
    assert abs(s["wasserstein_norm"] - w) <= precision["wasserstein_norm"] + 1e-12
    assert s["psi"] == pytest.approx(psi_by_hand(ref, cur), rel=1e-9, abs=1e-12)  # exact
    assert got["summary"]["reference"]["std"] == pytest.approx(float(np.std(ref)), rel=1e-9)


@pytest.mark.slow  # large samples, compared with scipy
def test_binned_and_exact_paths_agree_on_the_same_data() -> None:
    ref, cur = RNG.normal(0, 1, 9000), RNG.normal(0.2, 1, 8000)
    a, b = exact(ref, cur), binned(ref, cur, bins=1000)
    assert a["statistics"]["psi"] == pytest.approx(b["statistics"]["psi"], rel=1e-9)
    assert abs(a["statistics"]["ks"] - b["statistics"]["ks"]) <= b["precision"]["ks"]


def test_ranks_are_integer_quantiles() -> None:
    assert compare.ranks(10, 10) == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert compare.ranks(10, 4) == [3, 5, 8]  # ceil(2.5), ceil(5), ceil(7.5)
    assert compare.ranks(3, 10) == [1, 2, 3]
    assert compare.ranks(10**12, 3) == [333333333334, 666666666667]


def test_rank_probabilities_land_on_their_ranks() -> None:
    """PostgreSQL and Spark answer the value at rank ceil(p * n): each probability gate asks
    must give back the rank it stands for, in floating point, small n and large."""
    for n in (1, 2, 3, 7, 10, 999, 1_000_003, 10**9 + 7, 2**53 // 1000):
        wanted = sorted(set(compare.ranks(n, 1000)) | set(compare.ranks(n, 10)) | {1, n})
        got = [math.ceil(p * n) for p in rank_probabilities(wanted, n)]
        assert got == wanted, n


def test_categories_have_one_key_on_every_engine() -> None:
    assert [compare.category_key(v) for v in (1, 1.0, True, "1", 2.5, b"x", False)] == [
        "1", "1", "true", "1", "2.5", "x", "false"]


def test_gate_never_imports_scipy() -> None:
    import subprocess

    code = ("import sys; from gate.drift import compare, runner; "
            "from gate.drift.summarisers import frame, sql; "
            "sys.exit(1 if any(m == 'scipy' or m.startswith('scipy.') for m in sys.modules) "
            "else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
