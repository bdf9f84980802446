"""Lineage lookups on a long-lived table: reading one commit file against scanning the Delta history.

A stage table gains one version per dump partition written, and every stage, check and publication asks
for the lineage of some version, or whether a dump was ever written. Scanning ``DeltaTable.history()``
reads every commit of the table, so its cost grows with the table's age; reading the one commit file
(``Lake.lineage``) and answering ``has_written`` from the current files first does not.

In a temporary local lake, writes ``--versions`` single-row dump partitions through ``Lake.write_partition``
(each a commit with lineage), then times, best of 3 rounds:

- the lineage of versions spread over the table: ``Lake.lineage`` against the peer that scans the history
  for the version (what ``Lake.lineage`` did before);
- ``has_written`` for dumps spread over the table, against the peer that scans the history for the dump;

and prints both per lookup with the ratio.

    python bench/history_lookups.py [--versions 300]
"""

import argparse
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpuslake.lineage import LINEAGE_KEY, Lineage
from corpuslake.schemas import DOCUMENTS
from corpuslake.store import Lake


def _default(kind: pa.DataType) -> object:
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return ""
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return []
    if pa.types.is_boolean(kind):
        return False
    if pa.types.is_timestamp(kind):
        return 0
    return 0


def _rows(dump: str) -> pa.Table:
    values = {field.name: pa.array([_default(field.type)], field.type) for field in DOCUMENTS}
    values |= {"id": pa.array([f"{dump}-0"]), "dump": pa.array([dump]), "text": pa.array(["text"])}
    return pa.table({field.name: values[field.name].cast(field.type) for field in DOCUMENTS}, schema=DOCUMENTS)


def _lineage_by_history(lake: Lake, table: str, version: int) -> Lineage:
    for entry in lake.history(table):
        if int(entry["version"]) == version:
            return Lineage.from_json(entry[LINEAGE_KEY])
    raise LookupError(version)


def _written_by_history(lake: Lake, table: str, dump: str) -> bool:
    return any(
        entry.get(LINEAGE_KEY) and Lineage.from_json(entry[LINEAGE_KEY]).partition == dump
        for entry in lake.history(table)
    )


def _best(fn: Callable[[], object], rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=300)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}; {args.versions} versions")
    with tempfile.TemporaryDirectory() as folder:
        lake = Lake(str(Path(folder) / "lake"))
        start = time.perf_counter()
        for index in range(args.versions):
            dump = f"D{index:05d}"
            lineage = Lineage(asset="documents", partition=dump, run_id="bench", code_version="bench", config={})
            lake.write_partition("documents", _rows(dump), lineage, {"dump": dump})
        print(f"wrote {args.versions} versions in {time.perf_counter() - start:.1f} s")
        probes = [0, args.versions // 2, args.versions - 1]
        dumps = [f"D{v:05d}" for v in probes]
        for name, ours, peer in (
            (
                "lineage",
                lambda: [lake.lineage("documents", v) for v in probes],
                lambda: [_lineage_by_history(lake, "documents", v) for v in probes],
            ),
            (
                "has_written",
                lambda: [lake.has_written("documents", d) for d in dumps],
                lambda: [_written_by_history(lake, "documents", d) for d in dumps],
            ),
        ):
            assert ours() == peer(), name  # same answers
            fast, slow = _best(ours) / len(probes), _best(peer) / len(probes)
            print(
                f"{name:12s} per lookup: {fast * 1000:8.2f} ms   history scan {slow * 1000:8.2f} ms   "
                f"ratio {slow / fast:6.1f}x"
            )


if __name__ == "__main__":
    main()
