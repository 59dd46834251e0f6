"""tdfake: deepfake detection with tensor decomposition.

Reproduces and extends "Searching for a deepfake detection algorithm using tensor decomposition"
(2020): XceptionNet trained on face crops (``OR``), on their Tucker rank-[30, 30, 3]
reconstructions (``TK``) and on the residuals (``TK_diff``), compared side by side.

The study's configuration, results and flaws are in ``docs/study.md``.  Modules, one job each:

- data: ``images`` (the one place that reads and writes images), ``faces`` (face crops from
  videos), ``demo`` (the built-in demo dataset), ``datasets`` (manifests and groups from folder
  layouts), ``split`` (the grouped 81/9/10 splitter), ``describe`` (data statistics for notebook 01)
- Tucker images: ``tucker`` (TK / TK_diff / CP transforms), ``image_creation`` (OR / TK / TK_diff
  trees for a folder)
- training: ``pipeline`` (the tf.data input pipeline and augmentation), ``model`` (Xception,
  cyclical learning rate), ``train`` (one arm into a run folder)
- results: ``metrics`` (study-shaped report tables, group bootstrap intervals), ``evaluate`` (score a
  run), ``test_sets`` (every arm on extra test folders), ``plots`` (figures)
- the study end to end: ``study`` (data -> split -> images -> three arms -> results), driven by
  ``cli`` (the ``tdfake`` command) and ``notebook`` (helpers the notebooks call)
- beyond the study: ``sweep`` (TK arms against Tucker rank), ``perturb`` and ``robustness`` (arms
  scored on JPEG-recompressed, blurred, noisy and resized crops), ``explain`` (Grad-CAM of each arm)
- shared: ``config`` (one Config from YAML, validated when built), ``constants`` (label names and the
  study's defaults), ``provenance`` (what made each cached step, so it is reused only when unchanged)
"""

__version__ = "0.1.0"
