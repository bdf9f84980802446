"""Compiling the numba kernels at install time (``python -m corpuslake.kernels``).

Dedup's text keys and MinHash, and the content signals' scans, are numba functions cached beside their
source (``cache=True``). Without a cache the first run of a fresh install compiles them, about 14 CPU
seconds of a sample-crawl run; ``make setup``, ``make demo`` and the image build run this once instead,
as the image already compiles the URL blocklist. A kernel whose source changed later is compiled again on
its first call, so a stale cache is never read.
"""

import time

from corpuslake.policies.contamination import EvalIndex
from corpuslake.policies.run import warm_up as warm_up_signals
from corpuslake.stages.deduplicated import DedupConfig
from corpuslake.stages.deduplicated import warm_up as warm_up_dedup


def compile_kernels() -> dict[str, float]:
    """Run every cached kernel once on a tiny input; the seconds each group took (compiling or loading)."""
    took: dict[str, float] = {}
    started = time.perf_counter()
    warm_up_dedup(DedupConfig())
    took["dedup"] = time.perf_counter() - started
    started = time.perf_counter()
    warm_up_signals(EvalIndex(13))  # the kernels' types do not depend on the evaluation sets' contents
    took["content_signals"] = time.perf_counter() - started
    return took


if __name__ == "__main__":
    for group, seconds in compile_kernels().items():
        print(f"numba kernels of {group}: ready in {seconds:.1f} s")
