"""The study's arms and comparisons, which every config starts from, and how any arm is shown.

An arm is config data (``arms:`` in a config): a name and what it trains on, ``{input: KIND}``
plus that kind's parameters (:mod:`tdfake.transforms`).  A comparison (``comparisons:``) names two
arms, ``a`` and ``b``, and optionally a non-inferiority margin for ``b`` against ``a``.  The
defaults are the 2020 study's three arms and its three comparisons, with the config's ``margin``
on TK against the baseline.

How an arm is shown is here too, in one place: its label in figures, its colour, and the study's
published test numbers.  The study's arms have all three; any other arm is labelled by its name,
gets a colour none of the study's arms uses, and has no published numbers (tables leave those
cells empty and figures draw no study marker).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STUDY_ARMS: dict[str, dict[str, Any]] = {"baseline": {"input": "OR"}, "tk": {"input": "TK"},
                                         "tk_diff": {"input": "TK_diff"}}
"""The study's arms: the original crops, their Tucker reconstructions and the residuals (at the config's rank)."""

STUDY_PAIRS = (("baseline", "tk"), ("baseline", "tk_diff"), ("tk", "tk_diff"))
"""The study's comparisons: each Tucker arm against the baseline, and the residual against TK."""
NON_INFERIORITY_PAIR = ("baseline", "tk")
"""The study's claim is that TK is as good as the original crop: the pair tested for non-inferiority."""

RESERVED = ("images", "test_sets", "sweep", "robustness", "explain", "predict", "graphs", "logs")
"""Folder names of a study folder that an arm's run folder must not take (nor ``seed_<s>``)."""


@dataclass(frozen=True)
class Comparison:
    """Arm ``b`` against arm ``a`` on the same test rows; non-inferiority of ``b`` at the margin when one is given."""

    a: str
    b: str
    non_inferiority_margin: float | None = None


def study_comparisons(arms, margin: float) -> list[Comparison]:
    """The study's comparisons between the given arms (pairs with an arm missing are left out), ``margin`` on TK."""
    return [Comparison(a, b, margin if (a, b) == NON_INFERIORITY_PAIR else None)
            for a, b in STUDY_PAIRS if a in arms and b in arms]


# --------------------------------------------------------------------------- how arms are shown

LABELS = {"baseline": "baseline (OR)", "tk": "TK", "tk_diff": "TK_diff"}
COLOURS = {"baseline": "tab:blue", "tk": "tab:orange", "tk_diff": "tab:green"}
OTHER_COLOURS = ("tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray")
"""Colours of arms other than the study's, by their place among the arms drawn."""

STUDY_RESULTS: dict[str, dict[str, Any]] = {
    "baseline": {
        "accuracy": 0.839, "auroc": 0.943, "thresh": 0.183,
        "REAL": (0.78, 0.94, 0.85), "FAKE": (0.92, 0.74, 0.82),
    },
    "tk": {
        "accuracy": 0.8285, "auroc": 0.9405, "thresh": 0.052,
        "REAL": (0.77, 0.94, 0.85), "FAKE": (0.92, 0.71, 0.81),
    },
    "tk_diff": {
        "accuracy": 0.708, "auroc": 0.782, "thresh": 0.629,
        "REAL": (0.76, 0.60, 0.67), "FAKE": (0.67, 0.81, 0.74),
    },
}
"""The study's published test results (1000 real + 1000 fake, FaceForensics++ c40 NeuralTextures), per arm."""


def label(arm: str) -> str:
    """The arm's name in figures: "baseline (OR)", "TK", "TK_diff"; any other arm's own name."""
    return LABELS.get(arm, arm)


def colour(arm: str, index: int) -> str:
    """The arm's colour: the study's arms' fixed ones, else the ``index``-th of :data:`OTHER_COLOURS`
    (``index``: the arm's place among the arms drawn, so arms of one figure differ)."""
    return COLOURS.get(arm, OTHER_COLOURS[index % len(OTHER_COLOURS)])


def study_results(arm: str) -> dict[str, Any] | None:
    """The study's published numbers for ``arm``, or None for an arm the study did not have."""
    return STUDY_RESULTS.get(arm)
