"""Cost of the model_scores stage per model kind: documents per CPU-second and peak RSS.

Runs the whole stage (both passes: scoring into the staging table, DuckDB thresholds, buckets) on one
dump of a lake that has ``scored`` (a copy: the stage writes ``model_scores`` into it), as a measured
child process, so the CPU seconds are user+sys of the whole process tree, pool workers included:

- ``--kind fasttext``: the lake's own registered fastText quality model, named by path as a user's model;
- ``--kind hf``: a small BERT-shaped sequence classifier built here (random weights cost what trained
  ones do; GPT-2's tokenizer.json committed under samples/, 50,257 tokens): ``--layers``, ``--hidden``,
  ``--max-length`` tokens per document (truncated), saved to a folder and loaded offline by path;
- ``--kind ours``: the quality_score already in ``scored`` (no model runs: the stage's own overhead).

    python bench/model_scores.py --lake /work/runs/h6/lake --dump CC-MAIN-2026-10 --kind hf --workers 2
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from measure import run_measured

from corpuslake.quality.model_scores import score_dump
from corpuslake.quality.run import current_model
from corpuslake.quality.user_models import ModelScoresConfig, UserModel
from corpuslake.store import Lake

GPT2 = Path(__file__).resolve().parent.parent / "samples" / "tokenizers" / "gpt2" / "tokenizer.json"


def build_hf(folder: Path, layers: int, hidden: int) -> None:
    """A BERT-shaped classifier with GPT-2's tokenizer, saved as a user would ship one."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_file=str(GPT2), pad_token="<|endoftext|>", unk_token="<|endoftext|>"
    )
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 64),
        intermediate_size=4 * hidden,
        max_position_embeddings=512,
        id2label={0: "low", 1: "high"},
        label2id={"low": 0, "high": 1},
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def child(args: argparse.Namespace) -> None:
    """The measured process: the stage itself, its report as JSON on the last line."""
    lake = Lake(args.lake)
    model = UserModel(**json.loads(args.model))
    config = ModelScoresConfig(models=(model,), batch_rows=args.batch_rows, job_rows=args.job_rows)
    report = score_dump(lake, args.dump, "bench", config, args.workers, models=(model,))
    assert report is not None
    rates = report.extra["docs_per_second_per_worker"]
    print(json.dumps({"documents": report.rows, "version": report.version, "busy_rate": rates.get(model.name, 0)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", required=True)
    parser.add_argument("--dump", required=True)
    parser.add_argument("--kind", choices=["fasttext", "hf", "ours"], default="fasttext")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-rows", type=int, default=256)
    parser.add_argument("--job-rows", type=int, default=1_024)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    lake = Lake(str(Path(args.lake).resolve()))
    with tempfile.TemporaryDirectory(prefix="model-scores-bench-") as scratch:
        if args.kind == "fasttext":
            _, registered = current_model(lake)
            model = UserModel("ft", "fasttext", str(lake.local_path(registered["path"])))
        elif args.kind == "hf":
            folder = Path(scratch) / "hf"
            build_hf(folder, args.layers, args.hidden)
            model = UserModel("bert", "hf", str(folder), max_length=args.max_length)
        else:
            model = UserModel("dclm", "ours")
        command = [sys.executable, __file__, "--child", "--lake", lake.root, "--dump", args.dump]
        command += [
            "--workers",
            str(args.workers),
            "--batch-rows",
            str(args.batch_rows),
            "--job-rows",
            str(args.job_rows),
        ]
        command += ["--model", json.dumps(model.__dict__)]
        log = Path(scratch) / "child.log"
        measured = run_measured(command, log=log, env=os.environ | {"TOKENIZERS_PARALLELISM": "false"})
        output = log.read_text(errors="replace")
        if measured.returncode:
            raise SystemExit(f"the stage failed ({measured.returncode}):\n{output[-3000:]}")
    result = json.loads(output.strip().splitlines()[-1])
    shape = f" ({args.layers} layers, hidden {args.hidden}, {args.max_length} tokens)" if args.kind == "hf" else ""
    print(f"model_scores, {args.kind}{shape}, dump {args.dump}, {args.workers} workers")
    print(f"  documents {result['documents']:,}, wall {measured.wall_seconds:.1f}s, CPU {measured.cpu_seconds:.1f}s")
    print(f"  documents per CPU-second (whole tree, both passes): {result['documents'] / measured.cpu_seconds:,.1f}")
    print(f"  documents per busy second of one worker, scoring only: {result['busy_rate']:,.1f}")
    largest = measured.largest
    print(f"  peak RSS: {largest.peak_rss / 2**20:,.0f} MiB ({largest.role})")
    for role, peak in sorted(measured.peak_by_role().items()):
        print(f"    {role}: {peak / 2**20:,.0f} MiB")


if __name__ == "__main__":
    main()
