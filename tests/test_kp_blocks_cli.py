"""``--kp-blocks`` (Kolari-Pynnönen blocks) and the two-way clustered t through the command line and the study.

Synthetic prices from ``tests/test_cli.py``'s helpers; the seed study on ``../shared`` (realdata) checks that
its report shows the block rows and the new test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_cli import write_three_events  # type: ignore[import-not-found]

from eventstudy.cli import main
from eventstudy.inference.clustered import BLOCKED_ROW

RunCli = Any


def blocked_rbar_from_block_rows(table: pd.DataFrame, group: str) -> float:
    """The blocked r̄ recomputed from the block rows: Σ_b r̄_b P_b over the group's qualifying pairs."""
    mine = table[table.group == group]
    blocks = mine[(mine.block.fillna("") != "") & (mine.block != BLOCKED_ROW) & (mine.n_pairs > 0)]
    pooled = mine[(mine.market_scope == "all") & (mine.block.fillna("") == "")].iloc[0]
    return float((blocks.r_bar * blocks.n_pairs).sum() / pooled.n_pairs)


def test_kp_blocks_through_the_console_script(tmp_path: Path, eventstudy_cli: RunCli) -> None:
    events = write_three_events(tmp_path / "in")
    run = eventstudy_cli(
        "run", str(events), "--prices", str(tmp_path / "in"), "--formats", "md", "--out", "out",
        "--kp-blocks", "ticker", "--tests", "bmp_t,kp_bmp_t,twoway_cluster_t",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = tmp_path / "out"
    table = pd.read_csv(out / "cross_correlation.csv", keep_default_na=False, na_values=[""])
    all_rows = table[table.group == "all"]
    assert list(all_rows.block.fillna("")) == ["", "ticker=A", "ticker=B", BLOCKED_ROW]
    assert list(all_rows.in_tests) == [False, False, False, True]
    blocked = all_rows[all_rows.block == BLOCKED_ROW].iloc[0]
    np.testing.assert_allclose(blocked.r_bar, blocked_rbar_from_block_rows(table, "all"), rtol=1e-9)
    assert blocked.n_pairs == all_rows.iloc[0].n_pairs == 10  # 5 firm-events, every pair overlaps
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Cross-correlation of abnormal returns (Kolari-Pynnönen r̄)" in report
    assert "| all | ticker=A |" in report and f"| all | {BLOCKED_ROW} |" in report
    assert "| KP blocks | by ticker (firm-event); cross-block correlations set to 0" in report
    tests = pd.read_csv(out / "tests.csv")
    assert set(tests.test) == {"bmp_t", "kp_bmp_t", "twoway_cluster_t"}
    two_way = tests[(tests.test == "twoway_cluster_t") & (tests.group == "all") & (tests.scope == "window")]
    defined = two_way.statistic.notna()
    assert defined.sum() >= 3 and (two_way.distribution[defined] == "t(1)").all()  # G = min(3 dates, 2 firms)
    assert two_way.reason[~defined].str.contains("variance .* is not positive").all()  # possible with G = 2


def test_kp_blocks_mapping_file_and_study_api(tmp_path: Path) -> None:
    events = write_three_events(tmp_path / "in")
    mapping = tmp_path / "blocks.csv"
    mapping.write_text("event_id,block\nr1,early\nr2,late\n", encoding="utf-8")  # p1 is in no block
    out = tmp_path / "out"
    code = main([
        "run", str(events), "--prices", str(tmp_path / "in"), "--formats", "csv", "--out", str(out), "--quiet",
        "--kp-blocks", str(mapping), "--tests", "kp_patell_z",
    ])  # fmt: skip
    assert code == 0
    table = pd.read_csv(out / "cross_correlation.csv", keep_default_na=False, na_values=[""])
    assert list(table[table.group == "all"].block.fillna("")) == ["", "block=early", "block=late", BLOCKED_ROW]
    np.testing.assert_allclose(
        table[(table.group == "all") & (table.block == BLOCKED_ROW)].r_bar.item(),
        blocked_rbar_from_block_rows(table, "all"),
        rtol=1e-9,
    )


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (("--kp-blocks", "sector"), "--kp-blocks: unknown block column 'sector'; choose one of:"),
        (("--kp-blocks", "missing.csv"), "the blocks file missing.csv does not exist"),
        (("--kp-blocks", "market", "--slice-size", "10", "--formats", "csv"), "leave out --kp-blocks"),
    ],
)
def test_bad_kp_blocks_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], fragment: str
) -> None:
    events = write_three_events(tmp_path / "in")
    code = main(["run", str(events), "--prices", str(tmp_path / "in"), "--out", str(tmp_path / "out"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()


def test_blocks_mapping_key_not_in_the_events_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = write_three_events(tmp_path / "in")
    mapping = tmp_path / "blocks.csv"
    mapping.write_text("ticker,block\nA,one\nQQQ,two\n", encoding="utf-8")
    code = main(["run", str(events), "--prices", str(tmp_path / "in"), "--kp-blocks", str(mapping), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "blocks.csv:3" in err and "QQQ" in err


@pytest.mark.realdata
def test_seed_study_report_shows_block_rows_and_the_two_way_test(
    shared_dir: Path, tmp_path: Path, eventstudy_cli: RunCli
) -> None:
    repo = Path(__file__).resolve().parents[1]
    run = eventstudy_cli(
        "run", str(repo / "events.csv"), "--prices", str(shared_dir / "data" / "curated" / "window_2019_2021"),
        "--offline", "--from", "2020-01-01", "--to", "2021-12-31", "--pairs", str(repo / "pairs.csv"),
        "--title", "China platform regulation, 2020-21", "--kp-blocks", "market", "--formats", "md",
        "--out", "seed",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = tmp_path / "seed"
    table = pd.read_csv(out / "cross_correlation.csv", keep_default_na=False, na_values=[""])
    mine = table[table.group == "all"]
    assert {"market=XHKG", "market=XNYS", BLOCKED_ROW} <= set(mine.block)
    blocked = mine[mine.block == BLOCKED_ROW].iloc[0]
    np.testing.assert_allclose(blocked.r_bar, blocked_rbar_from_block_rows(table, "all"), rtol=1e-9)
    pooled = mine.iloc[0]
    assert 0 < blocked.r_bar < pooled.r_bar  # HK-US pairs, positively correlated, now count as 0
    for market in ("XHKG", "XNYS"):  # by market, a block's r̄ is the exchange's r̄
        exchange = mine[(mine.market_scope == market) & (mine.block.fillna("") == "")].iloc[0]
        block = mine[mine.block == f"market={market}"].iloc[0]
        assert (block.r_bar, block.n_pairs) == (exchange.r_bar, exchange.n_pairs)
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Cross-correlation of abnormal returns (Kolari-Pynnönen r̄)" in report
    assert f"| all | {BLOCKED_ROW} | {blocked.r_bar:.3f} |" in report
    assert "twoway_cluster_t" in report and "| KP blocks | by market" in report
    tests = pd.read_csv(out / "tests.csv")
    headline = tests[(tests.test == "twoway_cluster_t") & (tests.group == "all") & (tests.scope == "window")]
    assert len(headline) == 5 and headline.statistic.notna().all()
