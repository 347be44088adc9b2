"""Statistical conventions as one frozen value, and the named profiles that bundle them.

A convention is any choice that changes the digits of a statistic without changing what it estimates:
the residual-variance divisor, the forecast-error (Theil) correction, the CAR variance, the reference
distributions. ``docs/METHODS.md`` §8 lists them; every result records the profile and each knob, and
the reports print them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

from eventstudy.errors import InputError, UnknownNameError

CarVariance = Literal["exact", "diag", "L_s2"]
ResidDdof = Literal["k", "1", "0"]


@dataclass(frozen=True)
class Conventions:
    """Knob values of a convention profile (``docs/METHODS.md`` §8.1 for the defaults).

    Attributes
    ----------
    name
        Profile name the values came from (``"custom"`` once a knob is changed by hand).
    resid_ddof
        Residual variance divisor M_i - d: ``"k"`` (d = number of coefficients, default), ``"1"``, ``"0"``.
    fec
        Forecast-error correction C_it = 1 + x'(X'X)^-1 x in SARs, their t statistics and the aggregate
        tests; with False, C_it = 1.
    car_variance
        ``"exact"`` s^2 [L + g'(X'X)^-1 g] (default), ``"diag"`` s^2 Σ C_it, ``"L_s2"`` L s^2
        (``docs/METHODS.md`` §5.3).
    """

    name: str = "textbook"
    resid_ddof: ResidDdof = "k"
    fec: bool = True
    car_variance: CarVariance = "exact"

    def __post_init__(self) -> None:
        if self.resid_ddof not in ("k", "1", "0"):
            raise InputError(f"resid_ddof must be 'k', '1' or '0', got {self.resid_ddof!r}", parameter="resid_ddof")
        if self.car_variance not in ("exact", "diag", "L_s2"):
            raise InputError(
                f"car_variance must be 'exact', 'diag' or 'L_s2', got {self.car_variance!r}",
                parameter="car_variance",
            )

    def ddof(self, k: int) -> int:
        """Number subtracted from M_i in the residual-variance divisor for a model with k coefficients."""
        return k if self.resid_ddof == "k" else int(self.resid_ddof)

    def with_knobs(self, **knobs: object) -> Conventions:
        """Copy with some knobs changed; the profile name becomes ``"<name>+custom"``."""
        if not knobs:
            return self
        unknown = set(knobs) - set(asdict(self)) - {"name"}
        if unknown:
            raise UnknownNameError("convention knob", sorted(unknown)[0], [f for f in asdict(self) if f != "name"])
        return replace(self, name=f"{self.name}+custom", **knobs)  # type: ignore[arg-type]

    def describe(self) -> list[str]:
        """Sentences stating each convention, for results and reports."""
        divisor = {"k": "M - k", "1": "M - 1", "0": "M"}[self.resid_ddof]
        car = {
            "exact": "exact, s^2 [L + g'(X'X)^-1 g] with g the sum of the window's regressor rows "
            "(includes the covariance of prediction errors through the estimated coefficients)",
            "diag": "diagonal, s^2 * sum of C_t over the window (covariances dropped)",
            "L_s2": "L * s^2 (parameter uncertainty ignored)",
        }[self.car_variance]
        return [
            f"Convention profile: {self.name}.",
            f"Residual variance s^2 = sum of squared estimation residuals / ({divisor}); "
            "M = estimation returns used, k = number of model coefficients.",
            "Forecast-error correction "
            + (
                "on: Var(AR_t) = s^2 C_t with C_t = 1 + x_t'(X'X)^-1 x_t, moments over the event's own regression rows."
                if self.fec
                else "off: Var(AR_t) = s^2."
            ),
            f"CAR variance: {car}.",
            "Single-event AR and CAR t statistics are referred to Student t(M - k).",
            "Cross-sectional t: cross-sectional sd with divisor N - 1, reference t(N - 1).",
            "Patell Z: sum of standardized ARs / sqrt(sum of (M - k)/(M - k - 2)) over the events present, reference N(0,1).",
            "BMP t: mean / (sd / sqrt(N)) of standardized ARs (CARs), sd divisor N - 1, reference t(N - 1).",
            "p-values are two-sided. ARs are never zero-filled: a missing day drops the event from that day's "
            "statistics, and a missing day inside a CAR window drops the event from that window.",
        ]


PROFILES: dict[str, Conventions] = {"textbook": Conventions()}


def get_profile(name: str) -> Conventions:
    """Look up a convention profile by name; unknown names raise :class:`UnknownNameError`."""
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownNameError("convention profile", name, PROFILES, parameter="--conventions") from None


__all__ = ["PROFILES", "CarVariance", "Conventions", "get_profile"]
