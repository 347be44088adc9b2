"""Array and date aliases shared by the package."""

from __future__ import annotations

import datetime as dt
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
DateLike: TypeAlias = str | dt.date | dt.datetime | pd.Timestamp | np.datetime64
Window: TypeAlias = tuple[int, int]

__all__ = ["BoolArray", "DateLike", "FloatArray", "IntArray", "Window"]
