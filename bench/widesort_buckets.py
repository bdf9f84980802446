"""CPU of the bucket sort against the number of buckets: the same rows ordered with few and with many
buckets (a larger selection needs more of them at the same bucket size).

Writes ``--rows`` rows of a random 16-hex-digit id and a 6,000-character text into an uncompressed
Parquet file (once, kept in ``--work``), then orders it by id with :func:`corpuslake.widesort.sort_file`
for each ``--bucket-mb`` in a fresh child process, and prints CPU seconds (user+sys), CPU µs per row and
the child's peak RSS. 60,000 rows (360 MB) with 2 MB buckets make 180 buckets: as many as 1.1M
documents of 6,000 characters with the default 32 MB buckets.

    python bench/widesort_buckets.py [--rows 60000] [--bucket-mb 32 2] [--work DIR]

Figures only: nothing is asserted.
"""

import argparse
import random
import resource
import string
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build(source: Path, rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if source.exists() and pq.ParquetFile(source).metadata.num_rows == rows:
        return
    rng = random.Random(1)
    base = "".join(rng.choice(string.ascii_letters + " ") for _ in range(20_000))
    schema = pa.schema([("id", pa.string()), ("text", pa.string())])
    with pq.ParquetWriter(source, schema, compression="none") as writer:
        for start in range(0, rows, 8192):
            n = min(8192, rows - start)
            ids = [f"{rng.getrandbits(64):016x}" for _ in range(n)]
            texts = [base[(i * 7) % 14_000 : (i * 7) % 14_000 + 6_000] for i in range(n)]
            writer.write_table(pa.table({"id": ids, "text": texts}, schema=schema))


def child(source: Path, bucket_mb: float) -> None:
    import duckdb

    from corpuslake.widesort import WideSort, sort_file

    con = duckdb.connect(config={"memory_limit": "512MB", "threads": 1, "temp_directory": str(source.parent / "spill")})
    started = time.process_time()
    config = WideSort(bucket_bytes=int(bucket_mb * 2**20))
    rows = sort_file(con, source, "id", source.parent / "sorted.parquet", config=config)
    cpu = time.process_time() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  {bucket_mb:>5} MB buckets: {rows:,} rows, CPU {cpu:.2f} s, "
        f"{cpu / rows * 1e6:.1f} µs per row, peak {peak:,.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--bucket-mb", type=float, nargs="+", default=[32.0, 2.0])
    parser.add_argument("--work", type=Path, default=ROOT.parent / "widesort-buckets")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), float(args.child[1]))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    source = args.work / "rows.parquet"
    build(source, args.rows)
    for bucket_mb in args.bucket_mb:
        subprocess.run([sys.executable, __file__, "--child", str(source), str(bucket_mb)], check=True)


if __name__ == "__main__":
    main()
