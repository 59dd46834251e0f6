"""Values as JSON holds them: the one conversion for the JSON files tdfake writes and compares.

Reports (:mod:`tdfake.metrics`) and provenance records (:mod:`tdfake.provenance`) both pass their
values through :func:`jsonable`, so a value reads back as it was written and a recorded parameter
compares equal to the same parameter given again.  NaN becomes ``null``: JSON has no NaN, and
NaN would never compare equal to itself.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def jsonable(value: Any) -> Any:
    """NumPy / pandas scalars and containers → plain Python; tuples → lists, dict keys → str, NaN and NA → None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if value is pd.NA:
        return None
    return value
