"""The statistics the measuring tools report: medians and percentiles of timings.

Two percentile definitions are in use and both are kept, so that no reported figure moves:
`percentile` interpolates between ranks (numpy's default; the bench's latencies) and `nearest_rank`
picks an observed value (the answer evaluation's p90). Every function returns NaN for no values.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import numpy as np


def median(values: Sequence[float]) -> float:
    """The median (the mean of the middle two for an even count)."""
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100), linearly interpolated between ranks."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else float("nan")


def nearest_rank(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by nearest rank: the smallest value with q% of them at or below it."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return float(ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1])
