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

from corpuslake.extract import decode_html, extract_text
from corpuslake.langid import LanguageIdentifier
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


def lid_seconds(payloads: list[tuple[bytes, str | None]], max_chars: int) -> float:
    """Language id alone on the extracted texts (the stage's other large cost)."""
    texts = [extract_text(body, charset, 1.0).text for body, charset in payloads]
    lid = LanguageIdentifier(max_chars=max_chars)
    lid.predict("warm up")
    started = time.perf_counter()
    for text in texts:
        if text:
            lid.predict(text)
    return time.perf_counter() - started


def stage_seconds(files: list[tuple[str, Path]], config: DocumentsConfig) -> tuple[float, int]:
    docs = 0
    with tempfile.TemporaryDirectory() as staging:
        started = time.perf_counter()
        for dump, path in files:
            outcome = extract_file(FileJob(dump, str(path), path.name, staging, config))
            docs += outcome.documents
        return time.perf_counter() - started, docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", type=Path, default=SAMPLE_LANDING)
    parser.add_argument("--repeat", type=int, default=3, help="best of N for the single-core timings")
    parser.add_argument("--short-lid", type=int, default=1000, help="lid_max_chars of the second stage timing")
    args = parser.parse_args()
    dumps = list_dumps(args.landing)
    files = [(d, p) for d in dumps for p in list_dump_files(args.landing, d)]
    payloads = html_payloads([p for _, p in files])
    print(
        f"input: {args.landing} ({', '.join(dumps)}), {len(files)} files, "
        f"{sum(p.stat().st_size for _, p in files) / 1e6:.1f} MB, {len(payloads)} HTML responses"
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}"
    )
    stage_seconds(files[:1], DocumentsConfig())  # warm-up: loads the language model outside the timings
    floor = min(floor_seconds(payloads) for _ in range(args.repeat))
    stage, docs = min(stage_seconds(files, DocumentsConfig()) for _ in range(args.repeat))
    lid = min(lid_seconds(payloads, DocumentsConfig().lid_max_chars) for _ in range(args.repeat))
    short = DocumentsConfig(lid_max_chars=args.short_lid)
    stage_short, _ = min(stage_seconds(files, short) for _ in range(args.repeat))
    print(f"floor    resiliparse only : {len(payloads) / floor:9.0f} pages/s per core ({floor:.2f} s)")
    print(f"stage    documents, 1 core: {docs / stage:9.0f} docs/s per core  ({stage:.2f} s, {docs} documents)")
    print(f"lid      lid.176 alone    : {lid / floor:9.2f} x floor (language id on the extracted texts)")
    print(f"ratio    stage / floor    : {stage / floor:9.2f}  (target <= 1.5)")
    print(f"ratio    lid on {args.short_lid} chars : {stage_short / floor:9.2f}  (lid_max_chars={args.short_lid})")
    workers = default_workers()
    with tempfile.TemporaryDirectory() as lake_dir:
        lake = Lake(lake_dir)
        started = time.perf_counter()
        total = 0
        for dump in dumps:
            ingest_crawl_files(lake, args.landing, dump, "bench", workers, progress=lambda _m: None)
            total += extract_documents(lake, dump, "bench", DocumentsConfig(), workers, lambda _m: None).rows
        elapsed = time.perf_counter() - started
    rate = total / elapsed
    print(f"pipeline {workers} workers + Delta: {rate:9.0f} docs/s ({rate / workers:.0f} per core, {elapsed:.2f} s)")


if __name__ == "__main__":
    main()
