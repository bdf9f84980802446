"""A mixture's blends as a trainer's configuration: ``blend.json`` and ``blend.megatron.txt``.

Each source of a mixture is exported on its own under ``sources/<name>@<N>/`` (the same tokenizer and
options). Per phase, each source's weight is its share of the phase's training tokens in the mixture's
own rows, counted with the export's tokenizer: a mixture built with one tokenizer's counts gets the
weights of the tokenizer it is trained with. ``blend.megatron.txt`` has one line per phase, in phase
order: the arguments of Megatron's ``--data-path`` (weight, path prefix relative to the export folder,
...). ``blend.json`` says the same with the phase names, fractions, requested weights and token counts.
"""

import json
from collections import Counter
from pathlib import Path
from typing import Any

from corpuslake.recipes import MixtureRecipe


def _short(uri: str) -> str:
    """``name@N``: how a sidecar names the source of a row."""
    return uri.removeprefix("corpuslake://")


def source_folder(uri: str) -> str:
    """Where a source's own export goes, relative to the mixture's export folder."""
    return f"sources/{_short(uri)}"


def write_blends(folder: Path, recipe: MixtureRecipe, phase_tokens: Counter[tuple[str, str]]) -> list[str]:
    """Write both blend files into ``folder``; return their names."""
    phases: list[dict[str, Any]] = []
    lines = []
    for phase in recipe.phases:
        total = sum(phase_tokens[(phase.name, _short(s.uri))] for s in phase.sources)
        sources = []
        for source in phase.sources:
            tokens = phase_tokens[(phase.name, _short(source.uri))]
            sources.append(
                {
                    "pin": source.uri,
                    "prefix": f"{source_folder(source.uri)}/train",
                    "requested_weight": source.weight,
                    "tokens": tokens,
                    "weight": round(tokens / total, 12) if total else 0.0,
                }
            )
        phases.append({"name": phase.name, "fraction": phase.fraction, "tokens": total, "sources": sources})
        # A source the phase drew nothing from gets no weight: Megatron refuses a weight of zero.
        lines.append(" ".join(f"{s['weight']!r} {s['prefix']}" for s in sources if s["tokens"]))
    blend = {"mixture": recipe.name, "seed": recipe.seed, "weights": "train tokens per source", "phases": phases}
    (folder / "blend.json").write_text(json.dumps(blend, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    (folder / "blend.megatron.txt").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return ["blend.json", "blend.megatron.txt"]
