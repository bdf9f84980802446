"""Quarantined dumps: the dumps whose latest stage versions failed a blocking check.

A dump is quarantined while the commit that last wrote its partition of some stage table has a failing
verdict of error severity (the latest evaluation of each check wins, see :mod:`corpuslake.verdicts`).
Publishing leaves a quarantined dump out of every snapshot whose definition does not name its dumps, and
says so in the publication's report; a definition that names a quarantined dump is blocked with the
reasons. A passing re-run of the check, or a new passing version of the partition, lifts the quarantine.
"""

from collections.abc import Mapping, Sequence

from corpuslake.store import Lake
from corpuslake.verdicts import dump_failures, latest_verdicts


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
