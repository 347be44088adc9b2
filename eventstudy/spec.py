"""Study settings: windows, model, return type, tests and the convention profile with its knobs.

:class:`StudySpec` validates every setting once, at the boundary (``docs/methods.md`` §3 and §8);
:func:`resolve_conventions` turns a profile name plus knob values (typed or text from the command line)
into one :class:`~eventstudy.conventions.Conventions` value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np
import pandas as pd

from eventstudy._typing import Window
from eventstudy.conventions import Conventions, get_profile
from eventstudy.errors import InputError, UnknownNameError
from eventstudy.grouping import Grouping
from eventstudy.inference import get_tests
from eventstudy.inference.single_firm import DEFAULT_DRAWS, DEFAULT_EXACT_LIMIT
from eventstudy.models import NormalReturnModel, get_model
from eventstudy.pairs import ListingPair
from eventstudy.returns import ReturnType

DEFAULT_CAR_WINDOWS: tuple[Window, ...] = ((0, 0), (0, 1), (-1, 1), (0, 5), (-5, 5))

MAX_OFFSET = 5_000
"""Largest distance from day 0, in trading days (about 20 years), that any window may reach."""

EventTests = Literal["auto", "all", "multi_firm", "none"]
EVENT_TESTS: tuple[EventTests, ...] = ("auto", "all", "multi_firm", "none")
"""Choices of ``event_tests``: which events get their own rows of tests (besides ``all`` and the user's groups)."""

EVENT_TESTS_AUTO_LIMIT = 10_000
"""Under ``event_tests="auto"``, a study of more events than this tests only events of two or more firm-events."""

EVENT_TESTS_TEXT: Mapping[str, str] = {
    "auto": f"every event in a study of up to {EVENT_TESTS_AUTO_LIMIT:,} events; above that, only events of two or "
    "more firm-events",
    "all": "every event",
    "multi_firm": "only events of two or more firm-events",
    "none": "none (only all and the user's groups)",
}


def resolve_event_tests(choice: EventTests, n_events: int) -> Literal["all", "multi_firm", "none"]:
    """The per-event tests in force for a study of ``n_events`` events (``"auto"`` resolved by its size).

    A single firm-event's own inference is its AR and CAR t in ``abnormal_returns`` and ``car``; as an event
    of its own it adds one row per test, day and window whose pooled statistics are mostly undefined
    (cross-sectional tests need two firm-events), which at 10^6 one-firm events is a table of tens of
    millions of rows. ``"auto"`` keeps them for studies a person reads (up to
    :data:`EVENT_TESTS_AUTO_LIMIT` events) and drops them above. ``n_events`` counts the events of the
    study, estimated or not, so the rule is settled before any price is read (the engine reduces the
    tests chunk by chunk and must know which events to keep sums for).
    """
    if choice == "auto":
        return "all" if n_events <= EVENT_TESTS_AUTO_LIMIT else "multi_firm"
    return choice


SINGLE_FIRM_TESTS: tuple[str, ...] = ("sq", "permutation")
"""The single-firm tests beside the AR and CAR t (:mod:`eventstudy.inference.single_firm`)."""

SingleFirmTests = tuple[str, ...] | Literal["auto"]

PERMUTATION_AUTO_LIMIT = 5_000
"""Under ``single_firm_tests="auto"``, the permutation test runs for studies of up to this many firm-events.

It costs about 0.3 s per 1,000 firm-events with the default windows and B = 1000 (``docs/benchmark.md``),
several times the rest of the estimation.
"""

SQ_AUTO_LIMIT = 100_000
"""Under ``single_firm_tests="auto"``, the SQ test runs for studies of up to this many firm-events.

It costs about 0.015 s per 1,000 firm-events (its comparisons with every estimation residual and L-day
sum; ``docs/benchmark.md``): 1.5 s at this limit, and about 10 s of the study of 10^6 firm-events there
(48.7 s without it, 58.5 s with), which asks for it by name (``--single-firm sq``).
"""


def as_single_firm_tests(value: object, parameter: str = "single_firm_tests") -> SingleFirmTests:
    """``"auto"``, or the tuple of single-firm tests named by ``value`` (a sequence or comma-separated text).

    ``"none"`` (or an empty sequence) is no test; names are those of :data:`SINGLE_FIRM_TESTS`, in that
    order whatever the order given.

    Raises
    ------
    UnknownNameError
        A name that is not a single-firm test (the message lists the valid ones).
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "auto":
            return "auto"
        names = [] if text == "none" else [n.strip() for n in text.split(",") if n.strip()]
    else:
        try:
            names = [str(n) for n in value]  # type: ignore[attr-defined]
        except TypeError:
            raise InputError(
                f"single-firm tests are 'auto', 'none' or names among {', '.join(SINGLE_FIRM_TESTS)}, got {value!r}",
                parameter=parameter,
                value=value,
            ) from None
    for name in names:
        if name not in SINGLE_FIRM_TESTS:
            raise UnknownNameError("single-firm test", name, (*SINGLE_FIRM_TESTS, "auto", "none"), parameter=parameter)
    return tuple(n for n in SINGLE_FIRM_TESTS if n in names)


def resolve_single_firm_tests(choice: SingleFirmTests, n_firm_events: int) -> tuple[str, ...]:
    """The single-firm tests in force for a study of ``n_firm_events`` (event, ticker) pairs.

    ``"auto"``: the SQ test when the study has at most :data:`SQ_AUTO_LIMIT` firm-events, the permutation
    test when it has at most :data:`PERMUTATION_AUTO_LIMIT`. ``n_firm_events`` counts the pairs of the events
    file, estimated or not, so the rule is settled before any price is read.
    """
    if choice == "auto":
        limits = {"sq": SQ_AUTO_LIMIT, "permutation": PERMUTATION_AUTO_LIMIT}
        return tuple(name for name in SINGLE_FIRM_TESTS if n_firm_events <= limits[name])
    return choice


def window_text(window: Window) -> str:
    """A window as text for people, e.g. ``[-1, +1]``, ``[0, +5]``, ``[-250, -11]``."""
    return f"[{window[0]:+d}, {window[1]:+d}]".replace("+0,", "0,").replace("+0]", "0]")


_TRUE = ("on", "true", "yes", "1")
_FALSE = ("off", "false", "no", "0")


def knob_names() -> tuple[str, ...]:
    """Names of every convention knob (the fields of :class:`Conventions` except ``name``)."""
    return tuple(f.name for f in fields(Conventions) if f.name != "name")


def _coerce_knob(name: str, value: object, parameter: str) -> object:
    """Turn a knob value given as text (``"off"``, ``"30"``, ``"0.9"``) into the knob's type.

    The type is that of the knob's default value: booleans accept on/off, true/false, yes/no, 1/0 (any
    case); integers and floats their usual spelling; text knobs take the text as is (``resid_ddof=1``
    becomes ``"1"``). Values that already have the right type pass through.
    """
    default = getattr(Conventions(), name)
    bad = InputError(
        f"knob {name} expects {type(default).__name__ if not isinstance(default, bool) else 'on/off'}, got {value!r}",
        parameter=parameter,
        value=value,
    )
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise bad
    if isinstance(default, int):
        if isinstance(value, bool):
            raise bad
        try:
            number = float(str(value).strip()) if not isinstance(value, int) else value
        except ValueError:
            raise bad from None
        if number != int(number):
            raise bad
        return int(number)
    if isinstance(default, float):
        if isinstance(value, bool):
            raise bad
        try:
            return float(str(value).strip()) if not isinstance(value, float) else value
        except ValueError:
            raise bad from None
    return str(value).strip()


def resolve_conventions(
    conventions: str | Conventions = "textbook",
    knobs: Mapping[str, object] | None = None,
    *,
    parameter: str = "knobs",
) -> Conventions:
    """A profile (by name or value) with some knobs set by hand (``docs/methods.md`` §8).

    Parameters
    ----------
    conventions
        Profile name (``"textbook"``, ``"estudy2"``) or a :class:`Conventions` value.
    knobs
        Knob name -> value; values may be text (``{"fec": "off", "kp_min_overlap": "20"}``) and are
        converted to the knob's type. The profile name becomes ``"<profile>+custom"``.
    parameter
        Option name used in error messages (``"--knob"`` from the command line).

    Raises
    ------
    UnknownNameError
        An unknown profile or knob; the message lists the valid names.
    InputError
        A value the knob does not allow (the message lists the allowed values).

    Examples
    --------
    >>> resolve_conventions("estudy2", {"fec": "off"}).fec
    False
    """
    conv = get_profile(conventions) if isinstance(conventions, str) else conventions
    if not knobs:
        return conv
    valid = knob_names()
    values: dict[str, object] = {}
    for name, value in knobs.items():
        if name not in valid:
            raise UnknownNameError("convention knob", str(name), valid, parameter=parameter)
        values[name] = _coerce_knob(name, value, parameter)
    try:
        return conv.with_knobs(**values)
    except InputError as exc:
        raise InputError(f"knob {exc.message}", parameter=parameter, value=exc.value) from None


def _knob_text(value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _check_window(window: object, name: str) -> Window:
    """A window as (start, end) ints, start <= end, within ±:data:`MAX_OFFSET`; or InputError naming ``name``."""
    start: Any = None
    end: Any = None
    try:
        start, end = window  # type: ignore[misc]
        ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, end))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(
            f"a window is a pair of integer relative days (start, end), got {window!r}", parameter=name, value=window
        )
    if start > end:
        raise InputError(f"a window needs start <= end, got {window}", parameter=name, value=window)
    if start < -MAX_OFFSET or end > MAX_OFFSET:
        raise InputError(
            f"window {window} reaches beyond {MAX_OFFSET:,} trading days from day 0, the longest supported "
            f"(about 20 years); use offsets between -{MAX_OFFSET} and {MAX_OFFSET}",
            parameter=name,
            value=window,
        )
    return int(start), int(end)


@dataclass(frozen=True)
class StudySpec:
    """Validated settings of a study (``docs/methods.md`` §3 and §8.1 for the defaults).

    Windows are inclusive relative-day ranges counted in trading days (rows) of each ticker's aligned
    return series, each within ±:data:`MAX_OFFSET` (5,000) trading days of day 0. The estimation window
    must end before the event window starts, and every CAR window must lie inside the event window.
    ``min_estimation_obs`` lies between k + 3 (the Patell variance needs M − k > 2) and the length of the
    estimation window (a larger minimum would exclude every firm-event).

    ``return_type=None`` takes the conventions' default (``textbook``: simple, ``estudy2``: log); after
    construction ``return_type`` always holds the value used and ``return_type_from_profile`` says
    where it came from. The return alignment is the conventions' ``alignment`` knob.

    ``correlation_blocks`` are the Kolari-Pynnönen blocks (None: the pooled r̄;
    :func:`eventstudy.grouping.correlation_blocks`, ``docs/methods.md`` §6.2, P10).

    ``grouping`` defines the user's groups (None: only ``all`` and the events); ``selection`` states in
    words which events of the file were selected (``""``: all); ``event_tests`` which events get their own
    test rows (:func:`resolve_event_tests`); ``listing_pairs`` the home/ADR pairs compared in the pair table
    (:mod:`eventstudy.pairs`); ``single_firm_tests`` the SQ and permutation p-values of every firm-event's
    ARs and CARs (``"auto"``, resolved by the study's size with :func:`resolve_single_firm_tests`, or a tuple
    of :data:`SINGLE_FIRM_TESTS`), ``permutation_draws`` the permutation test's B; its seed is the
    conventions' ``seed``.

    ``placebo_draws`` (B, 0: off) and ``placebo_seed`` (None: the conventions' ``seed``) ask for the placebo
    p-values of :mod:`eventstudy.placebo` (``docs/methods.md`` §6.4 B3).
    """

    model: str | NormalReturnModel = "market"
    estimation_window: Window = (-250, -11)
    event_window: Window = (-10, 10)
    car_windows: tuple[Window, ...] = DEFAULT_CAR_WINDOWS
    return_type: ReturnType | None = None
    min_estimation_obs: int = 100
    conventions: Conventions = field(default_factory=Conventions)
    tests: tuple[str, ...] | None = None
    data_source: str = ""
    grouping: Grouping | None = None
    selection: str = ""
    event_tests: EventTests = "auto"
    listing_pairs: tuple[ListingPair, ...] = ()
    placebo_draws: int = 0
    placebo_seed: int | None = None
    single_firm_tests: SingleFirmTests = "auto"
    permutation_draws: int = DEFAULT_DRAWS
    correlation_blocks: Grouping | None = None
    return_type_from_profile: bool = field(default=False, init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", get_model(self.model))
        if not isinstance(self.conventions, Conventions):
            raise InputError(
                f"conventions must be a Conventions value, got {type(self.conventions).__name__}",
                parameter="conventions",
            )
        if self.return_type is None:
            object.__setattr__(self, "return_type", self.conventions.return_type)
            object.__setattr__(self, "return_type_from_profile", True)
        if self.event_tests not in EVENT_TESTS:
            raise InputError(
                f"event_tests must be one of {', '.join(EVENT_TESTS)}, got {self.event_tests!r}",
                parameter="event_tests",
                value=self.event_tests,
            )
        object.__setattr__(self, "single_firm_tests", as_single_firm_tests(self.single_firm_tests))
        draws = self.permutation_draws
        if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
            raise InputError(
                f"permutation_draws (B) must be a positive integer, got {draws!r}",
                parameter="permutation_draws",
                value=draws,
            )
        for name in ("estimation_window", "event_window"):
            object.__setattr__(self, name, _check_window(getattr(self, name), name))
        try:
            cars = tuple(_check_window(w, "car_windows") for w in self.car_windows)
        except TypeError:
            raise InputError("car_windows must be a sequence of (start, end) pairs", parameter="car_windows") from None
        object.__setattr__(self, "car_windows", cars)
        if isinstance(self.min_estimation_obs, bool) or not isinstance(self.min_estimation_obs, (int, np.integer)):
            raise InputError(
                f"min_estimation_obs must be an integer, got {self.min_estimation_obs!r}",
                parameter="min_estimation_obs",
                value=self.min_estimation_obs,
            )
        if self.estimation_window[1] >= self.event_window[0]:
            raise InputError(
                f"the estimation window {self.estimation_window} must end before the event window "
                f"{self.event_window} starts",
                parameter="estimation_window",
                value=self.estimation_window,
            )
        if not self.car_windows:
            raise InputError("at least one CAR window is needed", parameter="car_windows")
        for window in self.car_windows:
            if window[0] < self.event_window[0] or window[1] > self.event_window[1]:
                raise InputError(
                    f"CAR window {window} must satisfy start <= end and lie inside the event window "
                    f"{self.event_window}",
                    parameter="car_windows",
                    value=window,
                )
        if self.return_type not in ("simple", "log"):
            raise InputError(
                f"return type must be 'simple' or 'log', got {self.return_type!r}",
                parameter="return_type",
                value=self.return_type,
            )
        k = self.normal_model.k
        if self.min_estimation_obs < k + 3:
            raise InputError(
                f"the minimum number of estimation returns must be at least k + 3 = {k + 3} for the "
                f"{self.normal_model.name} model (the Patell variance (M-k)/(M-k-2) needs M - k > 2), "
                f"got {self.min_estimation_obs}",
                parameter="min_estimation_obs",
                value=self.min_estimation_obs,
            )
        length = self.estimation_window[1] - self.estimation_window[0] + 1
        if self.min_estimation_obs > length:
            raise InputError(
                f"the minimum number of estimation returns, {self.min_estimation_obs}, exceeds the {length} "
                f"trading days of the estimation window {window_text(self.estimation_window)}, so no firm-event "
                "could be estimated; lower the minimum or widen the estimation window",
                parameter="min_estimation_obs",
                value=self.min_estimation_obs,
            )
        _check_placebo(self.placebo_draws, self.placebo_seed)
        chosen = [t.name for t in get_tests(self.tests)]
        for name in self.conventions.primary_tests:
            if name not in chosen:
                raise UnknownNameError("primary test (not among the tests run)", name, chosen, parameter="primary")

    @property
    def in_us_dollars(self) -> dict[str, str]:
        """Home lines studied in US dollars: ticker -> FX series (the listing pairs with an ``fx``)."""
        return {pair.home: pair.fx for pair in self.listing_pairs if pair.fx}

    @property
    def normal_model(self) -> NormalReturnModel:
        """The normal-return model (``model`` after construction, typed as a model)."""
        assert isinstance(self.model, NormalReturnModel)
        return self.model

    @property
    def resolved_placebo_seed(self) -> int:
        """The seed of the placebo draws: ``placebo_seed``, else the conventions' ``seed`` knob."""
        return self.conventions.seed if self.placebo_seed is None else int(self.placebo_seed)

    @property
    def resolved_return_type(self) -> ReturnType:
        """The return type in force (the profile's default when none was given)."""
        return self.return_type or self.conventions.return_type

    def describe(self) -> dict[str, str]:
        """Every setting as display strings, for results and reports.

        The profile name is under ``"conventions"`` and every knob value under ``"knob: <name>"``
        (booleans as on/off), so a result records all of them (``docs/methods.md`` §8).
        """
        conv = self.conventions
        fec_moments_used = conv.fec_moments if self.normal_model.single_market_regressor else "own_rows"
        out = {
            "model": self.normal_model.label,
            **({"AR variance": self.normal_model.variance_note} if self.normal_model.variance_note else {}),
            "estimation_window": window_text(self.estimation_window) + " trading days",
            "event_window": window_text(self.event_window) + " trading days",
            "car_windows": "; ".join(window_text(w) for w in self.car_windows),
            "return_type": str(self.return_type)
            + (f" (default of the {conv.name} profile)" if self.return_type_from_profile else ""),
            "min_estimation_obs": str(self.min_estimation_obs),
            "conventions": conv.name,
            "residual variance divisor": {"k": "M - k", "1": "M - 1", "0": "M"}[conv.resid_ddof],
            "forecast-error correction": "off"
            if not conv.fec
            else (
                "on, benchmark moments over its whole estimation window" if fec_moments_used == "index_window" else "on"
            ),
            "CAR variance": conv.car_variance,
            "tests": ", ".join(t.name for t in get_tests(self.tests)),
            "alignment": "common dates of ticker and benchmark (returns over identical intervals)"
            if conv.alignment == "common"
            else "each series' returns on its own dates, joined on the date (a return runs across a missing price)",
            "day 0": "first session of the ticker's exchange closing after the event time; date-only events: "
            "first session on or after the date; moved to the next price row when the calendar day has none",
            "prices": self.data_source,
            "groups": "none" if self.grouping is None else self.grouping.describe(),
            "KP blocks": "none (pooled r̄)"
            if self.correlation_blocks is None
            else f"{self.correlation_blocks.describe()}; cross-block correlations set to 0 in the KP tests' r̄",
            "per-event tests": EVENT_TESTS_TEXT[self.event_tests],
            "single-firm tests": self.single_firm_text(),
        }
        if self.placebo_draws:
            out["placebo dates"] = (
                f"B = {self.placebo_draws:,} pseudo day 0s per event, seed {self.resolved_placebo_seed} "
                "(docs/methods.md 6.4 B3)"
            )
        if self.selection:
            out["events"] = self.selection
        for name, value in conv.knobs().items():
            if name != "name":
                out[f"knob: {name}"] = _knob_text(value)
        if self.return_type != conv.return_type:
            out["knob: return_type"] += f" (profile default; this study uses {self.return_type})"
        return out

    def single_firm_text(self) -> str:
        """The single-firm tests in force, their B and seed, in words (``describe()["single-firm tests"]``)."""
        choice = self.single_firm_tests
        permutation = (
            f"permutation (exact where C(M + L, L) <= {DEFAULT_EXACT_LIMIT:,}, else B = {self.permutation_draws} "
            f"random subsets, seed {self.conventions.seed})"
        )
        if choice == "auto":
            return (
                f"SQ for studies of up to {SQ_AUTO_LIMIT:,} firm-events; {permutation} for studies of up to "
                f"{PERMUTATION_AUTO_LIMIT:,} firm-events"
            )
        names = {"sq": "SQ", "permutation": permutation}
        return "; ".join(names[n] for n in choice) if choice else "none (only the t-test)"

    def knob_table(self) -> pd.DataFrame:
        """The profile and every knob value as a frame (columns ``knob``, ``value``; first row ``name``)."""
        knobs = self.conventions.knobs()
        return pd.DataFrame({"knob": list(knobs), "value": [_knob_text(v) for v in knobs.values()]})


MAX_PLACEBO_DRAWS = 1_000_000
"""Largest number of placebo replicates (``placebo_draws``) a study accepts."""


def _check_placebo(draws: object, seed: object) -> None:
    """Raise :class:`InputError` unless B is a whole number in [0, MAX_PLACEBO_DRAWS] and the seed None or >= 0."""
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or not 0 <= draws <= MAX_PLACEBO_DRAWS:
        raise InputError(
            f"placebo_draws must be a whole number of placebo replicates from 0 (off) to {MAX_PLACEBO_DRAWS:,}, "
            f"got {draws!r}; 1000 is usual",
            parameter="placebo_draws",
            value=draws,
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise InputError(
            f"placebo_seed must be a whole number >= 0 (or None: the seed knob), got {seed!r}",
            parameter="placebo_seed",
            value=seed,
        )


def as_window(window: object) -> Window:
    """A window given as any two-item sequence, as a tuple (validated by :class:`StudySpec`)."""
    try:
        return tuple(window)  # type: ignore[arg-type, return-value]
    except TypeError:
        return window  # type: ignore[return-value]


__all__ = [
    "DEFAULT_CAR_WINDOWS",
    "EVENT_TESTS",
    "EVENT_TESTS_AUTO_LIMIT",
    "EVENT_TESTS_TEXT",
    "MAX_OFFSET",
    "MAX_PLACEBO_DRAWS",
    "PERMUTATION_AUTO_LIMIT",
    "SINGLE_FIRM_TESTS",
    "SQ_AUTO_LIMIT",
    "EventTests",
    "SingleFirmTests",
    "StudySpec",
    "as_single_firm_tests",
    "as_window",
    "knob_names",
    "resolve_conventions",
    "resolve_event_tests",
    "resolve_single_firm_tests",
    "window_text",
]
