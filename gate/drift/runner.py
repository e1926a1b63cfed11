"""Run the manifest's drift checks: open both sides, check the columns, summarise, compare.

For each check, each side's engine is asked, in order: the kind of every
declared column (a missing column or kinds that cannot be compared stop the
check, naming the side and the feature), one overview pass (no rows stops it
too: an empty window is not "no drift"), and then per feature its value counts
(categorical, and numeric features small enough for the exact path) or the
reference's quantile edges and both sides' bins. The result is one
``input.drift`` entry per check.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from gate.drift import compare
from gate.drift.summarisers import EMPTY, MIXED, NUMBER, Overview, Summariser, summariser
from gate.errors import DriftError, ValidationError, json_path
from gate.manifest import Manifest

DEFAULT_BINS = 1000
DEFAULT_PSI_BINS = 10
DEFAULT_EXACT_MAX_ROWS = 10_000
DEFAULT_MAX_CATEGORIES = 1000
SIDES = ("reference", "current")


@contextmanager
def _as_drift_errors() -> Iterator[None]:
    """The validation sources' errors, re-raised as drift errors (same message and place)."""
    try:
        yield
    except ValidationError as e:
        # a source's own hint is kept; ValidationError's default one would send the user to
        # "the validation named above", which a drift check is not
        hint = None if e.hint == ValidationError.default_hint else e.hint
        raise DriftError(e.message, path=e.path, pointer=e.pointer, line=e.line, col=e.col,
                         hint=hint) from e


class Check:
    """One ``drift:`` entry of the manifest."""

    def __init__(self, spec: Mapping[str, Any], index: int, manifest: Manifest) -> None:
        self.spec = spec
        self.name = str(spec["name"])
        self.manifest = manifest
        self.shown = manifest.path.name
        self.pointer = json_path(["drift", index])
        features = spec["features"]
        self.numeric = [str(f) for f in features.get("numeric", [])]
        self.categorical = [str(f) for f in features.get("categorical", [])]
        both = sorted(set(self.numeric) & set(self.categorical))
        if both:
            raise DriftError(f"drift '{self.name}': feature '{both[0]}' is declared both "
                             "numeric and categorical", path=self.shown,
                             pointer=f"{self.pointer}.features",
                             hint="list each feature under one of numeric or categorical")
        if not self.numeric and not self.categorical:
            raise DriftError(f"drift '{self.name}' declares no feature", path=self.shown,
                             pointer=f"{self.pointer}.features",
                             hint="list the features to compare under features.numeric "
                                  "and features.categorical")
        self.bins = int(spec.get("bins", DEFAULT_BINS))
        self.psi_bins = int(spec.get("psi_bins", DEFAULT_PSI_BINS))
        self.exact_max_rows = int(spec.get("exact_max_rows", DEFAULT_EXACT_MAX_ROWS))
        self.max_categories = int(spec.get("max_categories", DEFAULT_MAX_CATEGORIES))

    def what(self, side: str) -> str:
        return f"drift '{self.name}' {side}"

    def open(self, side: str) -> Summariser:
        spec = {"name": self.name, **self.spec[side]}
        with _as_drift_errors():
            return summariser(spec, self.manifest.files, what=self.what(side),
                              manifest=self.shown)

    # --- checks on the columns ------------------------------------------------------------

    def check_kinds(self, kinds: Mapping[str, Mapping[str, str | None]],
                    shown: Mapping[str, str]) -> None:
        for side in SIDES:
            for feature in [*self.numeric, *self.categorical]:
                if kinds[side][feature] is None:
                    raise DriftError(
                        f"{self.what(side)} data ({shown[side]}) has no column '{feature}'",
                        path=self.shown, pointer=f"{self.pointer}.{side}",
                        hint=f"fix the feature name in gate.yaml, or select the column in "
                             f"the {side} data; a feature missing on one side cannot be "
                             "compared")
                if kinds[side][feature] == MIXED:
                    raise DriftError(
                        f"{self.what(side)}: feature '{feature}' mixes numbers and text in "
                        f"{shown[side]}", path=self.shown, pointer=f"{self.pointer}.{side}",
                        hint="clean the column (one type per column) or cast it in the query")
        for feature in self.numeric:
            for side in SIDES:
                kind = kinds[side][feature]
                if kind not in (NUMBER, EMPTY):
                    raise DriftError(
                        f"{self.what(side)}: feature '{feature}' is declared numeric, but "
                        f"{shown[side]} holds {kind} values", path=self.shown,
                        pointer=f"{self.pointer}.features",
                        hint="declare it under features.categorical, or cast the column to a "
                             "number in the query")
        for feature in self.categorical:
            ref, cur = kinds["reference"][feature], kinds["current"][feature]
            if EMPTY not in (ref, cur) and ref != cur:
                raise DriftError(
                    f"drift '{self.name}': feature '{feature}' has {ref} values in the "
                    f"reference ({shown['reference']}) and {cur} values in the current "
                    f"data ({shown['current']})", path=self.shown,
                    pointer=f"{self.pointer}.features",
                    hint="give the column the same type on both sides (cast it in a query)")

    def check_rows(self, overviews: Mapping[str, Overview], shown: Mapping[str, str]) -> None:
        for side in SIDES:
            if overviews[side].rows == 0:
                raise DriftError(
                    f"{self.what(side)} data ({shown[side]}) has no rows (features "
                    f"{', '.join([*self.numeric, *self.categorical])}): an empty window "
                    "cannot show drift or its absence", path=self.shown,
                    pointer=f"{self.pointer}.{side}",
                    hint="check the window (the query's dates, the path); gate never passes "
                         "a drift check on no data")

    # --- one feature ------------------------------------------------------------------------

    def exact_or_empty(self, name: str, sides: Mapping[str, Summariser],
                       overviews: Mapping[str, Overview]) -> dict[str, Any] | None:
        """A numeric feature with no value on a side, or small enough for the exact path;
        None when it takes the binned path (``binned``, all such features at once)."""
        ref, cur = overviews["reference"].numeric[name], overviews["current"].numeric[name]
        if ref.valid == 0 or cur.valid == 0:
            return compare.empty_numeric()
        if max(ref.valid, cur.valid) > self.exact_max_rows:
            return None
        limit = self.exact_max_rows + 1
        counts = {side: sides[side].value_counts(name, numeric=True, limit=limit)
                  for side in SIDES}
        return compare.numeric_exact(counts["reference"], counts["current"], self.psi_bins)

    def binned(self, names: Sequence[str], sides: Mapping[str, Summariser],
               overviews: Mapping[str, Overview]) -> dict[str, dict[str, Any]]:
        """The binned path: the reference's quantiles of every feature in one request, then
        every feature's bins in one request per side."""
        if not names:
            return {}
        ranks: dict[str, tuple[list[int], list[int]]] = {}
        for name in names:
            valid = overviews["reference"].numeric[name].valid
            coarse = compare.ranks(valid, self.psi_bins)
            ranks[name] = (sorted(set(compare.ranks(valid, self.bins)) | set(coarse)), coarse)
        values = sides["reference"].quantiles({
            name: (wanted, overviews["reference"].numeric[name].valid)
            for name, (wanted, _) in ranks.items()})
        edges: dict[str, tuple[list[float], list[float]]] = {}
        for name, (wanted, coarse) in ranks.items():
            got = values.get(name, [])
            if len(got) != len(wanted):
                raise DriftError(f"{self.what('reference')}: the engine returned "
                                 f"{len(got)} quantiles of '{name}' for {len(wanted)} ranks",
                                 path=self.shown,
                                 hint="the data changed while gate read it; run the check again")
            at = dict(zip(wanted, got, strict=True))
            edges[name] = (sorted(set(got)), sorted({at[r] for r in coarse}))

        def center(side: str, name: str) -> float:
            o = overviews[side].numeric[name]
            return (o.total or 0.0) / o.valid

        bins = {side: sides[side].bins({name: (edges[name][0], center(side, name))
                                         for name in names}) for side in SIDES}
        return {name: compare.numeric_binned(
            edges[name][0], edges[name][1], bins["reference"][name], bins["current"][name],
            overviews["reference"].numeric[name], overviews["current"].numeric[name])
            for name in names}

    def categorical_feature(self, name: str, sides: Mapping[str, Summariser]
                            ) -> dict[str, Any]:
        counts: dict[str, dict[str, int]] = {}
        for side in SIDES:
            pairs = sides[side].value_counts(name, numeric=False, limit=self.max_categories + 1)
            if len(pairs) > self.max_categories:
                raise DriftError(
                    f"{self.what(side)}: feature '{name}' has more than "
                    f"{self.max_categories} distinct values in {sides[side].shown}",
                    path=self.shown, pointer=f"{self.pointer}.features",
                    hint="declare a high-cardinality column numeric, leave it out, or raise "
                         "max_categories for this check")
            merged: dict[str, int] = {}
            for value, n in pairs:
                key = compare.category_key(value)
                merged[key] = merged.get(key, 0) + int(n)
            counts[side] = merged
        return compare.categorical(counts["reference"], counts["current"])

    # --- the whole check --------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        opened: dict[str, Summariser] = {}
        try:
            for side in SIDES:
                opened[side] = self.open(side)
            shown = {side: opened[side].shown for side in SIDES}
            features = [*self.numeric, *self.categorical]
            with _as_drift_errors():
                kinds = {side: opened[side].kinds(features) for side in SIDES}
                self.check_kinds(kinds, shown)
                overviews = {side: opened[side].overview(self.numeric, self.categorical)
                             for side in SIDES}
                self.check_rows(overviews, shown)
                bodies = {f: self.exact_or_empty(f, opened, overviews) for f in self.numeric}
                batched = self.binned([f for f, b in bodies.items() if b is None], opened,
                                      overviews)
                results = [self._feature(f, "numeric", bodies[f] or batched[f], overviews)
                           for f in self.numeric]
                results += [self._feature(f, "categorical",
                                          self.categorical_feature(f, opened), overviews)
                            for f in self.categorical]
        finally:
            for s in opened.values():
                s.close()
        return {
            "name": self.name,
            **{side: {"data": shown[side], "rows": overviews[side].rows,
                      "window": dict(self.spec[side]["window"])
                      if self.spec[side].get("window") else None} for side in SIDES},
            "bins": self.bins,
            "psi_bins": self.psi_bins,
            "exact_max_rows": self.exact_max_rows,
            "features": results,
        }

    def _feature(self, name: str, kind: str, body: Mapping[str, Any],
                 overviews: Mapping[str, Overview]) -> dict[str, Any]:
        if kind == "numeric":
            valid = {side: overviews[side].numeric[name].valid for side in SIDES}
        else:
            valid = {side: overviews[side].categorical[name] for side in SIDES}
        rows = {side: overviews[side].rows for side in SIDES}
        return {
            "name": name,
            "kind": kind,
            "n": valid,
            "missing_share": {side: (rows[side] - valid[side]) / rows[side] for side in SIDES},
            **body,
        }


def run_checks(manifest: Manifest, names: Sequence[str] = ()) -> list[dict[str, Any]]:
    """``input.drift``: one entry per drift check of the manifest (or the ones named)."""
    specs = list(enumerate(manifest.drift))
    seen: set[str] = set()
    for i, spec in specs:
        if spec["name"] in seen:
            raise DriftError(f"two drift checks are named '{spec['name']}'",
                             path=manifest.path.name, pointer=json_path(["drift", i, "name"]),
                             hint="give each drift check its own name")
        seen.add(spec["name"])
    unknown = [n for n in names if n not in seen]
    if unknown:
        raise DriftError(f"no drift check is named '{unknown[0]}'", path=manifest.path.name,
                         hint=f"the checks in gate.yaml: {', '.join(sorted(seen)) or '(none)'}")
    return [Check(spec, i, manifest).run() for i, spec in specs
            if not names or spec["name"] in names]
