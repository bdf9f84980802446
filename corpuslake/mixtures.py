"""Mixtures: token-weighted blends of pinned snapshots, in phases, built deterministically.

A recipe (YAML, read by :mod:`corpuslake.recipes`) names a target token count, a seed, a repetition cap,
and one or more phases (a curriculum: e.g. a last phase drawn from a higher-quality snapshot, as DCLM's
final tokens). Each phase takes a fraction of the target and splits it between its sources by weight;
sources are pins ``corpuslake://name@N`` and every file read is verified against the pin's manifest
(:mod:`corpuslake.verified_source`), so a recipe always sees the same bytes.

How documents are drawn: every source is an endless stream of epochs; epoch ``e`` is the source's
documents in the order of a keyed hash of (seed, source, e, id). A phase takes documents from the front
of the stream until the next one would move it further from its requested tokens; a later phase
continues the same stream, so a document repeats only once its source is exhausted. A source is never
drawn past ``max_epochs`` times its tokens: the phase then gets less than it asked for, the report
says so and a warning is logged (or the build fails, with ``on_shortfall: fail``: see
:mod:`corpuslake.shortfall`). Within a phase, rows are shuffled by another keyed hash, and phases follow
each other in recipe order. Same pins, recipe and seed: same rows, same order.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corpuslake.catalog import Catalog
from corpuslake.client import Snapshot
from corpuslake.lineage import TableVersion
from corpuslake.mixture_rows import DrawColumns, draw_columns, drawn_keys, fetch_in_order
from corpuslake.ordered import OrderedRows
from corpuslake.pins import parse_pin
from corpuslake.recipes import MixtureRecipe as MixtureRecipe  # re-exported: recipes were defined here
from corpuslake.recipes import MixtureSource as MixtureSource
from corpuslake.recipes import Phase as Phase
from corpuslake.recipes import load_recipes as load_recipes
from corpuslake.recipes import recipe_from_mapping as recipe_from_mapping
from corpuslake.selection import Selection
from corpuslake.shortfall import MixtureShortfallError as MixtureShortfallError  # re-exported
from corpuslake.shortfall import settle, shortfall
from corpuslake.snapshots import DefinitionError
from corpuslake.spill import DEFAULT_SPILL, SpillConfig, connect
from corpuslake.store import Lake
from corpuslake.verified_source import VerifiedSource

MIXTURE = pa.schema(
    [
        pa.field("position", pa.int64(), nullable=False),  # order a training job reads, from 0
        pa.field("phase", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),  # the pin the row was drawn from
        pa.field("epoch", pa.int32(), nullable=False),  # 0 on a source's first pass, 1 on its first repeat...
        pa.field("id", pa.string(), nullable=False),
        pa.field("dump", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("language", pa.string()),
        pa.field("text", pa.string(), nullable=False),
        pa.field("tokens", pa.int32(), nullable=False),
    ]
)


_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _salt(*parts: object) -> np.uint64:
    digest = hashlib.blake2b("\x00".join(map(str, parts)).encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def _mix(values: np.ndarray, salt: np.uint64) -> np.ndarray:
    """splitmix64 of ``values ^ salt``: a keyed, well-spread order for each epoch and phase."""
    with np.errstate(over="ignore"):
        z = (values ^ salt) & _MASK
        z = (z + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        return z ^ (z >> np.uint64(31))


@dataclass
class _Stream:
    """One source's documents as an endless sequence of keyed-shuffled epochs."""

    uri: str
    seed: int
    indices: np.ndarray  # rows of the source table that may be drawn
    keys: np.ndarray
    tokens: np.ndarray
    cap_tokens: float
    epoch: int = 0
    offset: int = 0
    used_tokens: int = 0
    _order: np.ndarray | None = field(default=None, repr=False)

    @property
    def available_tokens(self) -> int:
        return int(self.tokens.sum())

    def _epoch_order(self) -> np.ndarray:
        if self._order is None:
            ranks = _mix(self.keys, _salt(self.seed, self.uri, "epoch", self.epoch))
            self._order = np.lexsort((self.keys, ranks))
        return self._order

    def take(self, wanted: float) -> tuple[np.ndarray, np.ndarray, int, bool]:
        """Draw about ``wanted`` tokens: source rows and their epochs, tokens drawn, whether the cap stopped it."""
        rows: list[np.ndarray] = []
        epochs: list[np.ndarray] = []
        got = 0
        while got < wanted and len(self.indices):
            room = self.cap_tokens - self.used_tokens
            order = self._epoch_order()[self.offset :]
            sizes = np.cumsum(self.tokens[order])
            need = min(wanted - got, room)
            count = int(np.searchsorted(sizes, need))  # the first prefix reaching ``need``
            if count < len(order):
                over, under = sizes[count] - need, need - (sizes[count - 1] if count else 0)
                if over <= under and sizes[count] <= room:
                    count += 1
            rows.append(self.indices[order[:count]].astype(np.int64))
            epochs.append(np.full(count, self.epoch, np.int32))
            taken = int(sizes[count - 1]) if count else 0
            got += taken
            self.used_tokens += taken
            self.offset += count
            if self.offset < len(self.indices):
                break  # the next document would overshoot what is wanted, or the cap
            self.epoch, self.offset, self._order = self.epoch + 1, 0, None
        capped = got < wanted and self.cap_tokens - self.used_tokens < wanted - got
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int32), got, capped
        return np.concatenate(rows), np.concatenate(epochs), got, capped


@dataclass
class _Part:
    """What one source gave one phase: rows of the source, their epochs."""

    uri: str
    rows: np.ndarray
    epochs: np.ndarray
    keys: np.ndarray | None = None  # the phase-shuffle keys, once the ids were read


def build_mixture(lake: Lake, recipe: MixtureRecipe, staging: Path, *, spill: SpillConfig = DEFAULT_SPILL) -> Selection:
    """The rows of a recipe, in training order (staged under ``staging``), with the realized-against-requested
    report. The draw reads ids and token counts only; the rows are fetched afterwards, in position order."""
    catalog = Catalog(lake)
    entries = {
        uri: catalog.resolve(parse_pin(uri)) for uri in sorted({s.uri for p in recipe.phases for s in p.sources})
    }
    snapshots = {uri: VerifiedSource(Snapshot(lake, entry)) for uri, entry in entries.items()}
    wants_quality = {s.uri for p in recipe.phases for s in p.sources if s.min_quality is not None}
    wants_domain = {s.uri for p in recipe.phases for s in p.sources if s.domains is not None}
    columns: dict[str, DrawColumns] = {}
    for uri, snapshot in snapshots.items():
        if uri in wants_quality and "quality_score" not in snapshot.schema.names:
            raise DefinitionError(f"mixture {recipe.name}: {uri} has no quality_score for min_quality")
        if uri in wants_domain and "domain" not in snapshot.schema.names:
            raise DefinitionError(
                f"mixture {recipe.name}: {uri} has no domain column for domains "
                "(its snapshot definition must carry it: columns: [..., domains.domain])"
            )
        columns[uri] = draw_columns(snapshot, uri in wants_quality, uri in wants_domain)
    streams: dict[tuple[str, float | None, tuple[str, ...] | None], _Stream] = {}
    phases: list[list[_Part]] = []
    report_phases: list[dict[str, Any]] = []
    for phase_index, phase in enumerate(recipe.phases):
        requested_phase = recipe.target_tokens * phase.fraction
        weights = sum(s.weight for s in phase.sources)
        parts: list[_Part] = []
        lines: list[dict[str, Any]] = []
        for source in phase.sources:
            stream_key = (source.uri, source.min_quality, source.domains)
            if stream_key not in streams:
                streams[stream_key] = _new_stream(recipe, source, columns[source.uri])
            stream = streams[stream_key]
            requested = requested_phase * source.weight / weights
            rows, epochs, got, capped = stream.take(requested)
            parts.append(_Part(source.uri, rows, epochs))
            lines.append(
                {
                    "source": source.uri,
                    **({"domains": list(source.domains)} if source.domains is not None else {}),
                    "weight": source.weight,
                    "requested_tokens": round(requested),
                    "realized_tokens": got,
                    "documents": len(rows),
                    "epochs_drawn": round(stream.used_tokens / max(stream.available_tokens, 1), 4),
                    "capped": capped,
                    "max_epochs": source.max_epochs or recipe.max_epochs,
                    "available_tokens": stream.available_tokens,
                }
            )
        realized_phase = sum(line["realized_tokens"] for line in lines)
        for line in lines:
            line["requested_share"] = round(line["weight"] / weights, 4)
            line["realized_share"] = round(line["realized_tokens"] / realized_phase, 4) if realized_phase else 0.0
        phases.append(parts)
        report_phases.append(
            {
                "phase": phase.name,
                "phase_index": phase_index,
                "requested_tokens": round(requested_phase),
                "realized_tokens": realized_phase,
                "sources": lines,
            }
        )
    found = shortfall(recipe.target_tokens, report_phases)
    settle(recipe.name, found, recipe.on_shortfall)
    del columns, streams  # the draw is done: only the drawn rows' numbers are kept
    _shuffle_keys(snapshots, phases)
    uris = list(snapshots)
    draw = _draw_table(recipe, phases, uris)
    target = staging / "mixture.parquet"
    con = connect(staging, spill)
    try:
        rows_total = fetch_in_order(con, draw, [snapshots[u] for u in uris], target)
    finally:
        con.close()
    report = {
        "target_tokens": recipe.target_tokens,
        "realized_tokens": sum(p["realized_tokens"] for p in report_phases),
        "phases": report_phases,
        "shortfall": found,
        "shortfalls": found["messages"] if found else [],
        "sources": {
            uri: {
                "documents": e.documents,
                "tokens": e.tokens,
                "tokenizer": e.tokenizer,
                "manifest_sha256": e.manifest_sha256,
            }
            for uri, e in sorted(entries.items())
        },
    }
    upstream = tuple(sorted({TableVersion(e.table, e.delta_version) for e in entries.values()}, key=str))
    return Selection(OrderedRows(str(target), rows_total, MIXTURE), upstream, report)


def _new_stream(recipe: MixtureRecipe, source: MixtureSource, columns: DrawColumns) -> _Stream:
    eligible = columns.tokens > 0
    if source.min_quality is not None:
        assert columns.quality is not None
        eligible &= columns.quality >= source.min_quality
    if source.domains is not None:
        assert columns.domain is not None
        chosen = pc.is_in(columns.domain, value_set=pa.array(source.domains, pa.string()))
        eligible &= pc.fill_null(chosen, False).to_numpy(zero_copy_only=False)
    indices = np.flatnonzero(eligible)
    tokens = columns.tokens[indices]
    cap = (source.max_epochs or recipe.max_epochs) * float(tokens.sum())
    filters = ([] if source.min_quality is None else [f"min_quality={source.min_quality}"]) + (
        [] if source.domains is None else [f"domains={','.join(source.domains)}"]
    )
    return _Stream(
        source.uri + ("?" + "&".join(filters) if filters else ""),
        recipe.seed,
        indices,
        columns.keys[indices],
        tokens,
        cap,
    )


def _shuffle_keys(snapshots: Mapping[str, VerifiedSource], phases: list[list[_Part]]) -> None:
    """Each drawn row's phase-shuffle key, a hash of ``id/epoch/source``: one pass over each source's ids."""
    for uri, snapshot in snapshots.items():
        mine = [part for parts in phases for part in parts if part.uri == uri]
        rows = np.concatenate([p.rows for p in mine]) if mine else np.zeros(0, np.int64)
        epochs = np.concatenate([p.epochs for p in mine]) if mine else np.zeros(0, np.int32)
        keys = drawn_keys(snapshot, rows, epochs, uri)
        start = 0
        for part in mine:
            part.keys, start = keys[start : start + len(part.rows)], start + len(part.rows)


def _draw_table(recipe: MixtureRecipe, phases: list[list[_Part]], uris: list[str]) -> pa.Table:
    """Every drawn row's position: phases in recipe order, rows of a phase in a keyed order (sources
    interleave)."""
    tables, position = [], 0
    for phase, parts in zip(recipe.phases, phases, strict=True):
        if not parts or not sum(len(p.rows) for p in parts):
            continue
        keys = np.concatenate([p.keys for p in parts if p.keys is not None])
        order = np.lexsort((keys, _mix(keys, _salt(recipe.seed, "phase", phase.name))))
        src = np.concatenate([np.full(len(p.rows), uris.index(p.uri), np.int32) for p in parts])[order]
        count = len(order)
        tables.append(
            pa.table(
                {
                    "position": pa.array(np.arange(position, position + count, dtype=np.int64)),
                    "phase": pa.array([phase.name] * count, pa.string()),
                    "source": pa.DictionaryArray.from_arrays(pa.array(src), pa.array(uris, pa.string())).cast(
                        pa.string()
                    ),
                    "epoch": pa.array(np.concatenate([p.epochs for p in parts])[order]),
                    "src": pa.array(src),
                    "source_row": pa.array(np.concatenate([p.rows for p in parts])[order]),
                }
            )
        )
        position += count
    return pa.concat_tables(tables) if tables else _EMPTY_DRAW


_EMPTY_DRAW = pa.table(
    {
        "position": pa.array([], pa.int64()),
        "phase": pa.array([], pa.string()),
        "source": pa.array([], pa.string()),
        "epoch": pa.array([], pa.int32()),
        "src": pa.array([], pa.int32()),
        "source_row": pa.array([], pa.int64()),
    }
)
