"""Exceptions and warnings of ``eventstudy``, each error with its command-line exit code.

Hierarchy::

    EventStudyError(Exception)                  exit 1   a failure we detected and can explain
      InputError(EventStudyError, ValueError)   exit 2   bad events file, option, window or price file
        UnknownNameError(InputError)            exit 2   unknown model, test or profile name
      DataError(EventStudyError)                exit 3   no usable prices at all, unreadable store
        PriceSourceError(DataError)             exit 3   one ticker failed; the study turns it into an exclusion
      WorkerLostError(EventStudyError)          exit 1   worker processes kept dying (killed, out of memory)
    EventStudyWarning(UserWarning)                       base of every warning the package emits
      ReturnUnitsWarning                                 returns that look like percent, or a gain > 100 %

:class:`Located` carries the where (file, line, column, option) of an InputError or a ReturnUnitsWarning.
Messages say what is wrong, where (file:line:column, ticker, parameter), what was received and what to
do; the parts are kept as attributes so that tests can assert on fields rather than wording.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


class EventStudyError(Exception):
    """Base class of every error the package raises on purpose."""

    exit_code: int = 1


class Located(Exception):
    """Where a bad value is, kept as fields: file, 1-based line, column, value received, option name.

    A mixin for :class:`InputError` and :class:`ReturnUnitsWarning`: the message reads
    ``path:line: column 'name': message`` (or ``parameter: message``) with the parts that are known.

    Parameters
    ----------
    message
        What is wrong and what to do about it.
    path, line, column
        Where the problem is (file, 1-based line, column name), when it comes from a file.
    value
        The offending value as received.
    parameter
        The option or argument name (or the name of an in-memory source), when it does not come from a file.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        column: str | None = None,
        value: object = None,
        parameter: str | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.column = column
        self.value = value
        self.parameter = parameter
        super().__init__(self._located())

    def _located(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
            if self.column is not None:
                where += f": column '{self.column}'"
        elif self.parameter is not None:
            where = self.parameter
        return f"{where}: {self.message}" if where else self.message


class InputError(Located, EventStudyError, ValueError):
    """Bad user input: an events file, a price file, an option or a window (fields as in :class:`Located`)."""

    exit_code = 2


class UnknownNameError(InputError):
    """An unknown model, test, profile or option value; the message lists the valid names."""

    def __init__(self, kind: str, name: str, valid: Iterable[str], *, parameter: str | None = None) -> None:
        self.kind = kind
        self.valid = tuple(sorted(valid))
        super().__init__(
            f"unknown {kind} {name!r}; choose one of: {', '.join(self.valid)}",
            value=name,
            parameter=parameter,
        )


class DataError(EventStudyError):
    """No usable data at all (no prices for any ticker) or an unreadable price store."""

    exit_code = 3


class PriceSourceError(DataError):
    """Prices for one symbol could not be obtained.

    The study turns this into an exclusion row for every (event, ticker) pair that needs the symbol; it is
    raised to the caller only when nothing at all could be loaded.

    Parameters
    ----------
    symbol
        The ticker or benchmark symbol.
    reason
        Short machine-friendly reason, e.g. ``"no data"``, ``"rate limited"``, ``"network"``,
        ``"not in store (offline)"``, ``"bad file"``.
    detail
        Human-readable explanation including what to do.
    """

    def __init__(self, symbol: str, reason: str, detail: str = "") -> None:
        self.symbol = symbol
        self.reason = reason
        self.detail = detail
        text = f"{symbol}: {reason}"
        if detail:
            text += f" ({detail})"
        super().__init__(text)


class WorkerLostError(EventStudyError):
    """Worker processes of an executor kept dying (killed, out of memory) until its retries ran out.

    Parameters
    ----------
    executor
        The executor's name (``"processes"``, ``"dask"``).
    unfinished
        How many work items had no result when the executor gave up.
    attempts
        How many times the items were started (pools of ``"processes"``); None when the cluster counts
        them (``"dask"``: a task is given up after ``distributed.scheduler.allowed-failures`` lost workers).
    """

    def __init__(self, executor: str, unfinished: int, attempts: int | None) -> None:
        self.executor = executor
        self.unfinished = unfinished
        self.attempts = attempts
        tries = f"in each of {attempts} attempts" if attempts is not None else "each time a chunk was retried"
        super().__init__(
            f"{executor} executor: a worker process died {tries}, leaving {unfinished} chunk(s) without a result "
            "(killed, or out of memory?); give each worker more memory, or use a smaller chunk size or fewer "
            "workers"
        )


class EventStudyWarning(UserWarning):
    """Base class of every warning emitted by ``eventstudy``: one filter silences them all."""


class ReturnUnitsWarning(Located, EventStudyWarning):
    """User-supplied returns that look like percent, or hold a daily gain of more than 100 %.

    Fields as in :class:`Located`: the file, line and column of the first return concerned and its value,
    or ``parameter`` naming the in-memory source.
    """


class EstimationMemoryWarning(EventStudyWarning):
    """The estimation-window arrays a study must keep for its tests take a large share of the machine's memory."""


__all__ = [
    "DataError",
    "EstimationMemoryWarning",
    "EventStudyError",
    "EventStudyWarning",
    "InputError",
    "Located",
    "PriceSourceError",
    "ReturnUnitsWarning",
    "UnknownNameError",
    "WorkerLostError",
]
