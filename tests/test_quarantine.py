"""Quarantined dumps: a dump whose latest version failed a blocking check is left out of publications.

Touches: corpuslake.quarantine over crafted verdicts, corpuslake.datasets.publish_snapshot (coverage in the
catalog entry's report, a definition naming a quarantined dump blocked), and the ``summary``, ``snapshots``
and ``resolve`` commands of corpuslake.cli, on a lake of two small ``scored`` dumps under tmp_path.
"""

from pathlib import Path

from corpuslake.quarantine import dump_failures, quarantined
from corpuslake.store import Lake
from corpuslake.verdicts import Verdict, record_verdict
from tests.test_snapshots import texts, write_scored

__all__ = ["texts"]  # the shared fixture
REQUIRED = {"scored": ["scored_expectations"]}


def _verdict(lake: Lake, version: int, dump: str, check: str, passed: bool, severity: str = "error") -> None:
    record_verdict(lake, Verdict("scored", version, dump, check, passed, "crafted", {}, "run", severity))


def test_a_failing_blocking_check_quarantines_the_dump_until_it_passes(tmp_path: Path, texts: list[str]) -> None:
    lake = Lake(str(tmp_path / "lake"))
    assert quarantined(lake) == {}  # no table, no verdict: nothing to say
    good = write_scored(lake, "D1", texts[:30])
    bad = write_scored(lake, "D2", texts[30:60])
    assert quarantined(lake) == {}  # a check that has not run quarantines only when it is required
    assert quarantined(lake, REQUIRED) == {
        "D1": [f"scored@v{good} dump D1: check scored_expectations has not run"],
        "D2": [f"scored@v{bad} dump D2: check scored_expectations has not run"],
    }
    _verdict(lake, good, "D1", "scored_expectations", True)
    _verdict(lake, bad, "D2", "scored_expectations", False)
    _verdict(lake, bad, "D2", "scored_drift", False, "warn")  # a warning never quarantines
    reasons = [f"scored@v{bad} dump D2: check scored_expectations failed"]
    assert quarantined(lake) == quarantined(lake, REQUIRED) == {"D2": reasons}
    assert dump_failures(lake, "scored", bad, dumps=["D1", "D2", "D9"]) == {
        "D2": reasons,
        "D9": [f"scored: no commit wrote dump D9 at or before v{bad}"],
    }
    _verdict(lake, bad, "D2", "scored_expectations", True)  # the latest evaluation wins
    assert quarantined(lake) == {}
    _verdict(lake, bad, "D2", "scored_expectations", False)
    newer = write_scored(lake, "D2", texts[30:60])  # a new version of the partition, checked afresh
    assert quarantined(lake) == {}
    assert quarantined(lake, REQUIRED) == {"D2": [f"scored@v{newer} dump D2: check scored_expectations has not run"]}
