"""A mixture search, read from YAML and checked like recipes are (:mod:`corpuslake.typed`).

A search names its candidate sources (pins), the target its proxies are scored on (the held-out
validation split of pins, by the export's keyed id hash, or evaluation texts from a file), the tokenizer,
how many weight vectors to try, the proxy model and its token budget, and the recipe to publish.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from corpuslake.export.sidecar import DEFAULT_VALIDATION_FRACTION, DEFAULT_VALIDATION_SEED
from corpuslake.lineage import fingerprint, plain
from corpuslake.names import check_name
from corpuslake.pins import parse_pin
from corpuslake.typed import DefinitionError, Problems


@dataclass(frozen=True)
class ProxyConfig:
    """The small causal language model trained once per candidate (same for every candidate)."""

    layers: int = 2
    """Transformer blocks."""
    d_model: int = 128
    """Width of the residual stream."""
    heads: int = 4
    """Attention heads per block."""
    context: int = 128
    """Tokens per training sequence."""
    vocab: int = 4096
    """Most frequent tokenizer ids kept (over the sources' and target's tokens); the rest share one id.
    A full 32k-50k output layer would be most of a CPU proxy's time and says little at this scale."""
    batch: int = 16
    """Sequences per optimizer step."""
    learning_rate: float = 3e-3
    """Peak AdamW learning rate (linear warm-up over the first tenth, cosine decay to a tenth)."""
    threads: int = 1
    """torch threads per proxy."""


@dataclass(frozen=True)
class SearchDefinition:
    """One mixture search: candidates, target, proxies, and the recipe the predicted weights become."""

    name: str
    """The search's name; the published mixture is named ``recipe_name`` (default ``<name>-found``)."""
    sources: tuple[str, ...]
    """Candidate sources, pinned snapshots ``corpuslake://name@N`` (a domain is a pin with ``where:``)."""
    target_pins: tuple[str, ...] = ()
    """Score proxies on the validation split of these pins (default: of every source)."""
    target_file: str | None = None
    """Or on evaluation texts from this file: JSON lines with ``text``, or plain text, one per line."""
    target_tokens: int = 50_000
    """Target tokens a loss is measured on, at most."""
    tokenizer: str | None = None
    """A tokenizer.json or SentencePiece model (default: the export's, mistral-common's v1 model)."""
    candidates: int = 16
    """Weight vectors sampled and trained."""
    proxy_tokens: int = 200_000
    """Training tokens per proxy."""
    seed: int = 0
    """Keys the weight sampling, the token draws and the proxies' initialisation."""
    concentration: float = 1.0
    """Dirichlet strength around the natural weights: low spreads candidates towards the corners."""
    top_k: int = 16
    """Predicted-best simplex points averaged into the published weights (RegMix averages the top 100)."""
    simplex_points: int = 20_000
    """Simplex points the fitted regression is evaluated on."""
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION
    """Share of documents held out by id hash (the export's rule): never trained on, scored on as target."""
    validation_seed: str = DEFAULT_VALIDATION_SEED
    """Keys the id hash, as the export's ``--validation-seed``."""
    recipe_name: str | None = None
    """Name of the published mixture (default ``<name>-found``)."""
    recipe_tokens: int = 1_000_000
    """The published recipe's target token count."""
    recipe_max_epochs: float = 4.0
    """The published recipe's repetition cap per source."""
    proxy: ProxyConfig = field(default_factory=ProxyConfig)
    """The proxy model."""

    @property
    def mixture_name(self) -> str:
        return self.recipe_name or f"{self.name}-found"

    @property
    def targets(self) -> tuple[str, ...]:
        return self.target_pins or self.sources

    def proxy_fingerprint(self) -> str:
        """What makes two proxy runs comparable: model, budget, tokenizer, target, seed."""
        keys: tuple[str, ...] = ("tokenizer", "proxy_tokens", "target_pins", "target_file", "target_tokens")
        keys += ("seed", "sources", "validation_fraction", "validation_seed")
        return fingerprint({k: plain(getattr(self, k)) for k in keys} | {"proxy": plain(self.proxy)})


def search_from_mapping(data: Any, where: str, base: Path | None = None) -> SearchDefinition:
    """A search from parsed YAML; every problem names ``where`` and the key. Relative file paths are read
    from ``base`` (the YAML's folder)."""
    problems = Problems()
    values = problems.values(SearchDefinition, data, where, skip=("proxy",))
    raw_proxy = data.get("proxy", {}) if isinstance(data, Mapping) else {}
    proxy = problems.values(ProxyConfig, raw_proxy if raw_proxy is not None else {}, f"{where}: proxy")
    problems.raise_any()
    for key in ("tokenizer", "target_file"):
        if values.get(key) and base is not None and not Path(values[key]).is_absolute():
            values[key] = str(base / values[key])
    search = SearchDefinition(proxy=ProxyConfig(**proxy), **values)
    _check(search, where)
    return search


def _check(search: SearchDefinition, where: str) -> None:
    check_name(search.name, "search name")
    check_name(search.mixture_name, "recipe_name")
    problems: list[str] = []
    for key in ("sources", "target_pins"):
        for uri in getattr(search, key):
            try:
                parse_pin(uri)
            except ValueError as error:
                problems.append(f"{where}: {key}: {error}")
    if len(set(search.sources)) < 2:
        problems.append(f"{where}: sources must name at least two different pins")
    if search.target_pins and search.target_file:
        problems.append(f"{where}: give target_pins or target_file, not both")
    positive = ("candidates", "proxy_tokens", "target_tokens", "top_k", "simplex_points", "recipe_tokens")
    problems += [f"{where}: {k} must be positive" for k in positive if getattr(search, k) < 1]
    if search.candidates < 2:
        problems.append(f"{where}: candidates must be at least 2 (a regression needs points)")
    if not 0 < search.validation_fraction < 1:
        problems.append(f"{where}: validation_fraction must be between 0 and 1")
    p = search.proxy
    if min(p.layers, p.d_model, p.heads, p.context, p.vocab, p.batch, p.threads) < 1 or p.d_model % p.heads:
        problems.append(f"{where}: proxy: sizes must be positive and d_model a multiple of heads")
    if problems:
        raise DefinitionError("; ".join(problems), problems)


def load_search(path: str | Path) -> SearchDefinition:
    """The search in a YAML file."""
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise DefinitionError(f"{file}: cannot be read: {error}") from error
    except yaml.YAMLError as error:
        raise DefinitionError(f"{file}: not valid YAML: {error}") from error
    return search_from_mapping(data, str(file), file.parent)


def load_searches(folder: str | Path) -> list[SearchDefinition]:
    """Every ``*.yaml`` search in ``folder`` (none when it does not exist); every file's problems are
    raised together, and names must be unique."""
    root = Path(folder)
    found: list[SearchDefinition] = []
    problems: list[str] = []
    for path in sorted(root.glob("*.yaml")) if root.is_dir() else []:
        try:
            found.append(load_search(path))
        except DefinitionError as error:
            problems += error.problems
    names = [s.name for s in found]
    problems += [f"{root}: search name {n!r} used twice" for n in sorted({n for n in names if names.count(n) > 1})]
    if problems:
        raise DefinitionError("; ".join(problems), problems)
    return found
