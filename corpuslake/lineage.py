"""Lineage: what produced a table version, carried in the Delta commit itself.

Each commit's custom metadata holds one JSON document under :data:`LINEAGE_KEY`: the run, the asset,
the partition, the code version, the config and its fingerprint, and the exact (table, version) pairs
read. Reading it back needs nothing but the Delta log.
"""

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LINEAGE_KEY = "corpuslake.lineage"


@dataclass(frozen=True)
class TableVersion:
    table: str
    version: int

    def __str__(self) -> str:
        return f"{self.table}@v{self.version}"


@dataclass(frozen=True)
class Lineage:
    """The provenance of one table version."""

    asset: str
    partition: str | None
    run_id: str
    code_version: str
    config: Mapping[str, Any]
    upstream: tuple[TableVersion, ...] = ()
    commit_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    """Unique per write: finds this commit's version in the history even with concurrent writers."""

    @property
    def config_fingerprint(self) -> str:
        return fingerprint(self.config)

    def to_json(self) -> str:
        return json.dumps(
            {
                "asset": self.asset,
                "partition": self.partition,
                "run_id": self.run_id,
                "code_version": self.code_version,
                "config": self.config,
                "config_fingerprint": self.config_fingerprint,
                "upstream": [{"table": u.table, "version": u.version} for u in self.upstream],
                "commit_id": self.commit_id,
            },
            sort_keys=True,
            default=str,
        )

    @classmethod
    def from_json(cls, text: str) -> "Lineage":
        data = json.loads(text)
        return cls(
            asset=data["asset"],
            partition=data.get("partition"),
            run_id=data["run_id"],
            code_version=data["code_version"],
            config=data.get("config", {}),
            upstream=tuple(TableVersion(u["table"], int(u["version"])) for u in data.get("upstream", [])),
            commit_id=data["commit_id"],
        )


def fingerprint(config: Mapping[str, Any]) -> str:
    """A stable short hash of a config: same settings, same fingerprint, whatever the key order."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def plain(config: Any) -> Any:
    """A config (dataclasses, tuples, mappings) as plain JSON-able data, for fingerprints and metadata."""
    if hasattr(config, "__dataclass_fields__"):
        return {name: plain(getattr(config, name)) for name in config.__dataclass_fields__}
    if isinstance(config, tuple | list):
        return [plain(v) for v in config]
    if isinstance(config, Mapping):
        return {k: plain(v) for k, v in sorted(config.items())}
    return config
