"""``corpuslake sample`` and ``corpuslake why`` on a large dump: CPU seconds and peak RSS against its size.

Writes a lake with one dump of ``--documents`` synthetic documents (texts of about 800 characters from a
fixed vocabulary, five languages, ids and URLs) in ``documents``, and the filtered stage's rejections of
one document in three (two reasons, the rejecting commit's lineage naming the documents version), written
as streams of 50,000 rows. Then each command runs in its own process (through its parser, as the command
line does) and the process's CPU seconds (user + sys) and peak RSS are printed. Figures only.

    python bench/inspect_scale.py [--documents 1000000] [--keep DIR]
"""

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
from measure import run_child

from corpuslake.lineage import Lineage, TableVersion
from corpuslake.schemas import DOCUMENTS, REJECTIONS
from corpuslake.store import FileWriter, Lake, WrittenFile

DUMP = "BENCH-2024-10"
_BATCH = 49_152  # a multiple of the row group
_FILE_ROWS = 65_536
_GROUP_ROWS = 8_192
_WORDS = np.array([f"w{i:x}" for i in range(5_000)])
_LANGUAGES = np.array(["en", "en", "en", "fr", "de"])
_DRIVER = (
    "import argparse, sys\n"
    "from corpuslake.inspect.cli import add_sample_parser, add_why_parser\n"
    "p = argparse.ArgumentParser(); s = p.add_subparsers(); add_sample_parser(s); add_why_parser(s)\n"
    "a = p.parse_args(sys.argv[1:]); sys.exit(a.handler(a))\n"
)


def _documents(documents: int) -> Iterator[pa.RecordBatch]:
    rng = np.random.default_rng(0)
    for start in range(0, documents, _BATCH):
        n = min(_BATCH, documents - start)
        index = np.arange(start, start + n)
        words = _WORDS[rng.integers(0, len(_WORDS), (n, 160))]
        texts = [" ".join(row) for row in words]
        columns = {
            "id": [f"{i:032x}" for i in index],
            "dump": [DUMP] * n,
            "url": [f"https://site{i % 997}.example.org/page/{i}" for i in index],
            "warc_record_id": [f"<urn:uuid:{i:032x}>" for i in index],
            "warc_date": pa.nulls(n, pa.timestamp("us", tz="UTC")),
            "source_file": ["bench.warc.gz"] * n,
            "warc_offset": index,
            "content_type": ["text/html"] * n,
            "encoding": ["utf-8"] * n,
            "html_bytes": [2_000] * n,
            "replaced_fraction": pa.array(np.zeros(n, np.float32)),
            "text": texts,
            "text_chars": [len(t) for t in texts],
            "language": _LANGUAGES[index % len(_LANGUAGES)],
            "language_score": pa.array(rng.random(n).astype(np.float32)),
        }
        yield pa.RecordBatch.from_pydict(columns, schema=DOCUMENTS)


def _rejections(documents: int) -> Iterator[pa.RecordBatch]:
    for start in range(0, documents, _BATCH * 3):
        index = np.arange(start, min(start + _BATCH * 3, documents), 3)
        n = len(index)
        reasons = np.where(index % 2 == 0, "short_doc", "few_stop_words")
        columns = {
            "id": [f"{i:032x}" for i in index],
            "dump": [DUMP] * n,
            "stage": ["filtered"] * n,
            "filter": ["gopher_quality"] * n,
            "reason": reasons,
            "detail": [f"gopher_quality/{r}: 12 words < 50" for r in reasons],
            "url": [f"https://site{i % 997}.example.org/page/{i}" for i in index],
            "signals": ['{"gopher_words": 12, "gopher_stop_words": 1}'] * n,
        }
        columns |= {name: pa.nulls(n, REJECTIONS.field(name).type) for name in REJECTIONS.names if name not in columns}
        yield pa.RecordBatch.from_pydict(columns, schema=REJECTIONS)


def _write(
    lake: Lake, table: str, batches: Iterator[pa.RecordBatch], lineage: Lineage, partition: dict[str, str]
) -> int:
    """The batches as the stages write them (row groups of 8,192 rows, 65,536 rows a file), one commit."""
    schema = DOCUMENTS if table == "documents" else REJECTIONS
    stored = pa.schema([f for f in schema if f.name not in partition])
    files: list[WrittenFile] = []
    writer: FileWriter | None = None
    for batch in batches:
        rows = pa.Table.from_batches([batch]).select(stored.names)
        for group in range(0, rows.num_rows, _GROUP_ROWS):
            if writer is None:
                writer = lake.file_writer(table, f"dump={DUMP}/bench-{len(files):05d}.parquet", stored)
            writer.write(rows.slice(group, _GROUP_ROWS))
            if writer.rows >= _FILE_ROWS:
                files.append(writer.close())
                writer = None
    if writer is not None:
        files.append(writer.close())
    return lake.commit_files(table, files, schema, lineage, partition)


def write_lake(root: Path, documents: int) -> Lake:
    lake = Lake(str(root))
    written = Lineage("documents", DUMP, "bench", "b", {})
    version = _write(lake, "documents", _documents(documents), written, {"dump": DUMP})
    lineage = Lineage("filtered", DUMP, "bench", "b", {}, (TableVersion("documents", version),))
    _write(lake, "rejections", _rejections(documents), lineage, {"dump": DUMP, "stage": "filtered"})
    return lake


def run(lake: Lake, *argv: str) -> tuple[float, float, int, int]:
    """Seconds, CPU seconds, peak RSS (KB) and output bytes of one command in its own process."""
    child = run_child([sys.executable, "-c", _DRIVER, *argv, "--lake", lake.root, "--json"], " ".join(argv))
    return child.seconds, child.cpu_seconds, child.peak_rss_kb, len(child.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--keep", help="write the lake here and keep it (default: a temporary folder)")
    parser.add_argument("--write-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(args.keep or scratch) / "lake"
        started = time.perf_counter()
        if args.write_only:
            write_lake(root, args.documents)
            return
        if not (root / "documents").exists():  # in its own process: a child would start at this one's peak RSS
            subprocess.run(
                [sys.executable, __file__, *sys.argv[1:], "--keep", str(root.parent), "--write-only"], check=True
            )
        lake = Lake(str(root))
        size = sum(f.stat().st_size for f in (root / "documents").rglob("*.parquet"))
        print(f"{args.documents:,} documents, documents table {size / 1e6:.0f} MB", end="")
        print(f" (ready in {time.perf_counter() - started:.1f} s)")
        middle = f"https://site{(args.documents // 2) % 997}.example.org/page/{args.documents // 2}"
        for label, argv in (
            ("sample language fr", ["sample", "language", "fr", "-n", "10"]),
            ("sample domain", ["sample", "domain", "site5.example.org", "-n", "10"]),
            ("sample reason", ["sample", "reason", "gopher_quality/short_doc", "-n", "10"]),
            ("why (dropped)", ["why", f"https://site0.example.org/page/{args.documents // 2 // 2991 * 2991}"]),
            ("why (middle)", ["why", middle]),
            ("why (unknown URL)", ["why", "https://nowhere.example.org/"]),
        ):
            seconds, cpu, rss, out = run(lake, *argv)
            print(f"  {label:<20} {seconds:6.2f} s  cpu {cpu:6.2f} s  peak RSS {rss / 1024:6.0f} MB  {out:,} bytes out")


if __name__ == "__main__":
    main()
