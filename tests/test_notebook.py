"""Execute ``notebooks/seed_events.ipynb`` end to end on the shared prices.

The notebook is stored without outputs; here it runs in a fresh kernel of *this* interpreter (a kernelspec
written into a temporary ``JUPYTER_PATH``, so a ``python3`` kernelspec elsewhere on the machine cannot
pick another Python), from ``notebooks/`` as its working directory, with ``EVENTSTUDY_SHARED_DIR``
pointing at the shared folder and ``EVENTSTUDY_REPORTS_DIR`` at a temporary folder, so nothing is
written into the repository. Its CARs of the 2020-21 events must equal those of the README's seed run of
the command line (the session's ``seed_reports``): two interfaces, one engine, keyed by event.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "seed_events.ipynb"

_PROBE = (
    "import json as _json, sys as _sys, eventstudy as _es\n"
    "print('KERNEL-PROBE ' + _json.dumps({'executable': _sys.executable, 'prefix': _sys.prefix, "
    "'eventstudy': _es.__file__}))"
)
_CAR_PROBE = "print('CAR-PROBE\\n' + result_a.car.to_csv(index=False))"


def _read_notebook() -> Any:
    nbformat = pytest.importorskip("nbformat")
    return nbformat.read(NOTEBOOK, as_version=4)


def _texts(cell: Any, kind: str) -> str:
    """Concatenated stream text of one stream kind (``stdout``/``stderr``) of a code cell."""
    return "".join(
        o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == kind
    )


def _cell(nb: Any, fragment: str) -> Any:
    """The first code cell whose source contains ``fragment``."""
    for cell in nb.cells:
        if cell.cell_type == "code" and fragment in cell.source:
            return cell
    raise AssertionError(f"no code cell contains {fragment!r}")


def test_notebook_is_stored_without_outputs() -> None:
    nb = _read_notebook()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "the notebook has no code cells"
    dirty = [i for i, c in enumerate(code) if c.get("outputs") or c.get("execution_count") is not None]
    assert not dirty, f"code cells {dirty} carry outputs or execution counts; clear them before committing"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.slow
@pytest.mark.realdata
def test_seed_notebook_executes(
    shared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed_reports: dict[str, Any]
) -> None:
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    kernelspec = pytest.importorskip("ipykernel.kernelspec")

    jupyter_path = tmp_path / "jupyter"
    kernelspec.write_kernel_spec(jupyter_path / "kernels" / "python3")  # argv[0] = this sys.executable
    reports = tmp_path / "reports"
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter_path))
    monkeypatch.setenv("EVENTSTUDY_SHARED_DIR", str(shared_dir))
    monkeypatch.setenv("EVENTSTUDY_REPORTS_DIR", str(reports))
    monkeypatch.setenv("MPLBACKEND", "Agg")

    nb = _read_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(_CAR_PROBE))
    nb.cells.append(nbformat.v4.new_code_cell(_PROBE))
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=120,
        resources={"metadata": {"path": str(REPO / "notebooks")}},
    )
    client.execute()

    # The kernel ran this virtualenv's interpreter and imported this checkout's package.
    probe = _texts(nb.cells[-1], "stdout")
    kernel = json.loads(probe.split("KERNEL-PROBE ", 1)[1])
    assert kernel["executable"] == sys.executable
    assert kernel["prefix"] == sys.prefix
    assert Path(kernel["eventstudy"]).resolve().is_relative_to(REPO / "eventstudy")

    # No warnings or other stderr output from the notebook's own code.
    noisy = {i: _texts(c, "stderr") for i, c in enumerate(nb.cells) if c.cell_type == "code" and _texts(c, "stderr")}
    assert not noisy, f"cells wrote to stderr: {noisy}"

    # The result displays through its HTML view, the figures render and the chart is exported.
    shown = _cell(nb, "result_a = study_a.run()").outputs
    assert any("text/html" in o.get("data", {}) for o in shown), "result_a did not display as HTML"
    plotted = _cell(nb, 'fig_xi = result_a.plot_car("xi_cfeac_platform_economy")').outputs
    assert any("image/png" in o.get("data", {}) for o in plotted), "the CAR figure did not render"
    chart = reports / "seed_notebook" / "car_xi_cfeac_platform_economy.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The Tencent / Alibaba / Meituan table of the Xi meeting has all three lines.
    table = "".join(o["data"].get("text/plain", "") for o in _cell(nb, "big3 = ").outputs if "data" in o)
    for ticker in ("0700.HK", "9988.HK", "3690.HK"):
        assert ticker in table

    # The notebook's 2020-21 CARs are the command line's (same firm-events, same windows, same numbers).
    seed = seed_reports["seed_2020_2021"]
    assert seed.run.returncode == 0, seed.run.stderr
    keys = ["event_id", "ticker", "window_start", "window_end"]
    notebook = pd.read_csv(io.StringIO(_texts(nb.cells[-2], "stdout").split("CAR-PROBE\n", 1)[1]))
    cli = pd.read_csv(seed.out / "car.csv")
    cli = cli[cli["event_id"].isin(set(notebook["event_id"]))]
    assert len(notebook) > 50 and len(cli) == len(notebook)
    both = notebook.merge(cli, on=keys, suffixes=("_nb", "_cli"), validate="one_to_one")
    assert len(both) == len(notebook)
    for column in ("car", "se"):  # car.csv keeps 10 significant digits
        np.testing.assert_allclose(both[f"{column}_nb"], both[f"{column}_cli"], rtol=1e-8, equal_nan=True)
