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
from collections.abc import Collection, Mapping, Sequence
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


Verdicts = dict[tuple[str, int, str, str], bool]
"""(table, version, dump, check) -> passed, for checks of error severity, the latest evaluation of each."""


def latest_verdicts(lake: Lake, table: str | None = None) -> Verdicts:
    """The latest verdict of every blocking (error severity) check, of ``table`` or of every table."""
    if lake.version(CHECK_RESULTS_TABLE) is None:
        return {}
    rows = lake.read(CHECK_RESULTS_TABLE, filters={"table": table} if table is not None else None)
    rows = rows.filter(pc.equal(rows["severity"], "error")).sort_by("evaluated_at")
    columns = ["table", "version", "dump", "check", "passed"]
    return {(r["table"], r["version"], r["dump"], r["check"]): r["passed"] for r in rows.select(columns).to_pylist()}


def dump_failures(
    lake: Lake,
    table: str,
    version: int,
    required: Sequence[str] = (),
    *,
    dumps: Collection[str] | None = None,
    verdicts: Verdicts | None = None,
) -> dict[str, list[str]]:
    """Why each dump of ``table@version`` may not be published, one sentence each, for the dumps with a
    reason only: no commit wrote it, a ``required`` check has not run on the version that last wrote it,
    or a check of error severity failed there. ``dumps`` limits the dumps looked at (default: every dump
    written at or before ``version``); ``verdicts`` saves a read when the caller has them already."""
    written = partition_versions(lake, table, version)
    known = latest_verdicts(lake, table) if verdicts is None else verdicts
    failures: dict[str, list[str]] = {}
    for dump in sorted(written if dumps is None else dumps):
        if dump not in written:
            failures[dump] = [f"{table}: no commit wrote dump {dump} at or before v{version}"]
            continue
        at = written[dump]
        why = [
            f"{table}@v{at} dump {dump}: check {c} has not run" for c in required if (table, at, dump, c) not in known
        ]
        why += [
            f"{table}@v{at} dump {dump}: check {check} failed"
            for (t, v, d, check), passed in sorted(known.items())
            if (t, v, d) == (table, at, dump) and not passed
        ]
        if why:
            failures[dump] = why
    return failures


def gate_failures(lake: Lake, table: str, version: int, dumps: Sequence[str], required: Sequence[str]) -> list[str]:
    """Why ``dumps`` of ``table@version`` may not be published (empty: they may): the publication gate's
    reading of :func:`dump_failures`, the same sentences in dump order."""
    if not dumps:
        return []
    failures = dump_failures(lake, table, version, required, dumps=dumps)
    return [sentence for why in failures.values() for sentence in why]


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
