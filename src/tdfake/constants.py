"""Names and study defaults that several modules share, written once.

``LABEL_NAMES`` is the one mapping between the labels in manifests and scores (0 real, 1 fake)
and their names; report tables use the names upper-cased, as the study's table did.  The study
defaults (docs/study.md) are what ``tdfake.config.Config``, ``tdfake.tucker``, ``tdfake.split``
and the command-line defaults fall back to, so changing one here changes them everywhere.
"""

LABEL_NAMES = {0: "real", 1: "fake"}
"""Label value -> class name; manifests hold 0/1, scores are P(fake)."""

SEED = 42
"""The study's seed (tensorly's ``random_state``), also the default for splits and sampling."""

TUCKER_RANK = (30, 30, 3)
"""The study's Tucker rank for the TK / TK_diff images (height, width, channels)."""

TUCKER_METHOD = "tensorly"
"""How TK / TK_diff (and CP) images are computed unless told otherwise: the study's exact tensorly call.
``"fast"`` (batched, float32, :mod:`tdfake.tucker`) is asked for by name, as ``configs/demo.yaml`` does."""

CP_RANK = 8
"""Rank of the study's (unused) CP decomposition, tdfake's CP / CP_diff images."""

SPLIT_FRACTIONS = (0.81, 0.09, 0.10)
"""The study's train / validation / test fractions."""

SPLIT_MODES = ("group", "frame")
"""How to split: ``group`` keeps every video (and linked videos) in one split; ``frame`` is the study's leak."""

STUDY_THRESHOLD = 0.5
"""The study's decision threshold: class predictions in its table, and what a run not yet evaluated decides at."""

OWN_TEST_SET = "test"
"""Name of a run's own test split among its test sets (results.csv's ``test_set`` column);
extra sets need other names."""

COLLAPSE_MIN_VAL_AUROC = 0.55
COLLAPSE_MAX_SCORE_SD = 1e-6
"""The pre-registered collapsed-run rule (docs/preregistration.md): a run whose scored checkpoint gives every
validation row the same score (standard deviation below ``COLLAPSE_MAX_SCORE_SD``) or reaches a validation
AUROC below ``COLLAPSE_MIN_VAL_AUROC`` has collapsed (``training.csv`` of ``tdfake run`` says which)."""
