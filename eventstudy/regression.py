"""Second stage: cross-sectional regression of CARs on firm and event characteristics.

:func:`regress_cars` regresses one CAR window's CARs (one row per firm-event) on regressors named in a
formula, ``"car[-1,1] ~ C(category) + log_mcap"``: the left-hand side is ``car`` with the CAR window in
brackets (or ``car`` alone and the ``window`` argument). Regressors come from the events-file columns
(merged by ``event_id``; the event's ``date`` is also available as ``event_date``) and from a user frame
keyed by (event_id, ticker), event_id or ticker. The fit is statsmodels' formula API (patsy):

- ``weights="ols"``: ordinary least squares; ``weights="wls"``: weighted least squares with weights
  1 / Var(CAR) = 1 / se² (the study's exact CAR variance), so precisely measured CARs count more;
- ``cov="HC0"``…``"HC3"``: White (1980) and MacKinnon–White (1985) heteroskedasticity-robust covariances;
  ``cov="cluster"``: the CRV1 cluster-robust covariance, one-way (``cluster="event_date"``, ``"event_id"``
  or ``"ticker"``) or two-way (two of them) by Cameron, Gelbach and Miller (2011), V = V₁ + V₂ − V₁₂,
  each term with its own small-sample factor G/(G − 1)·(n − 1)/(n − k) (statsmodels'
  ``cov_cluster_2groups``, which ``cov_type="cluster"`` uses for a two-column ``groups``);
- inference uses t distributions: t(n − k) for HC, t(G − 1) for one-way clusters and t(min(G₁, G₂) − 1)
  for two-way (statsmodels' ``use_t=True`` conventions);
- :func:`wild_cluster_bootstrap`: the restricted wild cluster bootstrap p-value (WCR; Cameron, Gelbach
  and Miller 2008; MacKinnon and Webb 2017) with Rademacher weights, for few clusters;
- leverage diagnostics: hat values and Cook's distances (statsmodels' ``get_influence`` on the √w-scaled
  data, so that under WLS they are the weighted hat values w_i x_i'(X'WX)⁻¹x_i).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from eventstudy._frozen import frame_fields
from eventstudy._typing import FloatArray, IntArray, Window
from eventstudy.errors import InputError, UnknownNameError
from eventstudy.spec import window_text

if TYPE_CHECKING:  # statsmodels and patsy (about 0.7 s) are imported when a regression is fitted, not with the study
    import patsy

Weights = Literal["ols", "wls"]
CovType = Literal["HC0", "HC1", "HC2", "HC3", "cluster"]
COV_TYPES: tuple[str, ...] = ("HC0", "HC1", "HC2", "HC3", "cluster")
CLUSTER_KEYS: tuple[str, ...] = ("event_date", "event_id", "ticker")
DEFAULT_WINDOW: Window = (-1, 1)
EXACT_MAX_CLUSTERS = 12
"""Up to this many clusters the wild bootstrap enumerates all 2^G Rademacher sign vectors."""

TABLE_COLUMNS = (
    "term",
    "estimate",
    "se",
    "t",
    "p",
    "ci_low",
    "ci_high",
    "n",
    "n_clusters",
    "cov_type",
    "window",
    "p_wild",
)
DIAGNOSTIC_COLUMNS = ("event_id", "ticker", "car", "fitted", "residual", "leverage", "cooks_distance")
_CAR_KEYS = ("event_id", "ticker", "window_start", "window_end", "car", "se")
_LEFT_SIDE = re.compile(r"^\s*car\s*(?:\[\s*([+-]?\d+)\s*,\s*([+-]?\d+)\s*\])?\s*$")


def parse_formula(formula: str) -> tuple[Window | None, str]:
    """Split ``"car[a,b] ~ rhs"`` into the window (a, b) (None for a bare ``car``) and ``"car ~ rhs"``.

    Raises
    ------
    InputError
        If the formula has no ``~`` or its left-hand side is not ``car`` or ``car[a,b]`` with integers a <= b.
    """
    left, tilde, right = formula.partition("~")
    match = _LEFT_SIDE.match(left)
    if not tilde or match is None or not right.strip():
        raise InputError(
            "a CAR regression formula reads 'car[a,b] ~ regressors' (or 'car ~ regressors' with window=(a, b)), "
            "e.g. 'car[-1,1] ~ C(category) + log_mcap'",
            parameter="formula",
            value=formula,
        )
    window: Window | None = None
    if match.group(1) is not None:
        window = (int(match.group(1)), int(match.group(2)))
        if window[0] > window[1]:
            raise InputError(
                f"the CAR window {window_text(window)} ends before it starts; write car[start,end]",
                parameter="formula",
                value=formula,
            )
    return window, f"car ~{right}"


@dataclass(frozen=True)
class WildBootstrapResult:
    """A restricted wild cluster bootstrap test of H0: coefficient = 0.

    Attributes
    ----------
    p_value
        Share of bootstrap |t*| at least |t| (relative tolerance 1e-10 for the ties that exact
        enumeration produces: the all-plus and all-minus sign vectors give |t*| = |t|).
    t_stat
        The observed CRV1 cluster-robust t of the coefficient.
    n_draws
        Number of sign vectors used: 2^G under exact enumeration, else B.
    exact
        Whether all 2^G sign vectors were enumerated (G <= ``exact_max_clusters``).
    """

    p_value: float
    t_stat: float
    n_draws: int
    exact: bool


def wild_cluster_bootstrap(
    endog: FloatArray,
    exog: FloatArray,
    groups: IntArray,
    column: int,
    *,
    weights: FloatArray | None = None,
    B: int = 999,
    seed: int | np.random.Generator | None = None,
    exact_max_clusters: int = EXACT_MAX_CLUSTERS,
) -> WildBootstrapResult:
    """Restricted wild cluster bootstrap p-value (Rademacher weights) for H0: β_column = 0.

    Procedure (Cameron, Gelbach and Miller 2008, "WCR"; MacKinnon and Webb 2017): fit the model without
    ``column`` (the null imposed) by (weighted) least squares, giving fitted values ŷᵣ and residuals ûᵣ; for a
    sign vector v ∈ {−1, +1}^G build y* = ŷᵣ + v_g ûᵣ (one sign per cluster g), refit the full model and
    compute t* = β*_column / se*, se* from the CRV1 cluster-robust covariance
    c·(X'WX)⁻¹ Σ_g s_g s_g' (X'WX)⁻¹, s_g = Σ_{i∈g} w_i x_i u*_i, c = G/(G − 1)·(n − 1)/(n − k). The p-value
    is the share of t* with |t*| >= |t|, t the same statistic on the data (v = 1).

    All refits are linear in v: with A = (X'WX)⁻¹X'W, β*(v) − β̂ᵣ = A diag(ûᵣ) C v and u*(v) = (I − XA) diag(ûᵣ) C v
    (C the n × G cluster indicator), so every sign vector costs two G-vector products (no refitting loop).

    Parameters
    ----------
    endog, exog, weights
        y (n,), X (n, k) and WLS weights (n,; None: OLS), as the fitted model holds them.
    groups
        Cluster code of each row, 0..G−1.
    column
        Index of the tested coefficient in X.
    B, seed
        Random sign vectors and their seed when G > ``exact_max_clusters``; with G <= it, all 2^G.

    Raises
    ------
    InputError
        With fewer than two clusters.
    """
    y = np.asarray(endog, dtype=np.float64)
    x = np.asarray(exog, dtype=np.float64)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    codes = np.asarray(groups)
    n, k = x.shape
    n_clusters = int(codes.max()) + 1 if n else 0
    if n_clusters < 2:
        raise InputError(
            f"the wild cluster bootstrap needs at least two clusters, got {n_clusters}; cluster on another key",
            parameter="cluster",
        )
    bread = np.linalg.inv(x.T @ (w[:, None] * x))
    a = bread @ (x * w[:, None]).T  # (k, n): β = A y
    rest = np.delete(x, column, axis=1)
    root = np.sqrt(w)
    if rest.shape[1]:
        coef_rest = np.linalg.lstsq(rest * root[:, None], y * root, rcond=None)[0]
        fitted_rest = rest @ coef_rest
    else:
        fitted_rest = np.zeros(n)
    resid_rest = y - fitted_rest
    signed = np.zeros((n, n_clusters))
    signed[np.arange(n), codes] = resid_rest  # diag(ûᵣ) C
    shift = a @ signed  # (k, G): β*(v) = β̂ᵣ + shift v
    resid_map = signed - x @ shift  # (n, G): u*(v) = resid_map v
    score_map = np.zeros((n_clusters, n_clusters))
    np.add.at(score_map, codes, a[column][:, None] * resid_map)  # e_j'(X'WX)⁻¹ s_g = score_map[g] v
    factor = n_clusters / (n_clusters - 1) * (n - 1) / (n - k)

    def t_stats(signs: FloatArray) -> FloatArray:
        return shift[column] @ signs / np.sqrt(factor * np.sum((score_map @ signs) ** 2, axis=0))

    exact = n_clusters <= exact_max_clusters
    if exact:
        draws = np.arange(2**n_clusters)
        signs = (((draws[None, :] >> np.arange(n_clusters)[:, None]) & 1) * 2 - 1).astype(np.float64)
    else:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        signs = (rng.integers(0, 2, size=(n_clusters, B)) * 2 - 1).astype(np.float64)
    t_obs = float(t_stats(np.ones((n_clusters, 1)))[0])
    t_star = t_stats(signs)
    p_value = float(np.mean(np.abs(t_star) >= abs(t_obs) * (1 - 1e-10)))
    return WildBootstrapResult(p_value=p_value, t_stat=t_obs, n_draws=signs.shape[1], exact=exact)


@frame_fields("table", "diagnostics")
@dataclass(frozen=True, eq=False)
class RegressionResult:
    """A fitted cross-sectional CAR regression.

    Attributes
    ----------
    formula
        The formula as given.
    window
        The CAR window regressed.
    weights, cov_type, cluster
        The estimator (``"ols"``/``"wls"``), covariance and cluster keys (empty unless ``cov_type="cluster"``).
    table
        One row per term: :data:`TABLE_COLUMNS`; ``p_wild`` is NaN unless a wild bootstrap was asked for.
    diagnostics
        One row per firm-event used: :data:`DIAGNOSTIC_COLUMNS` (hat value ``leverage``, Cook's distance).
    fit
        The statsmodels results object.
    reference_levels
        (factor, omitted level) of each treatment-coded factor: its coefficients are differences from that level.
    """

    formula: str
    window: Window
    weights: str
    cov_type: str
    cluster: tuple[str, ...]
    table: pd.DataFrame
    diagnostics: pd.DataFrame
    fit: Any
    reference_levels: tuple[tuple[str, str], ...] = ()

    def summary(self) -> str:
        """The coefficient table and leverage notes as plain text."""
        table = self.table
        n = int(table["n"].iloc[0])
        head = f"CAR{window_text(self.window)} regression ({self.weights.upper()}), {self.formula}; n = {n}"
        cov = self.cov_type
        if self.cluster:
            cov += f" by {' x '.join(self.cluster)} ({table['n_clusters'].iloc[0]} clusters)"
        shown = table[["term", "estimate", "se", "t", "p", "ci_low", "ci_high", "p_wild"]]
        if shown["p_wild"].isna().all():
            shown = shown.drop(columns="p_wild")
        diagnostics = self.diagnostics
        influential = int((diagnostics["cooks_distance"] > 4 / n).sum())
        return "\n".join(
            [
                head,
                f"covariance: {cov}",
                shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
                f"max leverage {diagnostics['leverage'].max():.3g} (mean leverage k/n = {len(table) / n:.3g}); "
                f"{influential} firm-event(s) with Cook's distance > 4/n",
            ]
        )

    def __str__(self) -> str:
        return self.summary()


def regress_cars(
    car: pd.DataFrame,
    formula: str,
    data: pd.DataFrame | None = None,
    *,
    events: pd.DataFrame | None = None,
    weights: Weights = "ols",
    cov: CovType = "HC1",
    cluster: str | Sequence[str] = "event_date",
    window: Window | None = None,
    wild_bootstrap: int | None = None,
    seed: int | None = None,
) -> RegressionResult:
    """Regress one window's CARs on the formula's regressors (module docstring: estimators and conventions).

    Parameters
    ----------
    car
        The study's ``car`` frame (event_id, ticker, window_start, window_end, car, se, ...).
    formula
        ``"car[a,b] ~ regressors"`` (patsy syntax) or ``"car ~ regressors"`` with ``window``.
    data
        Extra regressors keyed by columns event_id and ticker, event_id alone, or ticker alone; its columns
        take precedence over events-file columns of the same name.
    events
        The events table (event_id, date, category, ...): its columns are regressors, ``date`` also as
        ``event_date``; needed for ``cluster="event_date"``.
    weights
        ``"ols"`` or ``"wls"`` (weights 1/se²).
    cov, cluster
        Covariance type; cluster key or two keys among :data:`CLUSTER_KEYS` when ``cov="cluster"``.
    window
        The CAR window when the formula's left-hand side is a bare ``car``; default (−1, +1).
    wild_bootstrap, seed
        B (random sign vectors when G > 12; all 2^G when G <= 12) for a wild cluster bootstrap p-value of
        every term; needs one-way clustering. None: no bootstrap.

    Raises
    ------
    InputError
        Bad formula, a window not among the CAR windows, an unknown column, bad keys in ``data``, an unknown
        option value, wild bootstrap without one-way clustering.
    """
    import patsy
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    chosen, model_formula = _chosen_window(formula, window)
    keys = _checked_options(weights, cov, cluster, wild_bootstrap)
    frame = _regression_frame(car, chosen, data, events, needs_date="event_date" in keys)
    if weights == "wls":
        frame = frame[np.isfinite(frame["se"]) & (frame["se"] > 0)]
    try:
        if weights == "wls":
            model = smf.wls(model_formula, frame, weights=1.0 / frame["se"].to_numpy() ** 2, missing="drop")
        else:
            model = smf.ols(model_formula, frame, missing="drop")
    except patsy.PatsyError as error:
        raise _formula_error(error, formula, frame) from error
    used = frame.loc[model.data.row_labels]
    groups = np.column_stack([pd.factorize(used[key])[0] for key in keys]) if keys else None
    n_rows, k = model.exog.shape
    if n_rows <= k:
        raise InputError(
            f"{formula!r} has {k} coefficient(s) but only {n_rows} firm-event(s) with a CAR{window_text(chosen)} and "
            "every regressor; drop regressors or add events",
            parameter="formula",
            value=formula,
        )
    if groups is not None and (groups.max(axis=0, initial=0) < 1).any():
        raise InputError(
            f"clustering by {' x '.join(keys)} leaves a single cluster of some key among the {n_rows} firm-events, "
            "and a cluster-robust covariance needs at least two clusters; cluster on another key or use a "
            "heteroskedasticity-robust covariance (HC1)",
            parameter="cluster",
            value=" x ".join(keys),
        )
    if groups is not None:
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": groups[:, 0] if len(keys) == 1 else groups}, use_t=True)
        counts = [int(groups[:, i].max()) + 1 for i in range(len(keys))]
        n_clusters = " x ".join(map(str, counts))
    else:
        fit = model.fit(cov_type=cov, use_t=True)
        n_clusters = ""
    p_wild = np.full(len(fit.params), np.nan)
    if wild_bootstrap is not None and groups is not None:
        rng = np.random.default_rng(seed)
        model_weights = model.weights if weights == "wls" else None
        for column in range(len(fit.params)):  # one restricted model per term (k small)
            p_wild[column] = wild_cluster_bootstrap(
                model.endog, model.exog, groups[:, 0], column, weights=model_weights, B=wild_bootstrap, seed=rng
            ).p_value
    interval = np.asarray(fit.conf_int(0.05))
    table = pd.DataFrame(
        {
            "term": list(fit.params.index),
            "estimate": np.asarray(fit.params),
            "se": np.asarray(fit.bse),
            "t": np.asarray(fit.tvalues),
            "p": np.asarray(fit.pvalues),
            "ci_low": interval[:, 0],
            "ci_high": interval[:, 1],
            "n": int(fit.nobs),
            "n_clusters": n_clusters,
            "cov_type": cov,
            "window": window_text(chosen),
            "p_wild": p_wild,
        }
    )
    # WLS is OLS on the √w-scaled data: its hat values w_i x_i'(X'WX)⁻¹x_i and Cook's distances
    influence = sm.OLS(model.wendog, model.wexog).fit().get_influence()
    diagnostics = pd.DataFrame(
        {
            "event_id": used["event_id"].to_numpy(),
            "ticker": used["ticker"].to_numpy(),
            "car": model.endog,
            "fitted": np.asarray(fit.fittedvalues),
            "residual": np.asarray(fit.resid),
            "leverage": influence.hat_matrix_diag,
            "cooks_distance": influence.cooks_distance[0],
        }
    )
    design = patsy.dmatrix(model_formula.partition("~")[2], used).design_info
    reference_levels = tuple(
        (factor.name(), str(info.categories[0]))
        for factor, info in design.factor_infos.items()
        if info.type == "categorical"
    )
    return RegressionResult(
        formula=formula,
        window=chosen,
        weights=weights,
        cov_type=cov,
        cluster=keys,
        table=table,
        diagnostics=diagnostics,
        fit=fit,
        reference_levels=reference_levels,
    )


def read_run_cars(run_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The pooled firm-events' CARs and the event dates of a finished run's folder (``eventstudy run --out``).

    Reads ``car.csv`` (or the Parquet dataset ``car.parquet/``), keeps the firm-events that ``firm_events.csv``
    marks ``pooled`` (as :meth:`StudyResult.regress` does), and returns them with an events table (event_id,
    date) from the ``event_date`` of ``event_days.csv``; the events file adds its other columns (category).

    Raises
    ------
    InputError
        If the folder lacks one of the tables.
    """
    folder = Path(run_dir)
    keys = {"event_id": str, "ticker": str}
    tables = {}
    for name in ("car", "firm_events", "event_days"):
        csv, parquet = folder / f"{name}.csv", folder / f"{name}.parquet"
        if csv.is_file():
            tables[name] = pd.read_csv(csv, dtype=keys, keep_default_na=False, na_values=[""])
        elif parquet.exists():
            tables[name] = pd.read_parquet(parquet)
        else:
            raise InputError(
                f"{csv} is missing; give the output folder of 'eventstudy run' (it writes {name}.csv)",
                path=folder,
                value=str(csv),
            )
    pooled = tables["firm_events"]
    pooled = pooled.loc[pooled["pooled"].astype(str).str.lower() == "true", ["event_id", "ticker"]]
    car = tables["car"].merge(pooled, on=["event_id", "ticker"], how="inner")
    days = tables["event_days"]
    events = days.drop_duplicates("event_id")[["event_id", "event_date"]].rename(columns={"event_date": "date"})
    return car, events.astype({"date": str})


def _chosen_window(formula: str, window: Window | None) -> tuple[Window, str]:
    """The CAR window regressed (the formula's, else ``window``, else (-1, +1)) and the patsy formula."""
    formula_window, model_formula = parse_formula(formula)
    given: Window | None = None if window is None else (int(window[0]), int(window[1]))
    if formula_window is not None and given is not None and given != formula_window:
        raise InputError(
            f"the formula asks for CAR{window_text(formula_window)} but window={window_text(given)}; give one of them",
            parameter="window",
            value=window,
        )
    return formula_window or given or DEFAULT_WINDOW, model_formula


def _checked_options(
    weights: str, cov: str, cluster: str | Sequence[str], wild_bootstrap: int | None
) -> tuple[str, ...]:
    """Validate the estimator options; returns the cluster keys in force (empty unless ``cov="cluster"``)."""
    if weights not in ("ols", "wls"):
        raise UnknownNameError("weights", str(weights), ("ols", "wls"), parameter="weights")
    if cov not in COV_TYPES:
        raise UnknownNameError("covariance", str(cov), COV_TYPES, parameter="cov")
    keys = _cluster_keys(cluster) if cov == "cluster" else ()
    if wild_bootstrap is not None:
        if len(keys) != 1:
            raise InputError(
                "the wild cluster bootstrap needs one-way clustering: cov='cluster' with one cluster key",
                parameter="wild_bootstrap",
                value=wild_bootstrap,
            )
        if isinstance(wild_bootstrap, bool) or not isinstance(wild_bootstrap, (int, np.integer)) or wild_bootstrap < 1:
            raise InputError(
                f"the wild bootstrap's number of draws must be a positive integer, got {wild_bootstrap!r}",
                parameter="wild_bootstrap",
                value=wild_bootstrap,
            )
    return keys


@dataclass(frozen=True)
class CarRegression:
    """A CAR regression that a study runs on its result and shows in its report (``run --regress``).

    The defaults suit event studies whose firm-events share event dates: OLS, CRV1 standard errors
    clustered by event date (t(G - 1)), and a restricted wild cluster bootstrap p-value with B = 999
    Rademacher draws (all 2^G sign vectors when G <= 12), because a handful of dates is few clusters. The
    bootstrap needs one-way clusters: with ``cov`` other than ``"cluster"`` or with two cluster keys,
    ``wild_bootstrap`` is set to None (no ``p_wild``).
    :meth:`check` evaluates the formula's right-hand side on the events table when the study is set up, so
    a misspelt column fails before any price is read; :meth:`fit` delegates to :func:`regress_cars`.
    """

    formula: str
    weights: Weights = "ols"
    cov: CovType = "cluster"
    cluster: tuple[str, ...] = ("event_date",)
    wild_bootstrap: int | None = 999
    seed: int | None = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "cluster", (self.cluster,) if isinstance(self.cluster, str) else tuple(self.cluster))
        _chosen_window(self.formula, None)
        wild = self.wild_bootstrap if self.cov == "cluster" and len(self.cluster) == 1 else None
        object.__setattr__(self, "wild_bootstrap", wild)
        _checked_options(self.weights, self.cov, self.cluster, wild)

    @property
    def window(self) -> Window:
        """The CAR window regressed."""
        return _chosen_window(self.formula, None)[0]

    def check(self, events: pd.DataFrame) -> None:
        """Raise :class:`InputError` unless the right-hand side evaluates on the events table's columns."""
        import patsy

        _, model_formula = _chosen_window(self.formula, None)
        frame = events.assign(event_date=events["date"]) if "date" in events.columns else events
        try:
            patsy.dmatrix(model_formula.partition("~")[2], frame)
        except patsy.PatsyError as error:
            raise _formula_error(error, self.formula, frame) from error

    def fit(self, car: pd.DataFrame, events: pd.DataFrame) -> RegressionResult:
        """The regression on a study's pooled CARs and its events table (:func:`regress_cars`)."""
        return regress_cars(
            car,
            self.formula,
            events=events,
            weights=self.weights,
            cov=self.cov,
            cluster=self.cluster,
            wild_bootstrap=self.wild_bootstrap,
            seed=self.seed,
        )

    def describe(self, n_clusters: str = "") -> str:
        """The estimator in words, e.g. ``"OLS, CRV1 clustered by event_date (6 clusters), wild cluster ..."``.

        ``n_clusters``: the clusters of the fit (``"6"``, ``"6 x 30"``), shown when given.
        """
        cov: str = self.cov
        if self.cov == "cluster":
            cov = f"CRV1 clustered by {' x '.join(self.cluster)}" + (f" ({n_clusters} clusters)" if n_clusters else "")
        wild = (
            f", wild cluster bootstrap (all 2^G sign vectors when G <= {EXACT_MAX_CLUSTERS} clusters, else "
            f"{self.wild_bootstrap} random ones, seed {self.seed})"
        )
        return f"{self.weights.upper()}, {cov}" + (wild if self.wild_bootstrap else "")


def _cluster_keys(cluster: str | Sequence[str]) -> tuple[str, ...]:
    keys = (cluster,) if isinstance(cluster, str) else tuple(cluster)
    for key in keys:
        if key not in CLUSTER_KEYS:
            raise UnknownNameError("cluster key", key, CLUSTER_KEYS, parameter="cluster")
    if not 1 <= len(keys) <= 2 or len(set(keys)) != len(keys):
        raise InputError(
            f"cluster takes one key or two different keys among {', '.join(CLUSTER_KEYS)}",
            parameter="cluster",
            value=cluster,
        )
    return keys


def _regression_frame(
    car: pd.DataFrame, window: Window, data: pd.DataFrame | None, events: pd.DataFrame | None, *, needs_date: bool
) -> pd.DataFrame:
    """The window's CAR rows with the events-file columns (by event_id) and the user's columns merged in."""
    missing = [name for name in _CAR_KEYS if name not in car.columns]
    if missing:
        raise InputError(f"the CAR frame lacks column(s) {', '.join(missing)}", parameter="car")
    starts, ends = car["window_start"].to_numpy(), car["window_end"].to_numpy()
    rows = car[(starts == window[0]) & (ends == window[1])]
    if rows.empty:
        available = sorted({(int(s), int(e)) for s, e in zip(starts, ends, strict=True)})
        raise InputError(
            f"CAR{window_text(window)} is not among the study's CAR windows "
            f"({', '.join(window_text(w) for w in available) or 'none'}); regress one of them or rerun the study "
            "with this window in car_windows",
            parameter="window",
            value=window,
        )
    frame = rows.reset_index(drop=True)
    user_columns = set() if data is None else set(data.columns)
    if events is not None:
        extra = events.assign(event_date=events["date"]) if "date" in events.columns else events
        extra = extra.drop(columns=[c for c in extra.columns if c in user_columns and c != "event_id"])
        extra = extra.drop(columns=[c for c in extra.columns if c in frame.columns and c != "event_id"])
        frame = frame.merge(extra, on="event_id", how="left", validate="many_to_one")
    elif needs_date:
        raise InputError("clustering by event_date needs the events table (events=...)", parameter="cluster")
    if data is not None:
        frame = _merge_user_data(frame, data)
    return frame


def _merge_user_data(frame: pd.DataFrame, data: pd.DataFrame) -> pd.DataFrame:
    keys = [key for key in ("event_id", "ticker") if key in data.columns]
    if not keys:
        raise InputError(
            "the regressor data needs a key column: event_id and ticker, event_id alone, or ticker alone",
            parameter="data",
        )
    clashes = sorted((set(data.columns) - set(keys)) & set(_CAR_KEYS))
    if clashes:
        raise InputError(
            f"the regressor data has column(s) {', '.join(clashes)}, which the CAR frame owns; rename them",
            parameter="data",
        )
    duplicated = data.duplicated(subset=keys, keep=False)
    if duplicated.any():
        first = data.loc[duplicated, keys].iloc[0].tolist()
        raise InputError(
            f"the regressor data has more than one row for {' / '.join(map(str, first))} (keys {', '.join(keys)}); "
            "keep one row per key",
            parameter="data",
            value=first,
        )
    merged: pd.DataFrame = frame.merge(data, on=keys, how="left", validate="many_to_one")
    return merged


def _formula_error(error: patsy.PatsyError, formula: str, frame: pd.DataFrame) -> InputError:
    """An InputError naming the column the formula refers to but the data lack (or patsy's message)."""
    cause = error.__cause__
    if isinstance(cause, NameError):
        name = getattr(cause, "name", None) or str(cause)
        return InputError(
            f"the formula uses {name!r}, which is neither an events-file column nor a column of the regressor "
            f"data; available columns: {', '.join(map(str, frame.columns))}",
            parameter="formula",
            value=formula,
            column=str(name),
        )
    return InputError(f"the formula could not be evaluated: {error}", parameter="formula", value=formula)


__all__ = [
    "CLUSTER_KEYS",
    "COV_TYPES",
    "DIAGNOSTIC_COLUMNS",
    "TABLE_COLUMNS",
    "CarRegression",
    "RegressionResult",
    "WildBootstrapResult",
    "parse_formula",
    "read_run_cars",
    "regress_cars",
    "wild_cluster_bootstrap",
]
