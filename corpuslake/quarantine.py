"""Quarantined dumps: the dumps whose latest stage versions failed a blocking check.

A dump is quarantined while the commit that last wrote its partition of some stage table has a failing
verdict of error severity (the latest evaluation of each check wins, see :mod:`corpuslake.verdicts`).
Publishing leaves a quarantined dump out of every snapshot whose definition does not name its dumps, and
says so in the publication's report; a definition that names a quarantined dump is blocked with the
reasons. A passing re-run of the check, or a new passing version of the partition, lifts the quarantine.
"""

from collections.abc import Collection, Mapping, Sequence

import pyarrow.compute as pc

from corpuslake.store import Lake
from corpuslake.verdicts import CHECK_RESULTS_TABLE, partition_versions

Verdicts = dict[tuple[str, int, str, str], bool]
"""(table, version, dump, check) -> passed, for checks of error severity, the latest evaluation of each."""


def quarantined(lake: Lake, required: Mapping[str, Sequence[str]] | None = None) -> dict[str, list[str]]:
    """Each quarantined dump, sorted, with its reasons: one sentence per failing blocking check of the
    latest version of every table that has verdicts. With ``required`` (checks per table), a required check
    that has not run on a dump's latest version of that table is a reason too."""
    verdicts = latest_verdicts(lake)
    tables = sorted({key[0] for key in verdicts} | set(required or {}))
    reasons: dict[str, list[str]] = {}
    for table in tables:
        version = lake.version(table)
        if version is None:
            continue
        checks = (required or {}).get(table, ())
        for dump, why in dump_failures(lake, table, version, checks, verdicts=verdicts).items():
            reasons.setdefault(dump, []).extend(why)
    return dict(sorted(reasons.items()))


def dump_failures(
    lake: Lake,
    table: str,
    version: int,
    required: Sequence[str] = (),
    *,
    dumps: Collection[str] | None = None,
    verdicts: Verdicts | None = None,
) -> dict[str, list[str]]:
    """Why each dump of ``table@version`` may not be published (only the dumps with a reason; ``dumps``
    limits the dumps looked at, default every dump written at or before ``version``). The sentences are
    the publication gate's (:func:`corpuslake.verdicts.gate_failures`)."""
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


def latest_verdicts(lake: Lake, table: str | None = None) -> Verdicts:
    """The latest verdict of every blocking (error severity) check, of ``table`` or of every table."""
    if lake.version(CHECK_RESULTS_TABLE) is None:
        return {}
    rows = lake.read(CHECK_RESULTS_TABLE, filters={"table": table} if table is not None else None)
    rows = rows.filter(pc.equal(rows["severity"], "error")).sort_by("evaluated_at")
    columns = ["table", "version", "dump", "check", "passed"]
    return {(r["table"], r["version"], r["dump"], r["check"]): r["passed"] for r in rows.select(columns).to_pylist()}
