"""Brown-Warner style size and power simulations on a wide return panel (``docs/methods.md`` §7).

A simulation draws ``n_samples`` samples of ``n_events`` random (ticker, day 0) pairs from a panel of
daily returns, optionally adds an abnormal return δ to the event-window returns on chosen days, runs
the study engine on every sample (model fit, CARs and their variances, every chosen test) and reports,
for each test, scope and day or CAR window, the share of samples in which the test rejects at level α.

The package is split by concept:

- :mod:`eventstudy.simulate.panel`: :class:`WidePanel`, the (dates x tickers) return panel drawn from,
  and :func:`default_panel_dir`;
- :mod:`eventstudy.simulate.engine`: :func:`simulate`, the sampling of firm-events, the per-chunk run of
  the study engine and the worker processes;
- :mod:`eventstudy.simulate.results`: :class:`SimulationSpec` and :class:`SimulationResult` (rejection
  rates, markdown tables, CSV output) and :func:`plot_power`.

Every public name is importable from ``eventstudy.simulate``.
"""

from __future__ import annotations

from eventstudy.simulate.engine import _Context, _return_panel, _Sampler, simulate  # noqa: F401  (used by the tests)
from eventstudy.simulate.panel import DEFAULT_PANEL, WidePanel, default_panel_dir  # noqa: F401  (DEFAULT_PANEL)
from eventstudy.simulate.results import TABLE_COLUMNS, SimulationResult, SimulationSpec, plot_power

__all__ = [
    "TABLE_COLUMNS",
    "SimulationResult",
    "SimulationSpec",
    "WidePanel",
    "default_panel_dir",
    "plot_power",
    "simulate",
]
