"""``corpuslake trace`` on a large export: CPU seconds and peak RSS against the sidecar's size.

Writes an export folder holding only what trace reads (``export.json`` and ``train.docs.parquet``, with
the export's own sidecar writer, row groups of 65,536 documents) for ``--documents`` synthetic documents
of 1 to 2,000 tokens with ids, urls, three dumps, two sources and quality scores (a tenth missing). Then
each range is traced by ``corpuslake trace --json`` in its own process, and the process's CPU seconds
(user + sys) and peak RSS are printed with the documents found. Figures only: nothing is asserted.

    python bench/trace_scale.py [--documents 5000000] [--keep DIR]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from measure import run_child

from corpuslake.export.manifest import write_manifest
from corpuslake.export.sidecar import DocsWriter

_BATCH = 100_000


def write_export(folder: Path, documents: int) -> int:
    """The sidecar and manifest of ``documents`` synthetic documents; the number of tokens."""
    rng = np.random.default_rng(0)
    writer = DocsWriter(folder / "train.docs.parquet")
    for start in range(0, documents, _BATCH):
        count = min(_BATCH, documents - start)
        index = np.arange(start, start + count)
        scores = rng.random(count)
        meta = pa.table(
            {
                "pin": pa.array(["corpuslake://bench@1"] * count),
                "id": pa.array([f"{i:032x}" for i in index]),
                "dump": pa.array([f"CC-MAIN-2024-{10 + i % 3}" for i in index]),
                "url": pa.array([f"https://example.org/{i}" for i in index]),
                "source": pa.array(["web@1" if i % 4 else "hq@1" for i in index]),
                "quality": pa.array(scores, mask=scores < 0.1),
            }
        )
        writer.add(meta, rng.integers(1, 2001, count).astype(np.int32))
    writer.close()
    splits = {"train": {"prefix": "train", "documents": documents, "tokens": writer.tokens}}
    write_manifest(folder, {"pin": "corpuslake://bench@1", "format": "megatron", "splits": splits})
    return writer.tokens


def trace(folder: Path, tokens: str) -> tuple[float, float, int, int]:
    """Seconds, CPU seconds, peak RSS (KB) and output lines of one trace in its own process."""
    command = [sys.executable, "-m", "corpuslake.cli", "trace", str(folder), "--tokens", tokens, "--json"]
    child = run_child(command, f"trace {tokens}")
    return child.seconds, child.cpu_seconds, child.peak_rss_kb, child.stdout.count(b"\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=5_000_000)
    parser.add_argument("--keep", help="write the export here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.keep or scratch) / "export"
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        total = write_export(folder, args.documents)
        size = (folder / "train.docs.parquet").stat().st_size
        print(f"{args.documents:,} documents, {total:,} tokens, sidecar {size / 1e6:.0f} MB", end="")
        print(f" (written in {time.perf_counter() - started:.1f} s)")
        middle = total // 2
        for label, tokens in (
            ("first 4k tokens", "0:4096"),
            ("4k in the middle", f"{middle}:{middle + 4096}"),
            ("last 4k tokens", f"{total - 4096}:{total}"),
            ("1% of the stream", f"{middle}:{middle + total // 100}"),
        ):
            seconds, cpu, rss, lines = trace(folder, tokens)
            found = f"{lines - 2:,} documents"
            print(f"  {label:<18} {seconds:6.2f} s  cpu {cpu:6.2f} s  peak RSS {rss / 1024:6.0f} MB  {found}")


if __name__ == "__main__":
    main()
