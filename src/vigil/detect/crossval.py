"""Cross-validated NAB scores: every setting chosen on the corpus is chosen without the part it is scored on.

A candidate is one combination of a detector's tuned settings; its scores on every file are computed
once (a detector watches one series, so a file's scores do not depend on which other files exist). For
each fold, on the files *not* held out: the candidate with the best standard-profile score (each at its
own optimised threshold) is chosen, then a threshold per profile for that candidate, as the shipped
detector is tuned (one set of settings, a threshold per profile). The held-out files are scored at that
choice. The figure of merit pools the held-out raw scores of every fold and normalises them as NAB does
over the whole corpus: 100 * (sum raw - null) / (perfect - null).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from vigil.detect.nabscore import PROFILES, ScoredFile, optimize, score_at

# NAB's profile names -> the short names of the `cv` JSON object.
SHORT = {"standard": "standard", "reward_low_FP": "low_fp", "reward_low_FN": "low_fn"}


def grid(tuned: Mapping[str, Sequence[float]]) -> list[dict[str, float]]:
    """Every combination of the tuned settings' candidate values ([{}] when nothing is tuned)."""
    names = sorted(tuned)
    return [dict(zip(names, combo)) for combo in itertools.product(*(tuned[n] for n in names))]


@dataclass
class Choice:
    """What one fold's training files chose, and what the held-out files scored at it."""

    held_out: list[str]
    candidate: int
    thresholds: dict[str, float]
    raw: dict[str, float]
    null: dict[str, float]
    perfect: dict[str, float]
    fp: dict[str, int]
    tp: dict[str, int]

    def normalized(self, profile: str) -> float | None:
        span = self.perfect[profile] - self.null[profile]
        return None if span == 0 else 100.0 * (self.raw[profile] - self.null[profile]) / span


@dataclass
class CrossValidation:
    folds: list[Choice] = field(default_factory=list)

    def pooled(self, profile: str) -> float:
        raw = sum(c.raw[profile] for c in self.folds)
        null = sum(c.null[profile] for c in self.folds)
        perfect = sum(c.perfect[profile] for c in self.folds)
        return 100.0 * (raw - null) / (perfect - null)


def choose(candidates: list[list[ScoredFile]], train: list[int]) -> tuple[int, dict[str, float]]:
    """The candidate (index) with the best standard score on the training files, and its thresholds.
    Ties go to the earlier candidate (the grid's first values come first)."""
    best, best_score = 0, float("-inf")
    for k, files in enumerate(candidates):
        score = optimize([files[i] for i in train], "standard").normalized
        if score > best_score + 1e-12:
            best, best_score = k, score
    chosen = [candidates[best][i] for i in train]
    return best, {p: optimize(chosen, p).threshold for p in PROFILES}


def cross_validate(candidates: list[list[ScoredFile]], folds: list[list[int]],
                   on_fold: Callable[[int], None] | None = None) -> CrossValidation:
    """`candidates[k][i]`: file i scored by candidate k (same files, same order, unique window ids).
    `folds`: the indices held out by each fold; the rest of the files train it."""
    n = len(candidates[0])
    out = CrossValidation()
    for j, held in enumerate(folds):
        held_set = set(held)
        train = [i for i in range(n) if i not in held_set]
        k, thresholds = choose(candidates, train)
        test = [candidates[k][i] for i in held]
        res = {p: score_at(test, p, thresholds[p]) for p in PROFILES}
        out.folds.append(Choice([f.name for f in test], k, thresholds, {p: r.raw for p, r in res.items()},
                                {p: r.null for p, r in res.items()}, {p: r.perfect for p, r in res.items()},
                                {p: r.fp for p, r in res.items()}, {p: r.tp for p, r in res.items()}))
        if on_fold is not None:
            on_fold(j)
    return out


def folds_by(names: list[str], key: Callable[[str], str]) -> tuple[list[str], list[list[int]]]:
    """One fold per distinct key (a category, a file), holding out the files with that key."""
    keys = sorted({key(n) for n in names})
    return keys, [[i for i, n in enumerate(names) if key(n) == k] for k in keys]


def category(name: str) -> str:
    return name.split("/")[0]


def summary(cv: CrossValidation, keys: list[str], settings: list[dict[str, float]],
            per_fold: bool) -> dict:
    """The `cv` JSON shape: pooled figures per profile, and (per_fold) each held-out part's own."""
    out: dict = {SHORT[p]: round(cv.pooled(p), 2) for p in PROFILES}
    chosen: dict[str, int] = {}
    for c in cv.folds:
        label = ", ".join(f"{k}={v:g}" for k, v in settings[c.candidate].items()) or "(shipped)"
        chosen[label] = chosen.get(label, 0) + 1
    out["settings_chosen"] = chosen
    out["false_positives"] = sum(c.fp["standard"] for c in cv.folds)
    out["windows_found"] = sum(c.tp["standard"] for c in cv.folds)
    if per_fold:
        parts: dict[str, dict] = {}
        for key, c in zip(keys, cv.folds):
            row: dict = {"files": len(c.held_out), "windows": round(c.perfect["standard"]),
                         "false_positives": c.fp["standard"], "windows_found": c.tp["standard"],
                         "settings": settings[c.candidate],
                         "thresholds": {SHORT[p]: c.thresholds[p] for p in PROFILES}}
            for p in PROFILES:
                v = c.normalized(p)
                row[SHORT[p]] = None if v is None else round(v, 2)
            parts[key] = row
        out["categories"] = parts
    return out
