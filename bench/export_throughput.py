"""Exporting a pin to token shards: tokens per CPU-second against the tokenizer alone, readers, peak RSS.

Input: a lake with a published pin (e.g. ``bench/scale_run.py --landing /work/bench-data/S/landing --skip
stages --skip peer --work DIR --keep`` leaves one; its ``web-en@1`` holds 15k pages, 20 M tokens).

  export     ``corpuslake export PIN --tokenizer T --workers N`` as a child process measured by
             ``bench/measure.py``: CPU seconds of the whole tree (driver and pool workers), wall time,
             peak RSS of the largest process and per role. Tokens per CPU-second counts the tokens of
             the texts (the EOS each document gets is left out), so it compares with the next line.
  tokenizer  the same texts, read from the pin first (not timed), encoded by the tokenizer library
             alone in batches of the export's size on one thread (``encode_batch_fast`` for a
             tokenizer.json, ``encode`` for SentencePiece): tokens per CPU-second of that loop.
  readers    the export's train split read document by document through megatron-core's
             ``IndexedDataset`` and through numpy views of a memory-mapped ``.bin`` (offsets from the
             ``.idx``), and the ``.bin`` read whole with ``np.fromfile``: tokens per CPU-second, each
             document's tokens summed so every byte is touched.

Goal: export tokens per CPU-second >= 0.8x the tokenizer's. Figures only: nothing is asserted.

    python bench/export_throughput.py --lake DIR/lake-run [--pin corpuslake://web-en@1]
        [--tokenizer samples/tokenizers/gpt2/tokenizer.json] [--workers 2] [--format megatron]
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import run_measured  # noqa: E402

GPT2 = ROOT / "samples" / "tokenizers" / "gpt2" / "tokenizer.json"

_TOKENIZER_ALONE = """
import os, sys, time
os.environ["TOKENIZERS_PARALLELISM"] = "false"
sys.path.insert(0, sys.argv[1])
from corpuslake import client
lake, pin, path, batch = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
texts = client.open(pin, lake).to_table(["text"]).column("text").to_pylist()
batches = [texts[i : i + batch] for i in range(0, len(texts), batch)]
if path.endswith(".json"):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(path)
    encode = lambda b: sum(len(e.ids) for e in tok.encode_batch_fast(b, add_special_tokens=False))
else:
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=path)
    encode = lambda b: sum(len(ids) for ids in sp.encode(b, num_threads=1))
start = time.process_time()
tokens = sum(encode(b) for b in batches)
print(tokens, time.process_time() - start)
"""

_READERS = """
import sys, time, warnings
import numpy as np
prefix = sys.argv[1]
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from megatron.core.datasets.indexed_dataset import IndexedDataset
dataset = IndexedDataset(prefix)
start = time.process_time()
total = sum(int(dataset[i].sum()) for i in range(len(dataset)))
mega = time.process_time() - start
dtype = dataset.index.dtype
lengths, pointers = dataset.index.sequence_lengths, dataset.index.sequence_pointers
start = time.process_time()
data = np.memmap(prefix + ".bin", dtype=dtype, mode="r")
offsets = pointers // np.dtype(dtype).itemsize
views = sum(int(data[o : o + n].sum()) for o, n in zip(offsets.tolist(), lengths.tolist()))
numpy_views = time.process_time() - start
start = time.process_time()
whole = int(np.fromfile(prefix + ".bin", dtype=dtype).sum(dtype=np.int64))
numpy_whole = time.process_time() - start
assert total == views == whole, "the readers disagree"
print(int(lengths.sum()), len(lengths), mega, numpy_views, numpy_whole)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", required=True)
    parser.add_argument("--pin", default="corpuslake://web-en@1")
    parser.add_argument("--tokenizer", default=str(GPT2))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--format", default="megatron", choices=["megatron", "datatrove"])
    parser.add_argument("--batch-rows", type=int, default=1024, help="the export's batch size (for the tokenizer loop)")
    parser.add_argument("--scratch", help="where the export goes (default: a temporary folder, removed after)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.scratch) as scratch:
        out = Path(scratch) / "export"
        command = [sys.executable, "-m", "corpuslake.cli", "export", args.pin, "--lake", args.lake]
        command += ["--tokenizer", args.tokenizer, "--out", str(out), "--workers", str(args.workers)]
        command += ["--format", args.format]
        measured = run_measured(command, cwd=str(ROOT), log=Path(scratch) / "export.log")
        if measured.returncode != 0:
            sys.exit(f"export failed:\n{(Path(scratch) / 'export.log').read_text()}")
        manifest = json.loads((out / "export.json").read_text())
        splits = manifest["splits"].values()
        written = sum(s["tokens"] for s in splits)
        specials = sum(s["documents"] for s in splits) * (
            manifest["options"]["append_eos"] + manifest["options"]["prepend_bos"]
        )
        text_tokens = written - specials
        print(
            f"input: {args.pin} in {args.lake}; "
            f"tokenizer {manifest['tokenizer']['name']} ({manifest['tokenizer']['kind']})"
        )
        print(f"export ({args.format}, {args.workers} workers): {written:,} tokens written ({text_tokens:,} of text)")
        print(f"  CPU {measured.cpu_seconds:.1f} s (tree), wall {measured.wall_seconds:.1f} s")
        print(f"  {text_tokens / measured.cpu_seconds:,.0f} text tokens per CPU-second")
        largest = measured.largest
        print(
            f"  peak RSS {largest.peak_rss / 2**20:,.0f} MiB ({largest.role}); by role: "
            + ", ".join(f"{r} {v / 2**20:,.0f} MiB" for r, v in sorted(measured.peak_by_role().items()))
        )
        alone = subprocess.run(
            [
                sys.executable,
                "-c",
                _TOKENIZER_ALONE,
                str(ROOT),
                args.lake,
                args.pin,
                args.tokenizer,
                str(args.batch_rows),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        tokens, seconds = int(alone[0]), float(alone[1])
        print(f"tokenizer alone: {tokens:,} tokens in {seconds:.1f} CPU s: {tokens / seconds:,.0f} per CPU-second")
        print(
            f"  export / tokenizer alone: {text_tokens / measured.cpu_seconds / (tokens / seconds):.2f}x (goal >= 0.8x)"
        )
        if args.format == "megatron":
            _readers(out / "train")


def _readers(prefix: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _READERS, str(prefix)], capture_output=True, text=True, check=True
    ).stdout.split()
    tokens, documents = int(result[0]), int(result[1])
    print(f"readers (train split: {documents:,} documents, {tokens:,} tokens, every document's tokens summed):")
    for name, seconds in zip(
        ("megatron-core IndexedDataset", "numpy memmap views", "numpy fromfile whole"), result[2:], strict=True
    ):
        print(
            f"  {name:<30} {float(seconds):6.2f} CPU s  "
            f"{tokens / max(float(seconds), 1e-9):>14,.0f} tokens per CPU-second"
        )


if __name__ == "__main__":
    main()
