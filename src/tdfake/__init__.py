"""tdfake: deepfake detection with tensor decomposition.

Reproduces and extends "Searching for a deepfake detection algorithm using tensor decomposition"
(2020): XceptionNet trained on face crops (``OR``), on their Tucker rank-[30, 30, 3]
reconstructions (``TK``) and on the residuals (``TK_diff``), compared side by side.

Modules (each one job): ``images`` (the one place that reads and writes images), ``tucker``
(TK / TK_diff / CP transforms), ``datasets`` (manifests, demo data), ``split`` (the 81/9/10
splitter), ``pipeline`` (tf.data input + augmentation), ``model`` (Xception, cyclical LR),
``train``, ``metrics``, ``plots``, ``config``, ``cli``.
"""

__version__ = "0.1.0"
