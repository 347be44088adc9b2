"""Single-firm inference beyond the t-test: the SQ test and a permutation test of one firm-event's AR or CAR.

Pure array functions over all firm-events at once (rows = firm-events); NaN marks a missing value and a
p-value that cannot be computed. Neither test assumes normal abnormal returns; both compare a firm-event's
event-window value with its own estimation-window residuals, so they apply to an event with one firm.

- **SQ test** (Gelbach, Helland and Klick 2013, "Valid inference in single-firm, single-event studies",
  American Law and Economics Review 15(2), 495-541): the p-value of an AR from the empirical distribution of
  the firm-event's estimation residuals, and of a CAR over L days from the empirical distribution of the sums
  of L consecutive estimation residuals (:func:`consecutive_sums`). Finite-sample rule, with n the number of
  reference values of the row: two-sided p = (1 + #{j : |x_j| >= |x|}) / (n + 1), lower (``"less"``)
  p = (1 + #{j : x_j <= x}) / (n + 1), upper (``"greater"``) p = (1 + #{j : x_j >= x}) / (n + 1). The
  observed value counts as one draw of the reference distribution, so under exchangeability of the observed
  value with the reference values P(p <= a) <= a. The reference is not centred: OLS residuals of a model with
  an intercept have mean zero by construction; the market-adjusted model's do not, and the test then also
  tests the mean. Ties count as exceedances (exact comparison). The SQ test ignores that an out-of-sample
  AR has variance s^2 (1 + h) while an in-sample residual has s^2 (1 - h) (h the OLS leverage, of order k/M).
- **Permutation test** (in the style of Nguyen and Wolf 2023): pool the firm-event's M finite estimation
  residuals and its L event ARs (P = M + L values); the statistic is T = sum of the L event values - L * (pool
  mean), and the p-value is the share of the L-subsets of the pool whose T* = (sum of the subset) - L * (pool
  mean) has |T*| >= |T| (centred on the pool mean, so that the test is two-sided around the pool's own level;
  the pool mean is the same for every subset). Exact enumeration of all C(P, L) subsets when C(P, L) <= ``exact_limit``:
  p = #{subsets with |T*| >= |T|} / C(P, L), the observed subset included. Otherwise B subsets drawn
  uniformly at random: p = (1 + #{b : |T*_b| >= |T|}) / (B + 1). |T*| >= |T| is taken within a relative
  tolerance of 1e-12 (:func:`eventstudy.inference.resampling.exceedances`), so that the observed subset
  counts although its sum is rounded differently.

  The random subsets come from a counter-based generator, so that they depend only on the seed and the
  firm-event's key (never on the other rows, their order or how the rows are chunked) and cost no generator
  object per row: the row's stream is s = mix(mix(seed + c) XOR h(key)), with h the first 8 bytes of the
  BLAKE2b digest of the key (little-endian), c = CRC-32 of ``"permutation"`` and mix the SplitMix64 finalizer
  (Steele, Lea and Flood 2014), all modulo 2^64. Draw b reads K = ceil(L / 2) hashes
  H_k = mix(s + (b K + k + 1) phi), k = 0 .. K - 1, phi = 0x9E3779B97F4A7C15, and splits each into two
  32-bit words, high then low: W_0, W_1, ... . It picks its L positions out of P by Floyd's algorithm
  (Bentley and Floyd 1987, "Programming pearls: a sample of brilliance", CACM 30(9)): for u = 0 .. L - 1,
  j = P - L + u and t = floor(W_u (j + 1) / 2^32); take t, or j when t is already taken. Every L-subset is
  then equally likely, up to the rounding of the 32-bit multiply-shift (a relative bias below P / 2^32,
  6e-8 at P = 250). The loop runs over the L positions only, vectorised over (rows x draws).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Literal, NamedTuple

import numpy as np
from scipy import special

from eventstudy._typing import BoolArray, FloatArray, IntArray
from eventstudy.errors import InputError, UnknownNameError
from eventstudy.inference.resampling import _RELATIVE_TIE, empirical_pvalue, exceedances

Alternative = Literal["two-sided", "less", "greater"]
ALTERNATIVES: tuple[Alternative, ...] = ("two-sided", "less", "greater")
DEFAULT_DRAWS = 1000  # B of the Monte Carlo permutation test (docs/methods.md §6.4 default)
DEFAULT_EXACT_LIMIT = 20_000  # enumerate all subsets when C(M + L, L) is at most this (L = 2 exact for M <= 198)
_BLOCK_ELEMENTS = 2_000_000  # bound on the (rows x comparisons) elements held at once


class PermutationPValues(NamedTuple):
    """Result of :func:`permutation_pvalues`, one entry per firm-event.

    Attributes
    ----------
    p_value : (N,)
        Two-sided permutation p-value (NaN: an event AR missing, or no estimation residual).
    subsets : (N,)
        Number of subsets compared: C(M + L, L) when exact, else B (0 where the p-value is NaN).
    exact : (N,)
        Whether the p-value comes from full enumeration.
    """

    p_value: FloatArray
    subsets: IntArray
    exact: BoolArray


def consecutive_sums(residuals: FloatArray, length: int) -> FloatArray:
    """Sums of ``length`` consecutive values of each row: the SQ reference distribution of an L-day CAR.

    Parameters
    ----------
    residuals : (N, M)
        Estimation residuals in event-time order (NaN on days not used).
    length
        L, the number of days of the CAR window (>= 1).

    Returns
    -------
    (N, max(M - L + 1, 0))
        Column j is the sum of columns j .. j + L - 1; NaN when any of those days is missing (the window is
        skipped, never zero-filled). Overlapping windows: one per start day.
    """
    ((_, sums),) = window_sums(residuals, (length,))
    return sums


def window_sums(residuals: FloatArray, lengths: Sequence[int]) -> Iterator[tuple[int, FloatArray]]:
    """(L, :func:`consecutive_sums` of L) for each distinct L of ``lengths``, shortest first.

    The sums of L days are those of L - 1 days plus the next day's value, column by column
    (S_L[:, j] = S_{L-1}[:, j] + x[:, j + L - 1]): each window is summed left to right on its own (a
    difference of running sums would lose digits), and all the lengths together cost one in-place pass over
    the columns per day of the longest, not one per day of each. The arrays given are views of one buffer:
    each is valid until the next one is produced (copy it to keep it).
    """
    values = _matrix(residuals, "residuals")
    wanted = sorted(set(lengths))
    if wanted and wanted[0] < 1:
        raise InputError(
            f"the window length must be at least 1 day, got {wanted[0]}", parameter="length", value=wanted[0]
        )
    n, m = values.shape
    sums, done = np.array(values, order="C"), 1
    # one contiguous add per day over the flattened rows: column j of a row gets column j + day of the same
    # row for j < m - day, which are the only columns used from then on (the others take the next row's)
    flat, flat_values = sums.reshape(-1), np.ascontiguousarray(values).reshape(-1)
    for length in wanted:
        if m < length:
            yield length, np.zeros((n, 0))
            continue
        for day in range(done, length):
            flat[: flat.size - day] += flat_values[day:]
        done = length
        yield length, sums[:, : m - length + 1]


def sq_pvalues(observed: FloatArray, reference: FloatArray, alternative: Alternative = "two-sided") -> FloatArray:
    """SQ p-value of each observed value from the finite values of its row's reference distribution.

    Parameters
    ----------
    observed : (N, D)
        Event-window values (ARs by day, or a CAR per row as one column).
    reference : (N, n)
        The row's reference draws (estimation residuals, or :func:`consecutive_sums` for a CAR); NaN skipped.
    alternative
        ``"two-sided"`` (default), ``"less"`` or ``"greater"``; the rules are in the module docstring.

    Returns
    -------
    (N, D)
        p = (1 + exceedances) / (n_i + 1); NaN where the observed value is missing or the row has no finite
        reference value.
    """
    if alternative not in ALTERNATIVES:
        raise UnknownNameError("alternative", str(alternative), ALTERNATIVES, parameter="alternative")
    obs = _matrix(observed, "observed")
    ref = _matrix(reference, "reference")
    if len(obs) != len(ref):
        raise InputError(
            f"observed has {len(obs)} rows and reference {len(ref)}: give one reference row per firm-event",
            parameter="reference",
        )
    if alternative == "two-sided":
        obs, ref = np.abs(obs), np.abs(ref)
    elif alternative == "less":  # #{x_j <= x} = #{-x_j >= -x}
        obs, ref = -obs, -ref
    n_ref = np.isfinite(ref).sum(axis=1)
    count = np.zeros(obs.shape)
    step = max(1, _BLOCK_ELEMENTS // max(1, obs.shape[1] * ref.shape[1]))
    for start in range(0, len(obs), step):
        rows = slice(start, start + step)
        with np.errstate(invalid="ignore"):  # NaN reference values compare False: skipped
            count[rows] = (ref[rows, None, :] >= obs[rows, :, None]).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = (1.0 + count) / (n_ref[:, None] + 1.0)
    return np.where(np.isfinite(obs) & (n_ref[:, None] > 0), p, np.nan)


def sq_car_pvalues(
    car: FloatArray, residuals: FloatArray, length: int, alternative: Alternative = "two-sided"
) -> FloatArray:
    """SQ p-value of each firm-event's CAR over an L-day window (N,), from its L-day residual sums."""
    values = np.asarray(car, dtype=np.float64).reshape(-1, 1)
    return sq_pvalues(values, consecutive_sums(residuals, length), alternative)[:, 0]


def permutation_pvalues(
    event: FloatArray,
    residuals: FloatArray,
    keys: Sequence[str] | np.ndarray,
    seed: int,
    *,
    draws: int = DEFAULT_DRAWS,
    exact_limit: int = DEFAULT_EXACT_LIMIT,
) -> PermutationPValues:
    """Two-sided permutation p-value of each firm-event's CAR over the L days of ``event``.

    Parameters
    ----------
    event : (N, L)
        The event ARs of the CAR window (a missing day makes the p-value NaN, as it makes the CAR NaN).
    residuals : (N, M)
        Estimation residuals (NaN on days not used; only the M_i finite values enter the pool).
    keys : (N,)
        Identity of each firm-event (for example ``"<event_id>|<ticker>"``): seeds its random subsets.
    seed
        Non-negative integer seed.
    draws
        B, the number of random subsets when the exact enumeration is too large.
    exact_limit
        Enumerate all subsets when C(M_i + L, L) <= exact_limit (0: always draw at random).

    Returns
    -------
    PermutationPValues
        p-value, number of subsets compared and whether exact; the rules are in the module docstring.
    """
    evt = _matrix(event, "event")
    est = _matrix(residuals, "residuals")
    n, length = evt.shape
    if len(est) != n or len(keys) != n:
        raise InputError(
            f"event has {n} rows, residuals {len(est)} and keys {len(keys)}: give one of each per firm-event",
            parameter="keys",
        )
    if length < 1:
        raise InputError("the event window has no day: give at least one event AR per row", parameter="event")
    if draws < 1 or exact_limit < 0 or seed < 0:
        raise InputError(
            f"draws must be >= 1, exact_limit and seed >= 0; got draws={draws}, exact_limit={exact_limit}, seed={seed}",
            parameter="draws",
        )
    pool, size = _pools(evt, est)
    usable = np.isfinite(evt).all(axis=1) & (size > length)
    centre = np.where(usable, length * np.nansum(pool, axis=1) / size, np.nan)
    statistic = np.where(usable, evt.sum(axis=1) - centre, np.nan)
    subsets_exact = special.comb(size, length)  # float; exact for the sizes compared with exact_limit
    exact = usable & (subsets_exact <= exact_limit)
    random = usable & ~exact
    p_value = np.full(n, np.nan)
    subsets = np.zeros(n, dtype=np.int64)
    if exact.any():
        rows = np.flatnonzero(exact)
        combos = np.array(list(combinations(range(int(size[rows].max())), length)), dtype=np.intp)
        exceed, valid = _count_subsets(pool[rows], centre[rows], statistic[rows], combos[None, :, :], size[rows])
        p_value[rows] = exceed / valid
        subsets[rows] = valid.astype(np.int64)
    if random.any():
        rows = np.flatnonzero(random)
        streams = key_streams([keys[int(i)] for i in rows], seed)
        step = max(1, _BLOCK_ELEMENTS // (draws * length))
        for start in range(0, len(rows), step):
            block = rows[start : start + step]
            picks = random_subsets(streams[start : start + step], size[block], length, draws)
            star = _random_subset_sums(pool[block], picks) - centre[block, None]
            exceed, valid = exceedances(star.T, statistic[block])
            p_value[block] = empirical_pvalue(exceed, valid)
            subsets[block] = draws
    return PermutationPValues(p_value, subsets, exact)


def permutation_day_pvalues(abnormal: FloatArray, residuals: FloatArray) -> FloatArray:
    """Exact permutation p-value of each day's AR on its own (L = 1): the pool is the residuals and that AR.

    With L = 1 the C(M + 1, 1) = M + 1 subsets are the pool's values, so the p-value is
    #{x in pool : |x - mean| >= |AR - mean|} / (M + 1), the AR itself included (the rule of
    :func:`permutation_pvalues` for a one-day window, without its enumeration).

    Parameters
    ----------
    abnormal : (N, W)
        Event-window ARs (NaN: no p-value).
    residuals : (N, M)
        Estimation residuals (NaN on days not used).

    Returns
    -------
    (N, W)
        The p-values; NaN where the AR is missing or the row has no finite residual.
    """
    evt = _matrix(abnormal, "abnormal")
    est = _matrix(residuals, "residuals")
    if len(est) != len(evt):
        raise InputError(
            f"abnormal has {len(evt)} rows and residuals {len(est)}: give one of each per firm-event",
            parameter="residuals",
        )
    m = np.isfinite(est).sum(axis=1)
    centre = (np.nansum(est, axis=1)[:, None] + evt) / (m[:, None] + 1)
    observed = np.abs(evt - centre) * (1.0 - _RELATIVE_TIE)
    count = np.ones(evt.shape)  # the AR itself
    step = max(1, _BLOCK_ELEMENTS // max(1, evt.shape[1] * est.shape[1]))
    for start in range(0, len(evt), step):
        rows = slice(start, start + step)
        with np.errstate(invalid="ignore"):  # NaN residuals compare False: skipped
            hits = np.abs(est[rows, None, :] - centre[rows, :, None]) >= observed[rows, :, None]
        count[rows] += hits.sum(axis=2)
    p = count / (m[:, None] + 1.0)
    return np.where(np.isfinite(evt) & (m[:, None] > 0), p, np.nan)


@dataclass(frozen=True, eq=False)
class SingleFirmArrays:
    """The single-firm p-values of a study's firm-events (:func:`single_firm_pvalues`).

    An array of a test that was not requested has zero columns (``ar_sq``, ``car_sq``, ``sq_reference_n``
    without the SQ test; ``ar_permutation``, ``car_permutation``, ``permutation_exact`` without the
    permutation test).

    Attributes
    ----------
    ar_sq, ar_permutation : (N, W)
        Two-sided SQ and exact permutation p-value of each event-window day's AR.
    car_sq, car_permutation : (N, C)
        Two-sided SQ and permutation p-value of each CAR window.
    sq_reference_n : (N, C) int64
        n, the number of L-day sums of consecutive residuals the CAR's SQ p-value is ranked among.
    permutation_exact : (N, C) bool
        Whether the CAR's permutation p-value enumerates every subset (else B random subsets).
    """

    ar_sq: FloatArray
    ar_permutation: FloatArray
    car_sq: FloatArray
    car_permutation: FloatArray
    sq_reference_n: IntArray
    permutation_exact: BoolArray

    def take(self, rows: IntArray) -> SingleFirmArrays:
        """The arrays of the firm-events ``rows``."""
        return SingleFirmArrays(**{name: values[rows] for name, values in vars(self).items()})


def single_firm_pvalues(
    abnormal: FloatArray,
    residuals: FloatArray,
    car: FloatArray,
    event_days: IntArray,
    car_windows: Sequence[tuple[int, int]],
    keys: Sequence[str] | np.ndarray | None,
    tests: Sequence[str],
    *,
    seed: int,
    draws: int = DEFAULT_DRAWS,
) -> SingleFirmArrays:
    """The requested single-firm tests of every firm-event's ARs and CARs (``tests`` among sq, permutation).

    Parameters
    ----------
    abnormal : (N, W)
        Event-window ARs on the relative days ``event_days`` (W,).
    residuals : (N, M)
        Estimation residuals (NaN on days not used).
    car : (N, C)
        CARs over ``car_windows`` (NaN: no p-value of that window, e.g. a missing day).
    keys : (N,) or None
        Firm-event keys (:func:`eventstudy.inference.base.firm_event_keys`: event id and ticker): seed the
        permutation test's random subsets (None when ``tests`` has no permutation test).
    seed, draws
        The permutation test's seed and B.

    Returns
    -------
    SingleFirmArrays
        SQ of each AR (:func:`sq_pvalues`) and CAR (:func:`sq_car_pvalues`, over the window's L days);
        permutation test of each AR (:func:`permutation_day_pvalues`) and of each CAR over its window's
        ARs (:func:`permutation_pvalues`). Every row's values depend on that row and its key only.
    """
    n, windows = len(abnormal), len(car_windows)
    lengths = [end - start + 1 for start, end in car_windows]
    columns = [np.flatnonzero((event_days >= start) & (event_days <= end)) for start, end in car_windows]
    has_car = np.isfinite(car)
    if "sq" in tests:
        ar_sq = sq_pvalues(abnormal, residuals)
        car_sq = np.full((n, windows), np.nan)
        sq_reference_n = np.zeros((n, windows), dtype=np.int64)
        for length, sums in window_sums(residuals, lengths):
            for c in map(int, np.flatnonzero(np.asarray(lengths) == length)):
                car_sq[:, c] = sq_pvalues(car[:, c : c + 1], sums)[:, 0]
                sq_reference_n[:, c] = np.isfinite(sums).sum(axis=1)
    else:
        ar_sq, car_sq, sq_reference_n = np.empty((n, 0)), np.empty((n, 0)), np.empty((n, 0), dtype=np.int64)
    if "permutation" in tests:
        if keys is None:
            raise InputError("the permutation test needs the firm-event keys that seed its draws", parameter="keys")
        ar_permutation = permutation_day_pvalues(abnormal, residuals)
        car_permutation = np.full((n, windows), np.nan)
        permutation_exact = np.zeros((n, windows), dtype=bool)
        for c, cols in enumerate(columns):
            result = permutation_pvalues(abnormal[:, cols], residuals, keys, seed, draws=draws)
            car_permutation[:, c] = np.where(has_car[:, c], result.p_value, np.nan)
            permutation_exact[:, c] = result.exact & has_car[:, c]
    else:
        ar_permutation, car_permutation = np.empty((n, 0)), np.empty((n, 0))
        permutation_exact = np.empty((n, 0), dtype=bool)
    return SingleFirmArrays(ar_sq, ar_permutation, car_sq, car_permutation, sq_reference_n, permutation_exact)


def _pools(event: FloatArray, residuals: FloatArray) -> tuple[FloatArray, IntArray]:
    """Each row's pool, left-aligned: its finite residuals (in order), then its event values; NaN padding.

    Returns the (N, M + L) pools and their sizes P_i = M_i + L.
    """
    n, length = event.shape
    present = np.isfinite(residuals)
    order = np.argsort(~present, axis=1, kind="stable")
    pool = np.full((n, residuals.shape[1] + length), np.nan)
    pool[:, : residuals.shape[1]] = np.take_along_axis(residuals, order, axis=1)
    m = present.sum(axis=1)
    pool[np.arange(n)[:, None], m[:, None] + np.arange(length)] = event
    return pool, (m + length).astype(np.int64)


def _count_subsets(
    pool: FloatArray, centre: FloatArray, statistic: FloatArray, picks: np.ndarray, size: IntArray
) -> tuple[FloatArray, FloatArray]:
    """Per row, the subsets with |T*| >= |T| and the subsets compared, in blocks of rows.

    ``picks`` (N or 1, S, L) holds pool positions; a subset counts for row i only if all its positions are
    below the row's pool size (so enumerating the subsets of the largest pool covers every smaller pool).
    """
    n = len(pool)
    exceed, valid = np.zeros(n), np.zeros(n)
    step = max(1, _BLOCK_ELEMENTS // max(1, picks.shape[1] * picks.shape[2]))
    for start in range(0, n, step):
        rows = slice(start, start + step)
        block_picks = picks if len(picks) == 1 else picks[rows]
        gathered = np.take_along_axis(pool[rows, None, :], block_picks.reshape(len(block_picks), -1)[:, None, :], 2)
        sums = gathered.reshape(-1, picks.shape[1], picks.shape[2]).sum(axis=2)
        inside = block_picks.max(axis=2) < size[rows, None]
        star = np.where(inside, sums - centre[rows, None], np.nan)
        exceed[rows], valid[rows] = exceedances(star.T, statistic[rows])
    return exceed, valid


_PHI = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio, the SplitMix64 increment
_STREAM_TAG = zlib.crc32(b"permutation")


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer of each uint64, in place (wrapping arithmetic): a bijection that scrambles every bit."""
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def key_streams(keys: Sequence[str], seed: int) -> np.ndarray:
    """The counter-based stream of each firm-event key (N,) uint64: mix(mix(seed + c) XOR h(key)) (module docstring)."""
    hashed = np.array(
        [int.from_bytes(hashlib.blake2b(str(k).encode("utf-8"), digest_size=8).digest(), "little") for k in keys],
        dtype=np.uint64,
    )
    base = _mix(np.array([(int(seed) + _STREAM_TAG) % 2**64], dtype=np.uint64))
    return _mix(base ^ hashed)


def random_subsets(streams: np.ndarray, sizes: IntArray, length: int, draws: int) -> IntArray:
    """``draws`` uniform random L-subsets of range(P_i) per row, by Floyd's algorithm: (L, N, draws) int64.

    Position u of draw b of row i is drawn from the 32-bit word W_u of the draw (module docstring), so a
    draw depends on the row's stream, its pool size P_i and b only.
    """
    n = len(streams)
    words = (length + 1) // 2  # K hashes per draw, two 32-bit words each
    counters = (
        np.asarray(streams, dtype=np.uint64)[:, None]
        + (np.arange(draws, dtype=np.uint64)[None, :] * np.uint64(words) + np.uint64(1)) * _PHI
    )
    offsets = np.arange(words, dtype=np.uint64) * _PHI  # k phi, wrapping (array arithmetic does not warn)
    picks = np.empty((length, n, draws), dtype=np.int64)
    for u in range(length):
        if u % 2 == 0:
            hashed = _mix(counters + offsets[u // 2])
            word = hashed >> np.uint64(32)
        else:
            word = hashed & np.uint64(0xFFFFFFFF)
        top = np.asarray(sizes, dtype=np.int64)[:, None] - (length - u)  # j = P - L + u
        chosen = ((word * (top + 1).astype(np.uint64)) >> np.uint64(32)).astype(np.int64)  # floor(W (j + 1) / 2^32)
        taken = np.zeros(chosen.shape, dtype=bool)
        for earlier in picks[:u]:
            taken |= earlier == chosen
        picks[u] = np.where(taken, top, chosen)
    return picks


def _random_subset_sums(pool: FloatArray, picks: IntArray) -> FloatArray:
    """Sum of the pool values of each drawn subset (N, draws), from ``picks`` (L, N, draws)."""
    sums = np.zeros(picks.shape[1:])
    for column in picks:
        sums += np.take_along_axis(pool, column, axis=1)
    return sums


def _matrix(values: FloatArray, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise InputError(f"{name} must be a 2-D (firm-events x days) array, got shape {array.shape}", parameter=name)
    return array


__all__ = [
    "ALTERNATIVES",
    "DEFAULT_DRAWS",
    "DEFAULT_EXACT_LIMIT",
    "PermutationPValues",
    "SingleFirmArrays",
    "consecutive_sums",
    "key_streams",
    "permutation_day_pvalues",
    "permutation_pvalues",
    "random_subsets",
    "single_firm_pvalues",
    "sq_car_pvalues",
    "sq_pvalues",
    "window_sums",
]
