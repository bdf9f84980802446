"""Check verdicts kept in the lake, and the gate that publishing passes through.

Every data-quality check records its verdict for the exact table version and dump partition it read
(table ``check_results``, append-only). Publishing a snapshot asks the gate whether every dump it reads
passed the required checks *at the version it reads*: for each dump, the commit that last wrote that
partition (at or before the version read) must have a passing verdict from each required check. A
missing verdict blocks as surely as a failed one: nothing unaudited reaches a training job.

Blocked publications are recorded too (table ``publication_log``), so ``corpuslake snapshots`` can say
why a name did not get a new number.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from corpuslake.lineage import LINEAGE_KEY, Lineage, TableVersion
from corpuslake.store import Lake

CHECK_RESULTS_TABLE = "check_results"
PUBLICATION_LOG_TABLE = "publication_log"

CHECK_RESULTS = pa.schema(
    [
        pa.field("table", pa.string(), nullable=False),
        pa.field("version", pa.int64(), nullable=False),
        pa.field("dump", pa.string(), nullable=False),
        pa.field("check", pa.string(), nullable=False),
        pa.field("passed", pa.bool_(), nullable=False),
        pa.field("severity", pa.string(), nullable=False),  # error (blocks) or warn (reported only)
        pa.field("summary", pa.string(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),  # JSON
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("evaluated_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)

PUBLICATION_LOG = pa.schema(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("attempted_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("outcome", pa.string(), nullable=False),  # blocked
        pa.field("reasons", pa.string(), nullable=False),  # JSON list of sentences
    ]
)


@dataclass(frozen=True)
class Verdict:
    table: str
    version: int
    dump: str
    check: str
    passed: bool
    summary: str
    detail: Mapping[str, Any]
    run_id: str
    severity: str = "error"


def record_verdict(lake: Lake, verdict: Verdict) -> None:
    """Append one verdict (its own small commit; concurrent appends do not conflict)."""
    row = {
        "table": verdict.table,
        "version": verdict.version,
        "dump": verdict.dump,
        "check": verdict.check,
        "passed": verdict.passed,
        "severity": verdict.severity,
        "summary": verdict.summary,
        "detail": json.dumps(verdict.detail, sort_keys=True, default=str),
        "run_id": verdict.run_id,
        "evaluated_at": datetime.now(UTC),
    }
    lineage = Lineage(
        f"check:{verdict.check}", verdict.dump, verdict.run_id, "1", {}, (TableVersion(verdict.table, verdict.version),)
    )
    lake.append(CHECK_RESULTS_TABLE, pa.Table.from_pylist([row], schema=CHECK_RESULTS), lineage)


def partition_commits(lake: Lake, table: str, at: int) -> dict[str, tuple[int, Lineage]]:
    """For each dump, the version (at or before ``at``) whose commit last wrote that partition, with the
    lineage that commit carries (one read of the history)."""
    written: dict[str, tuple[int, Lineage]] = {}
    for entry in lake.history(table):
        version = int(entry["version"])
        raw = entry.get(LINEAGE_KEY)
        if version > at or not raw:
            continue
        lineage = Lineage.from_json(raw)
        dump = lineage.partition
        if dump is not None and version > written.get(dump, (-1, lineage))[0]:
            written[dump] = (version, lineage)
    return written


def partition_versions(lake: Lake, table: str, at: int) -> dict[str, int]:
    """For each dump, the version (at or before ``at``) whose commit last wrote that partition."""
    return {dump: version for dump, (version, _) in partition_commits(lake, table, at).items()}


def gate_failures(lake: Lake, table: str, version: int, dumps: Sequence[str], required: Sequence[str]) -> list[str]:
    """Why ``dumps`` of ``table@version`` may not be published (empty: they may), one sentence each: a
    required check that has not run, or any check of error severity that failed."""
    if not dumps:
        return []
    written = partition_versions(lake, table, version)
    verdicts: dict[tuple[int, str, str], bool] = {}
    if lake.version(CHECK_RESULTS_TABLE) is not None:
        rows = lake.read(CHECK_RESULTS_TABLE, filters={"table": table})
        rows = rows.filter(pc.equal(rows["severity"], "error"))
        for row in rows.sort_by("evaluated_at").select(["version", "dump", "check", "passed"]).to_pylist():
            verdicts[(row["version"], row["dump"], row["check"])] = row["passed"]  # the latest evaluation wins
    problems = []
    for dump in sorted(dumps):
        if dump not in written:
            problems.append(f"{table}: no commit wrote dump {dump} at or before v{version}")
            continue
        for check in required:
            if (written[dump], dump, check) not in verdicts:
                problems.append(f"{table}@v{written[dump]} dump {dump}: check {check} has not run")
        for (version, checked_dump, check), passed in sorted(verdicts.items()):
            if (version, checked_dump) == (written[dump], dump) and not passed:
                problems.append(f"{table}@v{version} dump {dump}: check {check} failed")
    return problems


def record_blocked(lake: Lake, name: str, run_id: str, reasons: Sequence[str]) -> None:
    row = {
        "name": name,
        "attempted_at": datetime.now(UTC),
        "run_id": run_id,
        "outcome": "blocked",
        "reasons": json.dumps(list(reasons)),
    }
    lineage = Lineage("publication_log", name, run_id, "1", {})
    lake.append(PUBLICATION_LOG_TABLE, pa.Table.from_pylist([row], schema=PUBLICATION_LOG), lineage)


def blocked_attempts(lake: Lake, name: str | None = None) -> list[dict[str, Any]]:
    """Blocked publications, oldest first, with their reasons as a list."""
    if lake.version(PUBLICATION_LOG_TABLE) is None:
        return []
    rows = lake.read(PUBLICATION_LOG_TABLE).sort_by("attempted_at").to_pylist()
    return [r | {"reasons": json.loads(r["reasons"])} for r in rows if name is None or r["name"] == name]
