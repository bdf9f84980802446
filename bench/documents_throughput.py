"""Throughput of the documents stage against resiliparse extraction alone, on the same records.

Prints docs/s per core of:
  floor      resiliparse main-content extraction of the already-decompressed HTML payloads (one core)
  stage      the documents stage function on each WARC file, in this process (one core): WARC reading,
             decoding, extraction, language id, Parquet parts
  pipeline   the whole stage run with a process pool over every core, including the Delta commits
and the stage/floor ratio (target: at most 1.5). Both run in the same process, one after the other, so
the ratio holds on a noisy machine even when the absolute numbers move.

    python bench/documents_throughput.py [--landing samples/crawl] [--repeat 3]
"""

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from fastwarc.warc import ArchiveIterator, WarcRecordType
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from corpuslake.extract import decode_html
from corpuslake.parallel import default_workers
from corpuslake.pipeline import extract_documents, ingest_crawl_files
from corpuslake.settings import SAMPLE_LANDING
from corpuslake.stages.crawl_files import list_dump_files, list_dumps
from corpuslake.stages.documents import DocumentsConfig, FileJob, extract_file
from corpuslake.store import Lake


def html_payloads(files: list[Path]) -> list[tuple[bytes, str | None]]:
    payloads = []
    for path in files:
        with path.open("rb") as fh:
            for rec in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True):
                if rec.http_content_type in ("text/html", "application/xhtml+xml"):
                    payloads.append((rec.reader.read(), rec.http_charset))
    return payloads


def floor_seconds(payloads: list[tuple[bytes, str | None]]) -> float:
    """resiliparse alone: decode (as the stage does) and extract main content."""
    decoded = [decode_html(body, charset)[0] for body, charset in payloads]
    started = time.perf_counter()
    for html in decoded:
        extract_plain_text(HTMLTree.parse(html), main_content=True, preserve_formatting=True)
    return time.perf_counter() - started


def stage_seconds(files: list[tuple[str, Path]]) -> tuple[float, int]:
    config = DocumentsConfig()
    docs = 0
    with tempfile.TemporaryDirectory() as staging:
        started = time.perf_counter()
        for dump, path in files:
            outcome = extract_file(FileJob(dump, str(path), path.name, staging, config))
            docs += outcome.documents
        return time.perf_counter() - started, docs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--landing", type=Path, default=SAMPLE_LANDING)
    parser.add_argument("--repeat", type=int, default=3, help="best of N for the single-core timings")
    args = parser.parse_args()
    dumps = list_dumps(args.landing)
    files = [(d, p) for d in dumps for p in list_dump_files(args.landing, d)]
    payloads = html_payloads([p for _, p in files])
    print(f"input: {args.landing} ({', '.join(dumps)}), {len(files)} files, "
          f"{sum(p.stat().st_size for _, p in files) / 1e6:.1f} MB, {len(payloads)} HTML responses")  # fmt: skip
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}")  # fmt: skip
    extract_file(
        FileJob(dumps[0], str(files[0][1]), files[0][1].name, tempfile.gettempdir() + "/", DocumentsConfig())
    )
    floor = min(floor_seconds(payloads) for _ in range(args.repeat))
    runs = [stage_seconds(files) for _ in range(args.repeat)]
    stage, docs = min(runs)
    print(f"floor    resiliparse only : {len(payloads) / floor:9.0f} pages/s per core ({floor:.2f} s)")
    print(
        f"stage    documents, 1 core: {docs / stage:9.0f} docs/s per core  ({stage:.2f} s, {docs} documents)"
    )
    print(f"ratio    stage / floor    : {stage / floor:9.2f}  (target <= 1.5; per page: {stage / len(payloads) * 1e3:.2f} ms "
          f"vs {floor / len(payloads) * 1e3:.2f} ms)")  # fmt: skip
    workers = default_workers()
    with tempfile.TemporaryDirectory() as lake_dir:
        lake = Lake(lake_dir)
        started = time.perf_counter()
        total = 0
        for dump in dumps:
            ingest_crawl_files(lake, args.landing, dump, "bench", workers, progress=lambda _m: None)
            total += extract_documents(lake, dump, "bench", DocumentsConfig(), workers, lambda _m: None).rows
        elapsed = time.perf_counter() - started
    print(f"pipeline {workers} workers + Delta: {total / elapsed:9.0f} docs/s ({total / elapsed / workers:.0f} per core, "
          f"{elapsed:.2f} s, crawl_files scan included)")  # fmt: skip


if __name__ == "__main__":
    main()
