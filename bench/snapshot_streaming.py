"""Streaming speed of a published snapshot through the verifying client against raw pyarrow on the same files.

Publishes about 200 MB of real text as a snapshot in a temporary lake: the ``text`` of the sample lake's
documents (``make demo`` builds it) or, without one, of the committed quality examples, repeated under
new unique ids and sorted by id. The ``tokens`` column is a whitespace word count (the bench reads it,
it does not need real token counts). The default ``rows_per_file`` of ``publish`` is kept. Then, in the
same process, rounds alternate between:
  raw        ``pyarrow.dataset.dataset(<the snapshot's files>).to_batches()``, every batch consumed
  client     ``corpuslake.client.open(uri).batches()``, every batch consumed: the Delta log is checked
             against the manifest, and every file's size and BLAKE3 digest before its rows are released
and prints rows, bytes on disk, the best and median seconds and MB/s (bytes on disk / seconds, 1 MB =
10^6 bytes) of each, and the client/raw throughput ratio (target: at least 0.8). One more line reads
only the ``text`` column both ways. Figures only: nothing is asserted about time.

    python bench/snapshot_streaming.py [--lake lake] [--megabytes 200] [--rounds 5] [--rows-per-file N]
"""

import argparse
import gzip
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

import corpuslake.client
from corpuslake.publish import publish
from corpuslake.store import Lake

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "samples" / "quality" / "examples.jsonl.gz"
MB = 10**6


def real_text(lake_root: Path) -> tuple[pa.Table, str]:
    """Rows with ``id``, ``dump`` and ``text``: the sample lake's documents, else the quality examples."""
    if lake_root.is_dir() and Lake(str(lake_root)).version("documents") is not None:
        table = Lake(str(lake_root)).read("documents", columns=["id", "dump", "text"])
        return table, f"the documents of {lake_root}"
    with gzip.open(EXAMPLES, "rt", encoding="utf-8") as lines:
        texts = [str(json.loads(line)["text"]) for line in lines]
    table = pa.table(
        {
            "id": pa.array([f"example-{i:06d}" for i in range(len(texts))], pa.string()),
            "dump": pa.array(["QUALITY-EXAMPLES"] * len(texts), pa.string()),
            "text": pa.array(texts, pa.string()),
        }
    )
    return table, f"the quality examples in {EXAMPLES.relative_to(ROOT)}"


def repeated(base: pa.Table, megabytes: float) -> pa.Table:
    """``base`` repeated under new ids (``r<copy>-<id>``) until its text holds ``megabytes``, sorted by id,
    with a ``tokens`` column of whitespace word counts."""
    words = pc.list_value_length(pc.utf8_split_whitespace(base["text"])).cast(pa.int32())
    base = base.append_column("tokens", words)
    text_bytes = pc.sum(pc.binary_length(base["text"])).as_py() or 1
    copies = max(1, -(-int(megabytes * MB) // text_bytes))
    parts = []
    for copy in range(copies):
        ids = pc.binary_join_element_wise(pa.scalar(f"r{copy:04d}-"), base["id"], "")
        parts.append(base.set_column(0, "id", ids))
    return pa.concat_tables(parts).sort_by("id").combine_chunks()


def raw_rows(files: Sequence[str], columns: Sequence[str] | None) -> int:
    dataset = pads.dataset(list(files), format="parquet")
    return sum(batch.num_rows for batch in dataset.to_batches(columns=list(columns) if columns else None))


def client_rows(uri: str, lake: Lake, columns: Sequence[str] | None) -> int:
    snapshot = corpuslake.client.open(uri, lake)
    return sum(batch.num_rows for batch in snapshot.batches(columns))


def timed(read: Callable[[], int], rows: int) -> float:
    started = time.perf_counter()
    got = read()
    seconds = time.perf_counter() - started
    if got != rows:
        raise SystemExit(f"read {got} rows, the snapshot has {rows}")
    return seconds


def alternate(reads: dict[str, Callable[[], int]], rows: int, rounds: int) -> dict[str, list[float]]:
    """Seconds of each read per round; the order of the reads flips every round."""
    seconds: dict[str, list[float]] = {name: [] for name in reads}
    names = list(reads)
    for round_ in range(rounds):
        for name in names if round_ % 2 == 0 else names[::-1]:
            seconds[name].append(timed(reads[name], rows))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", default=str(ROOT / "lake"), help="the sample lake whose documents give the text")
    parser.add_argument("--megabytes", type=float, default=200.0, help="text to publish (10^6 bytes)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rows-per-file", type=int, default=None, help="default: publish's own default")
    args = parser.parse_args()

    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}")
    print(f"pyarrow {pa.__version__}")
    base, source = real_text(Path(args.lake))
    rows = repeated(base, args.megabytes)
    text_mb = (pc.sum(pc.binary_length(rows["text"])).as_py() or 0) / MB
    print(f"text: {source}, {base.num_rows} rows repeated to {rows.num_rows} rows, {text_mb:,.1f} MB of text")

    with tempfile.TemporaryDirectory(prefix="corpuslake-bench-") as scratch:
        lake = Lake(str(Path(scratch) / "lake"))
        options: dict[str, Any] = {} if args.rows_per_file is None else {"rows_per_file": args.rows_per_file}
        started = time.perf_counter()
        publication = publish(
            lake,
            "bench",
            "snapshot",
            rows,
            order_by="id",
            tokenizer="whitespace-words",
            upstream=(),
            definition={},
            report={},
            run_id="bench",
            code_version="bench",
            **options,
        )
        publishing = time.perf_counter() - started
        entry = publication.entry
        del rows
        folder = lake.table_uri(entry.table)
        files = [f"{folder}/{file.path}" for file in entry.manifest]
        on_disk = sum(file.size for file in entry.manifest)
        print(
            f"published {entry.uri} in {publishing:.1f}s: {entry.documents} rows in {len(files)} files, "
            f"{on_disk / MB:,.1f} MB on disk"
        )

        everything = alternate(
            {"raw": lambda: raw_rows(files, None), "client": lambda: client_rows(entry.uri, lake, None)},
            entry.documents,
            args.rounds,
        )
        text_only = alternate(
            {"raw": lambda: raw_rows(files, ["text"]), "client": lambda: client_rows(entry.uri, lake, ["text"])},
            entry.documents,
            args.rounds,
        )

    print(f"{args.rounds} alternating rounds each; MB/s = bytes on disk / seconds")
    print(f"all columns, {entry.documents} rows, {on_disk / MB:,.1f} MB on disk:")
    for name in ("raw", "client"):
        best, median = min(everything[name]), statistics.median(everything[name])
        print(
            f"  {name:<6} best {best:.3f}s ({on_disk / MB / best:,.0f} MB/s), "
            f"median {median:.3f}s ({on_disk / MB / median:,.0f} MB/s)"
        )
    print(f"  client/raw throughput: {ratios(everything)} (target >= 0.80)")
    raw, client = min(text_only["raw"]), min(text_only["client"])
    print(
        f"text column only: raw best {raw:.3f}s ({on_disk / MB / raw:,.0f} MB/s), client best {client:.3f}s "
        f"({on_disk / MB / client:,.0f} MB/s), client/raw throughput {ratios(text_only)}"
    )


def ratios(seconds: dict[str, list[float]]) -> str:
    """Client throughput over raw throughput, of the best and of the median rounds."""
    best = min(seconds["raw"]) / min(seconds["client"])
    median = statistics.median(seconds["raw"]) / statistics.median(seconds["client"])
    return f"best {best:.2f}, median {median:.2f}"


if __name__ == "__main__":
    main()
