"""The ``proxy_runs`` table: one row per proxy run, keyed by search and candidate, versioned in Delta.

Each run is committed on its own (replacing that candidate's row), so a stopped search keeps every run
it finished and no version holds half a run; a rerun of the same search (same id) reuses the rows it
already has. Each commit's lineage names the pinned snapshot versions the proxies read.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa
from deltalake import CommitProperties, write_deltalake
from deltalake.exceptions import TableNotFoundError

from corpuslake.lineage import LINEAGE_KEY, Lineage
from corpuslake.names import check_name
from corpuslake.store import Lake

TABLE = "proxy_runs"
Kind = Literal["candidate", "natural", "uniform", "predicted"]

PROXY_RUNS = pa.schema(
    [
        pa.field("search", pa.string(), nullable=False),  # the search's name (the partition)
        pa.field("search_id", pa.string(), nullable=False),  # fingerprint of the search and its pins' manifests
        pa.field("candidate", pa.string(), nullable=False),  # c00.., natural, uniform, predicted
        pa.field("kind", pa.string(), nullable=False),
        pa.field("sources", pa.list_(pa.string()), nullable=False),  # the pins, in the order of ``weights``
        pa.field("weights", pa.list_(pa.float64()), nullable=False),
        pa.field("tokens_trained", pa.int64(), nullable=False),
        pa.field("target_loss", pa.float64(), nullable=False),
        pa.field("predicted_loss", pa.float64()),  # the regression's prediction (the predicted run only)
        pa.field("seed", pa.int64(), nullable=False),
        pa.field("proxy_config", pa.string(), nullable=False),  # JSON of the model, budget, tokenizer, target
        pa.field("proxy_hash", pa.string(), nullable=False),
        pa.field("source_manifests", pa.string(), nullable=False),  # JSON: pin -> manifest sha256
        pa.field("cpu_seconds", pa.float64(), nullable=False),
        pa.field("wall_seconds", pa.float64(), nullable=False),
    ]
)


@dataclass(frozen=True)
class ProxyRun:
    """One row of ``proxy_runs``."""

    search: str
    search_id: str
    candidate: str
    kind: Kind
    weights: Mapping[str, float]
    tokens_trained: int
    target_loss: float
    seed: int
    proxy_config: str
    proxy_hash: str
    source_manifests: Mapping[str, str]
    cpu_seconds: float
    wall_seconds: float
    predicted_loss: float | None = None

    def row(self) -> dict[str, object]:
        uris = sorted(self.weights)
        return {
            "search": self.search,
            "search_id": self.search_id,
            "candidate": self.candidate,
            "kind": self.kind,
            "sources": uris,
            "weights": [float(self.weights[u]) for u in uris],
            "tokens_trained": self.tokens_trained,
            "target_loss": self.target_loss,
            "predicted_loss": self.predicted_loss,
            "seed": self.seed,
            "proxy_config": self.proxy_config,
            "proxy_hash": self.proxy_hash,
            "source_manifests": json.dumps(dict(sorted(self.source_manifests.items()))),
            "cpu_seconds": self.cpu_seconds,
            "wall_seconds": self.wall_seconds,
        }


def record_run(lake: Lake, run: ProxyRun, lineage: Lineage) -> int:
    """Replace ``run``'s row (same search and candidate) in one commit; return the table's new version."""
    search, candidate = check_name(run.search, "search"), check_name(run.candidate, "candidate")
    write_deltalake(
        lake.table_uri(TABLE),
        pa.Table.from_pylist([run.row()], PROXY_RUNS),
        mode="overwrite",
        predicate=f"search = '{search}' AND candidate = '{candidate}'",
        partition_by=["search"],
        storage_options=lake.options,
        commit_properties=CommitProperties(custom_metadata={LINEAGE_KEY: lineage.to_json()}),
    )
    return lake.version_of_commit(TABLE, lineage.commit_id)


def read_runs(lake: Lake, search_id: str, version: int | None = None) -> dict[str, ProxyRun]:
    """The runs of search ``search_id`` at ``version`` (latest if None), by candidate."""
    try:
        rows = lake.read(TABLE, version, filters={"search_id": search_id}).to_pylist()
    except TableNotFoundError:
        return {}
    return {r["candidate"]: _run(r) for r in rows}


def _run(row: Mapping[str, object]) -> ProxyRun:
    sources, weights = row["sources"], row["weights"]
    assert isinstance(sources, Sequence) and isinstance(weights, Sequence)
    manifests = json.loads(str(row["source_manifests"]))
    return ProxyRun(
        search=str(row["search"]),
        search_id=str(row["search_id"]),
        candidate=str(row["candidate"]),
        kind=row["kind"],  # type: ignore[arg-type]
        weights=dict(zip(sources, weights, strict=True)),
        tokens_trained=int(row["tokens_trained"]),  # type: ignore[call-overload]
        target_loss=float(row["target_loss"]),  # type: ignore[arg-type]
        seed=int(row["seed"]),  # type: ignore[call-overload]
        proxy_config=str(row["proxy_config"]),
        proxy_hash=str(row["proxy_hash"]),
        source_manifests=manifests,
        cpu_seconds=float(row["cpu_seconds"]),  # type: ignore[arg-type]
        wall_seconds=float(row["wall_seconds"]),  # type: ignore[arg-type]
        predicted_loss=None if row["predicted_loss"] is None else float(row["predicted_loss"]),  # type: ignore[arg-type]
    )
