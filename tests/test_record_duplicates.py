"""The pass that finds record ids repeated across the files of a dump, on an inventory larger than DuckDB's
memory limit (so its table and join spill to disk). Touches: a lake under tmp_path; no WARC file is read.
"""

import random
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from corpuslake.lineage import Lineage
from corpuslake.record_duplicates import DIGEST_BYTES, write_losers
from corpuslake.schemas import CRAWL_FILES
from corpuslake.store import Lake

DUMP = "CC-BIG"


def _row(source_file: str, digests: list[bytes]) -> dict[str, object]:
    counts = {f.name: 0 for f in CRAWL_FILES if f.type == pa.int64()}
    return {
        **counts,
        "dump": DUMP,
        "source_file": source_file,
        "path": source_file,
        "sha256": "0" * 64,
        "format": "warc.gz",
        "error": None,
        "response_records": len(digests),
        "record_id_digests": b"".join(digests),
    }


def test_later_occurrences_are_found_past_the_memory_limit(tmp_path: Path) -> None:
    rng = random.Random(7)
    pool = [rng.randbytes(DIGEST_BYTES) for _ in range(350_000)]
    # 1M ids: 16 MB of digests and 15 MB of file names, against DuckDB's 24 MB
    files = {f"part-{i:03d}.warc.gz": rng.sample(pool, 20_000) for i in range(50)}
    lake = Lake(str(tmp_path / "lake"))
    rows = [_row(name, digests) for name, digests in files.items()]
    inventory = pa.Table.from_pylist(rows, schema=CRAWL_FILES)
    lake.write_partition("crawl_files", inventory, Lineage("crawl_files", DUMP, "r", "c", {}), {"dump": DUMP})
    # the rule in plain Python: every occurrence in a later file than the id's first one loses
    first: dict[bytes, str] = {}
    expected: Counter[tuple[str, bytes]] = Counter()
    for name in sorted(files):
        for digest in files[name]:
            if first.setdefault(digest, name) != name:
                expected[(name, digest)] += 1
    out = tmp_path / "losers.parquet"
    assert write_losers(lake.dataset("crawl_files"), DUMP, out, memory_limit="24MB") == sum(expected.values())
    table = pq.read_table(out)
    got = Counter(zip(table["source_file"].to_pylist(), table["digest"].to_pylist(), strict=True))
    assert got == expected
    assert table["source_file"].to_pylist() == sorted(table["source_file"].to_pylist())  # one file's rows together
