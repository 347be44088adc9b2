"""Statistical conventions as one frozen value, and the named profiles that bundle them.

A convention is any choice that changes the digits of a statistic without changing what it estimates:
the residual-variance divisor, the forecast-error (Theil) correction, the CAR variance, the reference
distributions. ``docs/methods.md`` §8 lists them; every result records the profile and each knob, and
the reports print them.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from typing import Literal

from eventstudy.errors import InputError, UnknownNameError

CarVariance = Literal["exact", "diag", "L_s2"]
ResidDdof = Literal["k", "1", "0"]

SKEWNESS_T_MIN_EVENTS = 30
"""Fewest events with a CAR for which the skewness-adjusted t (P12) is referred to N(0,1).

Its N(0,1) reference is asymptotic (``docs/methods.md`` §6.2: "small N: undefined or bootstrap only");
30 is the usual large-sample rule (the 97.5 % quantile of t(29) is 2.045 against 1.960 for N(0,1)).
"""

CALENDAR_TIME_MIN_DATES = 30
"""Fewest calendar dates with holdings for the calendar-time portfolio regression t (P13).

Newey-West standard errors are consistent only as the number of dates T grows (Newey and West 1987,
1994); with few dates the HAC variance is biased downward and t(T - q) over-rejects. 30 is the usual
large-sample rule; the project's placebo simulation (``docs/simulation.md``) still finds 6.9 % at a nominal
5 % with about 50 dates.
"""

PRIMARY_AUTO = "auto"
"""Value of the ``primary`` knob that chooses the primary tests per group (``docs/methods.md`` §6.6)."""

PRIMARY_MAX_TESTS = 3
"""Most primary tests the ``primary`` knob may name (each takes a column of the at-a-glance table)."""

PRIMARY_RANK_MIN_N = 10
"""Fewest firm-events for which ``primary = "auto"`` takes GRANK t as the rank test (``docs/methods.md`` §6.6).

GRANK re-standardizes each SCAR by the cross-sectional standard deviation of the group's SCARs; below 10
values that scale is itself very noisy, so smaller groups get the exact Wilcoxon signed-rank test, whose
null distribution needs no large-sample argument.
"""

ADJUST_FAMILY_TEXT: dict[str, str] = {
    "days": "Adjusted p-values (p_holm: Holm 1979; p_bh: Benjamini-Hochberg 1995) within each test and group: "
    "across the event-window days for day statistics and across the CAR windows for window statistics.",
    "events": "Adjusted p-values (p_holm: Holm 1979; p_bh: Benjamini-Hochberg 1995) within each test and day "
    "(or CAR window): across the events; the pooled group 'all' is not part of the family, and the user's groups "
    "(--group-by, --groups) form a family of their own.",
}
"""The multiple-testing family of the adjusted p-values in words, per ``adjust_family`` value (§6.5)."""

POOLING_TEXT: dict[str, str] = {
    "distinct": "Pooled groups (all events and the user's groups) count each distinct (ticker, day 0) once: of "
    "firm-events of different events sharing a ticker and day 0, the estimated one of the event released first "
    "(earliest date, then time; ties by event id) is kept; per-event groups keep all their firm-events.",
    "all": "Pooled groups count every firm-event, also when several events share a ticker and day 0 (the same "
    "returns then enter more than once).",
    "drop_overlapped": "Pooled groups count each distinct (ticker, day 0) once (the estimated firm-event of the event "
    "released first) and leave out firm-events whose event window holds another event's day 0 of the same ticker; "
    "per-event groups keep all their firm-events.",
}
"""The pooling rule of the pooled groups in words, per ``pooling`` value (§3.5)."""


@dataclass(frozen=True)
class Conventions:
    """Knob values of a convention profile (``docs/methods.md`` §8.1 defaults, §8.2 the estudy2 profile).

    Attributes
    ----------
    name
        Profile name the values came from (``"<profile>+custom"`` once a knob is changed by hand).
    return_type
        Default return type of the profile (``"simple"``; estudy2 ``"log"``); an explicit study setting wins.
    alignment
        ``"common"``: returns between the dates both ticker and benchmark have a close (§2.2);
        ``"date"``: each series' returns on its own dates, inner-joined on the date (estudy2).
    resid_ddof
        Residual variance divisor M_i - d: ``"k"`` (d = number of coefficients, default), ``"1"``, ``"0"``.
    fec
        Forecast-error correction C_it = 1 + x'(X'X)^-1 x in SARs and the tests built on them.
    fec_moments
        ``"own_rows"``: market mean and sum of squares in C_it over the rows of event i's own regression
        (exact OLS leverage, default); ``"index_window"``: over the benchmark's whole estimation window,
        including days on which the security has no return (estudy2).
    car_variance
        ``"exact"`` s^2 [L + g'(X'X)^-1 g] (default), ``"diag"`` s^2 Σ C_it, ``"L_s2"`` L s^2 (§5.3).
    daily_sums
        ``"present"``: day sums over the events present that day (default); ``"mean_x_n"``: (mean over the
        events present) x N, as estudy2 computes them (inflates by N/N_t when some are missing).
    patell_denominator
        ``"present"``: Σ (M_i - k)/(M_i - k - 2) over the events present (default); ``"all"``: over all
        events with the estudy2 form Σ (M_i - 2)/(M_i - 4).
    patell_car
        ``"scar"``: Patell CAR statistic on SCAR with the exact variance (= J2, default); ``"csar"``:
        Σ_t SAR_it / sqrt(L) per event (EventStudyTools, Stata eventstudy2).
    bmp_reference
        ``"t"``: t(N - 1) (default); ``"normal"``: N(0,1) (EventStudyTools).
    bw1980_n
        ``"present"``: N = events with an AR that day (default); ``"all"``: all events (estudy2).
    bw1980_df
        ``"M-k"``: reference t(M̄ - k) (default); ``"M-1"``: t(M̄ - 1) (estudy2).
    kp_min_overlap
        Minimum common calendar dates for a pair of events to enter the Kolari-Pynnönen r̄ (default 30).
    gsign_phat
        ``"event_mean"`` (default) or ``"pooled"`` (estudy2) estimate of the share of positive ARs.
    rank_scale
        ``"days"``: S(K), S_U, S_G divide by T, the number of days (default); ``"mean_T"``: by the average
        number of non-missing ARs per event (estudy2).
    car_tests
        ``"on_cars"``: CAR-window tests computed on the events' CARs (default); ``"sum_daily"``:
        Σ_{t∈w} (daily statistic) / sqrt(L) over the days with more than ``car_coverage`` of the events
        present (estudy2's ``car_lamb``, ``car_brown_warner_1985``, ``car_rank_test``).
    car_coverage
        Share of events that must be present on a day for ``car_tests = "sum_daily"`` (estudy2: 0.9).
    lamb_market
        ``"own"``: each event's own benchmark series in Lamb's factor (default); ``"first"``: the first
        event's benchmark for all (estudy2).
    bootstrap_samples, seed
        Resamples B and the explicit seed of the resampling tests (§6.4).
    adjust_family
        Multiple-testing family for Holm and Benjamini-Hochberg adjusted p-values (§6.5): ``"days"`` —
        for one test, group and scope, across its event-window days (day scope) or its CAR windows
        (window scope); ``"events"`` — for one test and day (or CAR window), across the events.
    pooling
        Which firm-events enter the pooled groups (``all`` and the user's groups; §3.5): ``"distinct"``
        (default) one observation per distinct (ticker, day 0), the estimated firm-event of the event
        released first (:func:`eventstudy.pooling.precedence`: date, then time, then event id; not the
        order of the file); ``"all"`` every firm-event, so a firm-day shared by several events counts once
        per event (estudy2 and most other tools); ``"drop_overlapped"`` as ``"distinct"``, then also
        leaves out every firm-event whose event window holds another event's day 0 of the same ticker.
        Per-event groups always use all their firm-events (a ticker appears once per event).
    mask_event_windows
        Off (default): the estimation window is used as it is, other events of the same ticker inside it
        are reported (``event_days.csv``, ``estimation_confounders``); on: estimation rows inside the event
        window of another firm-event of the same ticker are left out of the fit (§3.5).
    primary
        The primary tests of the headline (the at-a-glance table and its stars; ``docs/methods.md`` §6.6):
        ``"auto"`` (default: BMP t, Kolari-Pynnönen adjusted when the group's firm-events share calendar
        dates, and GRANK t, or the exact Wilcoxon signed-rank test below :data:`PRIMARY_RANK_MIN_N`
        firm-events) or 1 to :data:`PRIMARY_MAX_TESTS` registered test names separated by commas
        (``"bmp_t,wilcoxon"``); the first drives the stars. It changes what the reports show first, never a
        number of ``tests.csv``.
    """

    name: str = "textbook"
    return_type: Literal["simple", "log"] = "simple"
    alignment: Literal["common", "date"] = "common"
    resid_ddof: ResidDdof = "k"
    fec: bool = True
    fec_moments: Literal["own_rows", "index_window"] = "own_rows"
    car_variance: CarVariance = "exact"
    daily_sums: Literal["present", "mean_x_n"] = "present"
    patell_denominator: Literal["present", "all"] = "present"
    patell_car: Literal["scar", "csar"] = "scar"
    bmp_reference: Literal["t", "normal"] = "t"
    bw1980_n: Literal["present", "all"] = "present"
    bw1980_df: Literal["M-k", "M-1"] = "M-k"
    kp_min_overlap: int = 30
    gsign_phat: Literal["event_mean", "pooled"] = "event_mean"
    rank_scale: Literal["days", "mean_T"] = "days"
    car_tests: Literal["on_cars", "sum_daily"] = "on_cars"
    car_coverage: float = 0.9
    lamb_market: Literal["own", "first"] = "own"
    bootstrap_samples: int = 1000
    seed: int = 20240601
    adjust_family: Literal["days", "events"] = "days"
    pooling: Literal["distinct", "all", "drop_overlapped"] = "distinct"
    mask_event_windows: bool = False
    primary: str = PRIMARY_AUTO

    def __post_init__(self) -> None:
        allowed: dict[str, tuple[object, ...]] = {
            "return_type": ("simple", "log"),
            "alignment": ("common", "date"),
            "resid_ddof": ("k", "1", "0"),
            "fec": (True, False),
            "fec_moments": ("own_rows", "index_window"),
            "car_variance": ("exact", "diag", "L_s2"),
            "daily_sums": ("present", "mean_x_n"),
            "patell_denominator": ("present", "all"),
            "patell_car": ("scar", "csar"),
            "bmp_reference": ("t", "normal"),
            "bw1980_n": ("present", "all"),
            "bw1980_df": ("M-k", "M-1"),
            "gsign_phat": ("event_mean", "pooled"),
            "rank_scale": ("days", "mean_T"),
            "car_tests": ("on_cars", "sum_daily"),
            "lamb_market": ("own", "first"),
            "adjust_family": ("days", "events"),
            "pooling": ("distinct", "all", "drop_overlapped"),
            "mask_event_windows": (True, False),
        }
        for knob, values in allowed.items():
            if getattr(self, knob) not in values:
                raise InputError(
                    f"{knob} must be one of {', '.join(map(repr, values))}, got {getattr(self, knob)!r}",
                    parameter=knob,
                    value=getattr(self, knob),
                )
        for knob in ("kp_min_overlap", "bootstrap_samples"):
            if int(getattr(self, knob)) < 1:
                raise InputError(f"{knob} must be a positive integer", parameter=knob, value=getattr(self, knob))
        if not 0.0 <= self.car_coverage <= 1.0:
            raise InputError("car_coverage must lie in [0, 1]", parameter="car_coverage", value=self.car_coverage)
        names = self.primary_tests
        if self.primary != PRIMARY_AUTO and (
            not 1 <= len(names) <= PRIMARY_MAX_TESTS
            or len(set(names)) != len(names)
            or not all(re.fullmatch(r"[a-z][a-z0-9_]*", n) for n in names)
        ):
            raise InputError(
                f"primary must be 'auto' or 1 to {PRIMARY_MAX_TESTS} different test names separated by commas "
                f"(e.g. bmp_t,grank_t), got {self.primary!r}",
                parameter="primary",
                value=self.primary,
            )

    @property
    def primary_tests(self) -> tuple[str, ...]:
        """The test names of the ``primary`` knob, in order; empty for ``"auto"`` (chosen per group)."""
        if self.primary == PRIMARY_AUTO:
            return ()
        return tuple(n.strip() for n in str(self.primary).split(","))

    def knobs(self) -> dict[str, object]:
        """Every knob and its value (the profile name first)."""
        return asdict(self)

    def ddof(self, k: int) -> int:
        """Number subtracted from M_i in the residual-variance divisor for a model with k coefficients."""
        return k if self.resid_ddof == "k" else int(self.resid_ddof)

    def with_knobs(self, **knobs: object) -> Conventions:
        """Copy with some knobs changed; the profile name becomes ``"<name>+custom"``."""
        if not knobs:
            return self
        if "name" in knobs:
            raise InputError("the profile name is not a knob; choose a profile, then change knobs", parameter="name")
        unknown = set(knobs) - set(asdict(self)) - {"name"}
        if unknown:
            raise UnknownNameError("convention knob", sorted(unknown)[0], [f for f in asdict(self) if f != "name"])
        return replace(self, name=f"{self.name}+custom", **knobs)  # type: ignore[arg-type]

    def describe(self) -> list[str]:
        """Sentences stating each convention in force, for results and reports."""
        divisor = {"k": "M - k", "1": "M - 1", "0": "M"}[self.resid_ddof]
        car = {
            "exact": "exact, s^2 [L + g'(X'X)^-1 g] with g the sum of the window's regressor rows "
            "(includes the covariance of prediction errors through the estimated coefficients)",
            "diag": "diagonal, s^2 * sum of C_t over the window (covariances dropped)",
            "L_s2": "L * s^2 (parameter uncertainty ignored)",
        }[self.car_variance]
        fec_moments = (
            "moments over the event's own regression rows"
            if self.fec_moments == "own_rows"
            else "market mean and sum of squares over the benchmark's whole estimation window (estudy2), "
            "1/M with the security's own M"
        )
        lines = [
            f"Convention profile: {self.name}.",
            f"Default return type of the profile: {self.return_type}.",
            "Returns paired on the dates where both ticker and benchmark have a close "
            "(both returns span the same interval)."
            if self.alignment == "common"
            else "Returns computed on each series' own dates and joined on the date "
            "(a return may span a missing price).",
            f"Residual variance s^2 = sum of squared estimation residuals / ({divisor}); "
            "M = estimation returns used, k = number of model coefficients.",
            (
                f"Forecast-error correction on: Var(AR_t) = s^2 C_t with C_t = 1 + x_t'(X'X)^-1 x_t, {fec_moments}."
                if self.fec
                else "Forecast-error correction off: Var(AR_t) = s^2."
            ),
            f"CAR variance: {car}.",
            "Single-event AR and CAR t statistics are referred to Student t(M - k).",
            "Day sums across events: "
            + (
                "over the events present that day."
                if self.daily_sums == "present"
                else "(mean over the events present) x N, which inflates them by N/N_t when events are missing "
                "(estudy2)."
            ),
            "Cross-sectional t and BMP t: sd with divisor N - 1; reference "
            + ("t(N - 1)." if self.bmp_reference == "t" else "t(N - 1) for the cross-sectional t, N(0,1) for BMP."),
            "Patell Z: sum of SARs / sqrt(sum of (M - k)/(M - k - 2)) over "
            + (
                "the events present"
                if self.patell_denominator == "present"
                else "all events (estudy2: (M - 2)/(M - 4))"
            )
            + "; CAR version on "
            + (
                "SCAR with the exact CAR variance (equals J2)."
                if self.patell_car == "scar"
                else "sum of SARs / sqrt(L)."
            ),
            f"Brown-Warner 1980: N = {'events present' if self.bw1980_n == 'present' else 'all events'}, "
            f"reference t(mean M - {'k' if self.bw1980_df == 'M-k' else '1'}). "
            "CDA (Brown-Warner 1985): S_A from the estimation-window mean residual series, divisor M_A - 1, "
            "reference t(M_A - 1).",
            f"Kolari-Pynnonen r: mean pairwise Pearson correlation of calendar-aligned standardized "
            "estimation residuals, "
            f"pairs with at least {self.kp_min_overlap} common dates.",
            "Lamb's market factor from "
            + (
                "each event's own benchmark." if self.lamb_market == "own" else "the first event's benchmark (estudy2)."
            ),
            "Generalized sign p-hat: "
            + (
                "average over events of each event's share of positive estimation ARs."
                if self.gsign_phat == "event_mean"
                else "share of all estimation ARs, pooled over events, that are positive."
            ),
            "Rank tests: ranks within each event over estimation + event window, average ranks for ties; "
            "scale divides by "
            + (
                "T, the number of days."
                if self.rank_scale == "days"
                else "the mean number of non-missing ARs per event (estudy2)."
            ),
            "The plain rank tests (Corrado rank, modified rank, Cowan cumulative rank) are not robust to "
            "event-induced variance: they over-reject when the event raises the variance of the abnormal "
            "returns (10-13 % at a nominal 5 % in simulations); GRANK, which re-standardizes the event-window "
            "values by their cross-sectional spread, is.",
            "CAR-window tests "
            + (
                "use the events' CARs."
                if self.car_tests == "on_cars"
                else "Lamb, CDA, BW1980 and Cowan: sum of daily statistics / sqrt(L) over days with more than "
                f"{self.car_coverage:.0%} of events present (estudy2)."
            ),
            f"Resampling tests: B = {self.bootstrap_samples} resamples, seed {self.seed}; "
            "p = (1 + #{|T*| >= |T|}) / (B + 1). Each group's draws are seeded from the seed, the test and the "
            "group's firm-events (event id and ticker), so they do not depend on the row order, on the values "
            "or on the other groups.",
            f"Skewness-adjusted t: N(0,1) reference, reported from {SKEWNESS_T_MIN_EVENTS} events with a CAR "
            "(asymptotic reference); its bootstrap version needs 5.",
            f"Calendar-time portfolio t: reported from {CALENDAR_TIME_MIN_DATES} calendar dates with holdings "
            "(Newey-West standard errors are large-sample); a fully clustered window uses the single-portfolio "
            "variant instead.",
            ADJUST_FAMILY_TEXT[self.adjust_family],
            POOLING_TEXT[self.pooling],
            "Estimation rows inside the event window of another event of the same ticker are left out of the fit."
            if self.mask_event_windows
            else "Other events of the same ticker inside the estimation window are reported, not masked.",
            "Primary tests (the at-a-glance table; the first drives the stars): "
            + (
                "BMP t, Kolari-Pynnonen adjusted when the group's firm-events share calendar dates, and GRANK t "
                f"(the exact Wilcoxon signed-rank test below {PRIMARY_RANK_MIN_N} firm-events)."
                if self.primary == PRIMARY_AUTO
                else ", ".join(self.primary_tests) + " (chosen with the primary knob)."
            ),
            "p-values are two-sided. ARs are never zero-filled: a missing day drops the event from that day's "
            "statistics, and a missing day inside a CAR window drops the event from that window.",
        ]
        return lines


ESTUDY2 = Conventions(
    name="estudy2",
    return_type="log",
    alignment="date",
    resid_ddof="1",
    fec=True,
    fec_moments="index_window",
    car_variance="exact",
    daily_sums="mean_x_n",
    patell_denominator="all",
    patell_car="scar",
    bmp_reference="t",
    bw1980_n="all",
    bw1980_df="M-1",
    gsign_phat="pooled",
    rank_scale="mean_T",
    car_tests="sum_daily",
    car_coverage=0.9,
    lamb_market="first",
    pooling="all",
)
"""The estudy2 0.10.0 conventions (``docs/methods.md`` §8.2); reproduces ``fixtures/estudy2_covid7``."""

PROFILES: dict[str, Conventions] = {"textbook": Conventions(), "estudy2": ESTUDY2}


def get_profile(name: str) -> Conventions:
    """Look up a convention profile by name; unknown names raise :class:`UnknownNameError`."""
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownNameError("convention profile", name, PROFILES, parameter="--conventions") from None


__all__ = [
    "ADJUST_FAMILY_TEXT",
    "CALENDAR_TIME_MIN_DATES",
    "POOLING_TEXT",
    "PRIMARY_AUTO",
    "PRIMARY_MAX_TESTS",
    "PRIMARY_RANK_MIN_N",
    "PROFILES",
    "SKEWNESS_T_MIN_EVENTS",
    "CarVariance",
    "Conventions",
    "get_profile",
]
