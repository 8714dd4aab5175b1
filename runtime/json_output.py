"""JSON that every parser accepts: no NaN or Infinity (they become null)."""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def strict_json(value: Any, indent: int | None = 1) -> str:
    """`value` as strict JSON text: non-finite floats (a rate over no samples,
    gates per neuron of a circuit without neurons) are written as null, numpy
    scalars as plain numbers."""
    return json.dumps(_finite(value), indent=indent, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
