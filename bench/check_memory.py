"""Peak RSS of the documents checks, each in a process of its own, at two partition sizes.

The checks must not grow with the partition: GX validates a bounded sample, the invariants are counted
in one streamed pass, and id sets go to DuckDB, which spills past its memory limit. This builds, in a
temporary lake and with the lake API only, a documents partition of N rows and one of N x FACTOR rows
(each with its one-row crawl_files inventory and an empty rejections commit, so every documents check
audits it as it would a real dump), and runs each check in a fresh interpreter that prints its own peak
RSS (``VmHWM``: ``ru_maxrss`` would carry over the parent's peak through fork and exec) and CPU seconds
(user+sys, DuckDB's and Arrow's threads included). For contrast, the
suite as it ran before (GX on a pandas frame of the whole partition) is measured at both sizes too (at
the defaults it needs about 3 GB at the larger one).

Text: documents of ~2,800 characters, each three labelled examples of samples/quality (real prose and
web text) joined; ids are hashes, as real ids are.

    python bench/check_memory.py [--rows 30000] [--factor 10]
"""

import argparse
import gzip
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from corpuslake.lineage import Lineage, TableVersion
from corpuslake.schemas import CRAWL_FILES, DOCUMENTS, REJECTIONS
from corpuslake.store import Lake

EXAMPLES = Path(__file__).resolve().parents[1] / "samples" / "quality" / "examples.jsonl.gz"
BATCH = 5_000
_MEASURE = """
import json, resource, sys, time
from corpuslake.store import Lake
{imports}
lake, dump = Lake(sys.argv[1]), sys.argv[2]
started = time.perf_counter()
{call}
usage = resource.getrusage(resource.RUSAGE_SELF)
status = open("/proc/self/status").read().split("VmHWM:")[1].split()
print(json.dumps({{"rss": int(status[0]) * 1024, "cpu": usage.ru_utime + usage.ru_stime,
                  "wall": time.perf_counter() - started, "passed": passed}}))
"""
# What each measured process runs: (label, imports, call setting ``passed``). Every one imports GX, so
# the floor is the same and the differences are the checks' own.
_GX = "import quality_checks.expectations"
CHECKS: list[tuple[str, str, str]] = [
    ("imports only (the floor)", _GX, "passed = True"),
    ("documents_expectations", f"{_GX}\nfrom quality_checks.expectations import run_suite",
     "passed = run_suite(lake, 'documents', dump)[1].passed"),
    ("documents_account_for_every_record", f"{_GX}\nfrom quality_checks.documents import documents_balance",
     "passed = documents_balance(lake, dump)[0]"),
    ("documents_ids_unique", f"{_GX}\nfrom quality_checks.documents import ids_unique",
     "passed = ids_unique(lake, dump)[0]"),
    ("documents preview (10 rows)", f"{_GX}\nfrom corpuslake.scan import head",
     "passed = head(lake.dataset('documents'), {'dump': dump}, ['id', 'url', 'text'], 10).num_rows == 10"),
]  # fmt: skip
BEFORE = (
    "before: GX on the whole partition",
    f"{_GX}\nfrom quality_checks.expectations import SUITES, audit_partition\n"
    "from quality_checks.validation import validate",
    "audit = audit_partition(lake, 'documents', dump)\n"
    "rows = lake.read('documents', audit.version, dumps=[dump])\n"
    "passed = validate('documents_suite', rows, SUITES['documents'](lake, audit)).passed",
)


def _texts() -> list[str]:
    with gzip.open(EXAMPLES, "rt", encoding="utf-8") as lines:
        examples = [json.loads(line)["text"] for line in lines]
    return ["\n\n".join(examples[i : i + 3]) for i in range(0, len(examples) - 2, 3)]


def _documents(dump: str, rows: int, texts: list[str]) -> Iterator[pa.RecordBatch]:
    when = datetime(2024, 1, 1, tzinfo=UTC)
    for start in range(0, rows, BATCH):
        n = min(BATCH, rows - start)
        text = [texts[(start + i) % len(texts)] for i in range(n)]
        ids = [hashlib.sha256(f"{dump}\x00{start + i}".encode()).hexdigest()[:32] for i in range(n)]
        columns = {
            "id": ids,
            "dump": [dump] * n,
            "url": [f"https://example.org/{i}" for i in ids],
            "warc_record_id": [f"<urn:uuid:{i}>" for i in ids],
            "warc_date": [when] * n,
            "source_file": ["synthetic.warc.gz"] * n,
            "warc_offset": list(range(start, start + n)),
            "content_type": ["text/html"] * n,
            "encoding": ["utf-8"] * n,
            "html_bytes": [len(t) * 3 for t in text],
            "replaced_fraction": [0.0] * n,
            "text": text,
            "text_chars": [len(t) for t in text],
            "language": ["en"] * n,
            "language_score": [0.9] * n,
        }
        yield pa.RecordBatch.from_pydict(columns, schema=DOCUMENTS)


def write_partition(lake: Lake, dump: str, rows: int, texts: list[str]) -> None:
    """A documents partition of ``rows`` rows, its inventory, and its (empty) rejections, as a stage would."""
    inventory = dict.fromkeys(CRAWL_FILES.names, 0) | {
        "dump": dump,
        "source_file": "synthetic.warc.gz",
        "path": "synthetic.warc.gz",
        "sha256": "",
        "format": "warc.gz",
        "records": rows,
        "response_records": rows,
        "error": None,
    }
    crawl = Lineage("crawl_files", dump, "bench", "1", {})
    version = lake.write_partition("crawl_files", pa.Table.from_pylist([inventory], CRAWL_FILES), crawl, {"dump": dump})
    lineage = Lineage("documents", dump, "bench", "1", {}, (TableVersion("crawl_files", version),))
    reader = pa.RecordBatchReader.from_batches(DOCUMENTS, _documents(dump, rows, texts))
    lake.write_partition("documents", reader, lineage, {"dump": dump})
    lake.write_partition("rejections", REJECTIONS.empty_table(), lineage, {"dump": dump, "stage": "documents"})


def measure(lake: Lake, dump: str, imports: str, call: str) -> dict[str, float]:
    """Run one check in a fresh interpreter; its peak RSS (bytes), CPU and wall seconds, and its verdict."""
    code = _MEASURE.format(imports=imports, call=call)
    done = subprocess.run([sys.executable, "-c", code, lake.root, dump], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"measuring failed: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def memory_figures(rows: int, factor: int) -> None:
    """Print the peak RSS of each check at ``rows`` and ``rows * factor`` documents."""
    texts = _texts()
    sizes = {f"SYNTH-{rows}": rows, f"SYNTH-{rows * factor}": rows * factor}
    with tempfile.TemporaryDirectory(prefix="check_memory-") as scratch:
        lake = Lake(str(Path(scratch) / "lake"))
        for dump, n in sizes.items():
            started = time.perf_counter()
            write_partition(lake, dump, n, texts)
            files = lake.files("documents", lake.version("documents") or 0)
            size = sum(f["size"] for f in files if f.get("partition.dump") == dump)
            seconds = time.perf_counter() - started
            print(f"wrote {dump}: {n} documents in {seconds:.1f}s ({size / 2**20:.0f} MiB of Parquet)")
        small, large = sizes
        print("peak RSS of each check in its own process (MiB), CPU seconds (user+sys):")
        print(f"  {'check':38} {small:>14} {large:>14} {'RSS ratio':>10} {'cpu small':>10} {'cpu large':>10}")
        for label, imports, call in [*CHECKS, BEFORE]:
            a, b = (measure(lake, dump, imports, call) for dump in sizes)
            verdict = "" if a["passed"] and b["passed"] else "  (a check failed)"
            print(
                f"  {label:38} {a['rss'] / 2**20:14.0f} {b['rss'] / 2**20:14.0f} {b['rss'] / a['rss']:9.2f}x "
                f"{a['cpu']:10.1f} {b['cpu']:10.1f}{verdict}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=30_000, help="documents of the smaller partition")
    parser.add_argument("--factor", type=int, default=10, help="how many times larger the other one is")
    args = parser.parse_args()
    memory_figures(args.rows, args.factor)


if __name__ == "__main__":
    main()
