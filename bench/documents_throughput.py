"""CPU cost of the documents stage against the floor of reading WARC records and extracting main content.

On the same WARC files, in this one process, file by file (floor then stage, so both see the same page
cache and the same machine load), it prints CPU seconds (``time.process_time``: user+sys of every thread
of this process) per page and pages per CPU-second of:

  floor   fastwarc iteration over response records, HTTP parsing, the payload decoded (declared charset,
          else resiliparse's detection) and resiliparse's main-content extraction: nothing else
  stage   corpuslake's ``extract_file`` on the file (one worker, in process): the same, plus damage
          recovery, encoding checks, language id, ids, rows and the two Parquet files its sink writes

and the ratio stage/floor (target: at most 1.5). A page is a response record; both count the same ones.
Each figure is the smallest total over ``--repeat`` rounds.

``--lid-agreement`` adds how often lid.176 on N characters of each extracted document (its prefix, or W
evenly spaced slices as the stage takes them; 0: the whole text), and on the stage's own setting (a short
sample, the long one where the short one scores below ``lid_confident``), computed by ``--engine``, gives
the label and the FineWeb decision (en, score >= 0.65) that the fastText module gives on the whole text,
with the most frequent label disagreements (full -> sample).

    python bench/documents_throughput.py [--landing samples/crawl] [--landing /work/bench-data/S/landing]
                                         [--repeat 3] [--max-files N] [--lid-first-chars 0]
                                         [--lid-agreement] [--samples 2000/8,500/4,0/1] [--engine fasttext]
"""

import argparse
import os
import platform
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from fastwarc.warc import ArchiveIterator, WarcRecordType
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding
from resiliparse.parse.html import HTMLTree

from corpuslake.extract import extract_text
from corpuslake.langid import Engine, LanguageIdentifier
from corpuslake.runner import Sink, partition_output
from corpuslake.schemas import DOCUMENTS, REJECTIONS
from corpuslake.settings import SAMPLE_LANDING
from corpuslake.stages.crawl_files import list_dump_files, list_dumps
from corpuslake.stages.documents import STAGE, DocumentsConfig, FileJob, extract_file
from corpuslake.store import Lake

_HTML = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class InputFile:
    dump: str
    path: Path


def floor_file(path: Path) -> int:
    """Read, decode and extract every HTML response of ``path`` the plain resiliparse way; return pages."""
    pages = 0
    with path.open("rb") as fh:
        for rec in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True):
            pages += 1
            if rec.http_content_type not in _HTML:
                rec.consume()
                continue
            body = rec.reader.read()
            html = bytes_to_str(body, rec.http_charset or detect_encoding(body) or "utf-8")
            extract_plain_text(HTMLTree.parse(html), main_content=True, preserve_formatting=True)
    return pages


def stage_file(item: InputFile, config: DocumentsConfig, lake_dir: str) -> int:
    """corpuslake's documents stage on one file, in this process, with the runner's sink writing its two
    Parquet files into a scratch lake (left uncommitted); returns the file's response records."""
    outputs = [
        partition_output("rejections", "rejections", REJECTIONS, item.dump, STAGE),
        partition_output("documents", "documents", DOCUMENTS, item.dump),
    ]
    sink = Sink(Lake(lake_dir), outputs, item.path.name, config.batch_rows)
    extract_file(FileJob(item.dump, str(item.path), item.path.name, config), config, sink)
    sink.close()
    return sink.counters["response_records"]


def timed_rounds(files: list[InputFile], config: DocumentsConfig, repeat: int) -> tuple[float, float, int]:
    """Smallest total CPU seconds over ``repeat`` rounds of (floor, stage), and the page count."""
    best_floor = best_stage = float("inf")
    pages = 0
    for _ in range(repeat):
        floor = stage = 0.0
        pages = 0
        for item in files:
            started = time.process_time()
            floor_pages = floor_file(item.path)
            floor += time.process_time() - started
            with tempfile.TemporaryDirectory() as lake_dir:  # one per file: large inputs stay off the disk
                started = time.process_time()
                stage_pages = stage_file(item, config, lake_dir)
                stage += time.process_time() - started
            if floor_pages != stage_pages:
                raise RuntimeError(f"{item.path}: floor read {floor_pages} pages, the stage {stage_pages}")
            pages += floor_pages
        best_floor, best_stage = min(best_floor, floor), min(best_stage, stage)
    return best_floor, best_stage, pages


def documents_texts(files: list[InputFile], limit: int) -> list[str]:
    """Extracted text of every HTML response that becomes a document (at most ``limit``)."""
    texts: list[str] = []
    for item in files:
        with item.path.open("rb") as fh:
            for rec in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True):
                if rec.http_content_type not in _HTML or not 200 <= (rec.http_headers.status_code or 0) < 300:
                    continue
                text = extract_text(rec.reader.read(), rec.http_charset, DocumentsConfig().max_replaced_fraction).text
                if text:
                    texts.append(text)
                if len(texts) >= limit:
                    return texts
    return texts


def lid_agreement(texts: list[str], samples: list[tuple[int, int]], *, engine: Engine = "numpy") -> None:
    """Agreement of lid.176 on N characters (W slices; 1: the prefix), computed by ``engine``, with the
    fastText module on the whole text: labels, and the FineWeb decision (en with a score >= 0.65)."""
    reference = LanguageIdentifier(engine="fasttext").predict_many(texts, max_chars=1 << 40, windows=1)
    full = [label for label, _ in reference]
    print(f"lid agreement on {len(texts)} documents (full-text labels: {dict(Counter(full).most_common(8))})")
    config = DocumentsConfig()
    lid = LanguageIdentifier(max_chars=config.lid_max_chars, windows=config.lid_windows, engine=engine)
    first = (config.lid_first_chars, config.lid_first_windows)
    for chars, windows in [*samples, (-1, -1)]:
        started = time.process_time()
        if chars < 0:  # the stage's own setting: a short sample, the long one where it is unsure
            got = _batched(lambda b: lid.predict_confident(b, first=first, confident=config.lid_confident), texts)
        else:
            got = _batched(partial(lid.predict_many, max_chars=chars or 1 << 40, windows=windows), texts)
        seconds = time.process_time() - started
        wrong = Counter(f"{a}->{b}" for a, (b, _) in zip(full, got, strict=True) if a != b)
        flips = sum(_fineweb(a) != _fineweb(b) for a, b in zip(reference, got, strict=True))
        n = max(len(texts), 1)
        what = (
            f"{first[0]}/{first[1]}, below {config.lid_confident}: {config.lid_max_chars}/{config.lid_windows}"
            if chars < 0
            else f"{chars or 'all':>5} chars in {windows:>2} slice(s)"
        )
        print(
            f"  {what}, {engine}: "
            f"labels {1 - sum(wrong.values()) / n:8.3%} ({sum(wrong.values())} differ), "
            f"FineWeb decision {1 - flips / n:8.3%} ({flips} differ), "
            f"{seconds / n * 1e6:6.1f} us/doc; full->sample: {dict(wrong.most_common(6))}"
        )


def _batched(
    predict: Callable[[list[str]], list[tuple[str, float]]], texts: list[str], size: int = 64
) -> list[tuple[str, float]]:
    """Predictions in the stage's batches of 64 texts."""
    return [p for start in range(0, len(texts), size) for p in predict(texts[start : start + size])]


def _fineweb(prediction: tuple[str, float]) -> bool:
    return prediction[0] == "en" and prediction[1] >= 0.65


def collect(landings: list[Path], max_files: int) -> list[InputFile]:
    files = [InputFile(d, p) for landing in landings for d in list_dumps(landing) for p in list_dump_files(landing, d)]
    return files[:max_files] if max_files else files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", type=Path, action="append", help="landing zone(s); default: the sample crawl")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the smallest total of each side counts")
    parser.add_argument("--max-files", type=int, default=0, help="only the first N files (0: all)")
    parser.add_argument("--lid-max-chars", type=int, default=None, help="override DocumentsConfig.lid_max_chars")
    parser.add_argument("--lid-windows", type=int, default=None, help="override DocumentsConfig.lid_windows")
    parser.add_argument("--lid-first-chars", type=int, default=None, help="override DocumentsConfig.lid_first_chars")
    parser.add_argument("--lid-agreement", action="store_true", help="print prefix/full-text label agreement")
    parser.add_argument(
        "--samples", default="1000/8,2000/8,4000/8,0/1", help="chars/slices for --lid-agreement (0: the whole text)"
    )
    parser.add_argument("--engine", choices=["numpy", "fasttext"], default="numpy", help="engine of the samples")
    parser.add_argument("--agreement-docs", type=int, default=1_000_000, help="documents for --lid-agreement")
    args = parser.parse_args()
    landings: list[Path] = args.landing or [SAMPLE_LANDING]
    files = collect(landings, args.max_files)
    config = DocumentsConfig()
    if args.lid_max_chars is not None:
        config = replace(config, lid_max_chars=args.lid_max_chars)
    if args.lid_windows is not None:
        config = replace(config, lid_windows=args.lid_windows)
    if args.lid_first_chars is not None:
        config = replace(config, lid_first_chars=args.lid_first_chars)
    size = sum(f.path.stat().st_size for f in files)
    print(f"input: {', '.join(map(str, landings))}: {len(files)} files, {size / 1e6:.1f} MB")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}; "
        f"config: lid_max_chars={config.lid_max_chars} lid_windows={config.lid_windows} "
        f"lid_first_chars={config.lid_first_chars} lid_first_windows={config.lid_first_windows} "
        f"lid_confident={config.lid_confident}"
    )
    with tempfile.TemporaryDirectory() as lake_dir:  # warm-up: the language model loads outside the timings
        floor_file(files[0].path)
        stage_file(files[0], config, lake_dir)
    floor, stage, pages = timed_rounds(files, config, args.repeat)
    for name, seconds in (("floor", floor), ("stage", stage)):
        print(
            f"{name:6} {seconds:8.2f} CPU s  {seconds / pages * 1e3:7.3f} CPU ms/page  "
            f"{pages / seconds:7.0f} pages/CPU-s  ({pages} pages, best of {args.repeat})"
        )
    print(f"ratio  stage/floor {stage / floor:.2f}  (target <= 1.5)")
    if args.lid_agreement:
        texts = documents_texts(files, args.agreement_docs)
        samples = [tuple(map(int, spec.split("/"))) for spec in args.samples.split(",")]
        lid_agreement(texts, [(chars, windows) for chars, windows in samples], engine=args.engine)


if __name__ == "__main__":
    main()
