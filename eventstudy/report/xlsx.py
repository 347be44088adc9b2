"""Spreadsheet export: the at-a-glance, CAR and tests tables as sheets of one XLSX workbook (openpyxl).

Numbers stay numbers: a CAR, a CAAR or a statistic that is a return is stored as a fraction with a percent
number format (``0.00%``), so a spreadsheet computes with the value it shows; dates are dates; missing values
are empty cells. Each sheet's header row is bold and frozen. The workbook is byte-reproducible: its
document properties carry a fixed date and every member of the zip archive a fixed timestamp.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eventstudy.formatting import fmt_int
from eventstudy.outputs import LARGE_TABLE_ROWS
from eventstudy.report._tables import ReportableResult
from eventstudy.summary import RETURN_STATISTICS, Summary

__all__ = ["FIXED_TIME", "PERCENT_FORMAT", "SHEETS", "XLSX_MAX_ROWS", "render_xlsx", "sheet_frames"]

PERCENT_FORMAT = "0.00%"
"""Number format of cells that hold a return (a fraction shown in percent)."""
DATE_FORMAT = "yyyy-mm-dd"
DATE_TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
FIXED_TIME = dt.datetime(2000, 1, 1)
"""Creation and modification time written into the workbook (the output must not depend on the clock)."""
SHEETS = ("At a glance", "CAR", "Tests", "About")
"""Sheet names, in order."""
XLSX_MAX_ROWS = LARGE_TABLE_ROWS
"""The CAR and Tests sheets hold at most this many rows (their first); a larger table is written as Parquet with
the result (:mod:`eventstudy.outputs`) and the About sheet says so (a sheet cannot exceed 1,048,576 rows)."""


def sheet_frames(result: ReportableResult, summary: Summary | None = None) -> dict[str, pd.DataFrame]:
    """The frames written as sheets: the summary's at-a-glance numbers, ``result.car`` and ``result.tests``.

    Parameters
    ----------
    result
        A study result (duck-typed).
    summary
        Its summary (:meth:`eventstudy.summary.Summary.from_result` when None).

    Returns
    -------
    dict
        Sheet name -> frame, for the first three of :data:`SHEETS`.
    """
    summary = Summary.from_result(result) if summary is None else summary
    return {"At a glance": summary.glance, "CAR": result.car[:XLSX_MAX_ROWS], "Tests": result.tests[:XLSX_MAX_ROWS]}


def _percent_cells(name: str, frame: pd.DataFrame) -> np.ndarray:
    """Boolean (rows, columns) mask of the cells of a sheet that hold a return."""
    mask = np.zeros(frame.shape, dtype=bool)
    columns = list(frame.columns)
    if name == "At a glance":
        for j, column in enumerate(columns):
            if str(column).startswith("CAAR "):
                mask[:, j] = True
            elif str(column).startswith("statistic "):
                test_column = "test " + str(column).removeprefix("statistic ")
                if test_column in frame.columns:
                    mask[:, j] = frame[test_column].isin(RETURN_STATISTICS).to_numpy()
    elif name == "CAR":
        for column in ("car", "se"):
            if column in columns:
                mask[:, columns.index(column)] = True
    elif name == "Tests" and "statistic" in columns and "test" in columns:
        mask[:, columns.index("statistic")] = frame["test"].isin(RETURN_STATISTICS).to_numpy()
    return mask


def _cell_value(value: Any) -> Any:
    """A frame value as openpyxl writes it: None for missing, plain Python numbers, naive datetimes (UTC)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, (pd.Timestamp, np.datetime64, dt.date)):
        ts = pd.Timestamp(value)
        if pd.isna(ts):
            return None
        return (ts.tz_convert("UTC").tz_localize(None) if ts.tz is not None else ts).to_pydatetime()
    return None if value is None or pd.isna(value) else str(value)


def _column_values(column: pd.Series) -> list[Any]:
    """The cell values of a column (:func:`_cell_value` of each), converted per column where the dtype allows."""
    if pd.api.types.is_bool_dtype(column.dtype) and not isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
        return column.to_numpy(dtype=bool).tolist()
    if pd.api.types.is_integer_dtype(column.dtype) and not isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
        return column.to_numpy(dtype=np.int64).tolist()
    if pd.api.types.is_float_dtype(column.dtype) and not isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
        values = column.to_numpy(dtype=np.float64)
        out = values.astype(object)
        out[~np.isfinite(values)] = None
        return out.tolist()
    return [_cell_value(v) for v in column.tolist()]


def _write_sheet(ws: Any, frame: pd.DataFrame, percent: np.ndarray) -> None:
    """Write a frame into a write-only worksheet: bold frozen header, formats on returns and dates."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    for j, column in enumerate(frame.columns):
        width = max([len(str(column))] + [len(str(v)) for v in frame.iloc[:200, j]])
        ws.column_dimensions[get_column_letter(j + 1)].width = min(60, max(8, width + 2))
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for column in frame.columns:
        cell = WriteOnlyCell(ws, value=str(column))
        cell.font = bold
        header.append(cell)
    ws.append(header)
    formats: list[str | None] = []
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            dates = frame[column].dropna()
            formats.append(DATE_TIME_FORMAT if (dates != dates.dt.normalize()).any() else DATE_FORMAT)
        else:
            formats.append(None)
    columns = [_column_values(frame.iloc[:, j]) for j in range(frame.shape[1])]
    styled = percent | np.asarray([f is not None for f in formats], dtype=bool)
    plain_rows = ~styled.any(axis=1)
    for i, values in enumerate(zip(*columns, strict=True)):
        if plain_rows[i]:
            ws.append(values)
            continue
        row: list[Any] = list(values)
        for k in np.flatnonzero(styled[i]).tolist():
            cell = WriteOnlyCell(ws, value=row[k])
            cell.number_format = PERCENT_FORMAT if percent[i, k] else formats[k]
            row[k] = cell
        ws.append(row)


def _about_rows(summary: Summary, cut: Mapping[str, int]) -> Iterable[Sequence[str]]:
    """The About sheet; ``cut`` gives the full row count of each table whose sheet holds only its first rows."""
    table = summary.glance_table()
    yield (summary.title,)
    yield (summary.sentence,)
    yield ("",)
    yield (
        f"Sheets: At a glance (one row per event and pooled group), CAR ({summary.car_file}), "
        f"Tests ({summary.tests_file}).",
    )
    for name, n_rows in cut.items():
        yield (
            f"{name.capitalize() if name == 'tests' else name.upper()}: the first {fmt_int(XLSX_MAX_ROWS)} of "
            f"{fmt_int(n_rows)} rows; every row: {summary.car_file if name == 'car' else summary.tests_file}.",
        )
    yield ("Returns (CAAR, CAR, its SE, a statistic that is a return) are fractions shown in percent.",)
    yield from ((note,) for note in table.notes)
    yield (summary.primary_text(),)
    yield (summary.battery_note(),)


def _reproducible_zip(data: bytes, replace: Mapping[str, bytes]) -> bytes:
    """Rewrite a zip archive with every member dated :data:`FIXED_TIME` and some members replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = info.external_attr
            dst.writestr(member, replace.get(info.filename, src.read(info.filename)))
    return out.getvalue()


def render_xlsx(result: ReportableResult, path: str | Path, summary: Summary | None = None) -> Path:
    """Write the at-a-glance, CAR and tests tables of a study as sheets of an XLSX workbook.

    Parameters
    ----------
    result
        A study result (duck-typed, :class:`eventstudy.report._tables.ReportableResult`).
    path
        The file to write (``report.xlsx`` in a report folder).
    summary
        The result's summary, if already built.

    Returns
    -------
    pathlib.Path
        ``path``.

    Notes
    -----
    Sheets (:data:`SHEETS`): "At a glance" (:attr:`eventstudy.summary.Summary.glance`), "CAR"
    (``result.car``), "Tests" (``result.tests``), each with the frame's columns as a bold, frozen header
    row and one row per frame row (at most :data:`XLSX_MAX_ROWS`), and "About" (the study sentence, the table
    notes, and the rows a sheet leaves out). Cells that hold a
    return carry the number format :data:`PERCENT_FORMAT`; missing values are empty cells.
    """
    from openpyxl import Workbook
    from openpyxl.xml.functions import tostring

    summary = Summary.from_result(result) if summary is None else summary
    wb = Workbook(write_only=True)
    for name, frame in sheet_frames(result, summary).items():
        _write_sheet(wb.create_sheet(name), frame, _percent_cells(name, frame))
    about = wb.create_sheet(SHEETS[-1])
    about.column_dimensions["A"].width = 120
    cut = {"car": len(result.car), "tests": len(result.tests)}
    for row in _about_rows(summary, {name: n for name, n in cut.items() if n > XLSX_MAX_ROWS}):
        about.append(list(row))
    buffer = io.BytesIO()
    wb.save(buffer)  # stamps the current time as "modified"; the core properties are written again below
    wb.properties.creator = "eventstudy"
    wb.properties.created = wb.properties.modified = FIXED_TIME
    core = tostring(wb.properties.to_tree())
    out = Path(path)
    out.write_bytes(_reproducible_zip(buffer.getvalue(), {"docProps/core.xml": core}))
    return out
