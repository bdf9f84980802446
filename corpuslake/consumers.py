"""Consumers: who reads each pin, so that nothing they hold is deleted under them.

A consumer is a training run's lock file (``corpuslake lock``) or an export of a pin (``corpuslake
export``): a name, the run or job id, the pins it reads, the hash of its lock file (or of its export
manifest), and when. The records live in the lake beside the catalog, in the append-only Delta table
``consumers``: one row per event, ``registered`` or ``retired``, so concurrent writers only ever append
and the history of who held what is kept. A consumer's state is its latest event.

``corpuslake gc`` keeps every table version a registered consumer holds (and says which consumer holds
it); publishing a new number of a name lists the consumers still on older numbers.
"""

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import pyarrow as pa

from corpuslake import __version__
from corpuslake.catalog import Catalog
from corpuslake.errors import InputError
from corpuslake.lineage import Lineage
from corpuslake.pins import parse_pin
from corpuslake.store import Lake

CONSUMERS_TABLE = "consumers"
Kind = Literal["lock", "export"]
Event = Literal["registered", "retired"]

CONSUMERS = pa.schema(
    [
        pa.field("consumer_id", pa.string(), nullable=False),  # hash of name, run, pins and lock hash
        pa.field("event", pa.string(), nullable=False),  # registered or retired
        pa.field("name", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # lock or export
        pa.field("run_id", pa.string(), nullable=False),  # empty when none was given
        pa.field("pins", pa.string(), nullable=False),  # JSON list of corpuslake://name@N
        pa.field("lock_sha256", pa.string(), nullable=False),  # the lock file's (or export manifest's) hash
        pa.field("location", pa.string(), nullable=False),  # the lock file or export folder
        pa.field("at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


class UnknownConsumerError(InputError, LookupError):
    """A consumer to retire that no registered consumer's name or id matches."""


@dataclass(frozen=True)
class Consumer:
    """One consumer as its latest event leaves it."""

    consumer_id: str
    name: str
    kind: str
    run_id: str
    pins: tuple[str, ...]
    lock_sha256: str
    location: str
    registered_at: datetime
    retired_at: datetime | None

    @property
    def active(self) -> bool:
        return self.retired_at is None

    def as_json(self) -> dict[str, object]:
        """The consumer as plain JSON values (pins as a list, times in ISO 8601)."""
        return {
            "consumer_id": self.consumer_id,
            "name": self.name,
            "kind": self.kind,
            "run_id": self.run_id,
            "pins": list(self.pins),
            "lock_sha256": self.lock_sha256,
            "location": self.location,
            "registered_at": self.registered_at.isoformat(),
            "retired_at": self.retired_at.isoformat() if self.retired_at else None,
        }


def consumer_id(name: str, run_id: str, pins: Iterable[str], lock_sha256: str) -> str:
    """Stable: registering the same lock file of the same run again names the same consumer."""
    key = json.dumps([name, run_id, sorted(pins), lock_sha256], separators=(",", ":"))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _append(lake: Lake, rows: Sequence[dict[str, object]], what: str) -> None:
    lake.ensure_table(CONSUMERS_TABLE, CONSUMERS, {})
    lineage = Lineage(CONSUMERS_TABLE, None, what, __version__, {"event": what})
    lake.append(CONSUMERS_TABLE, pa.Table.from_pylist(list(rows), schema=CONSUMERS), lineage)


def register_consumer(
    lake: Lake,
    name: str,
    pins: Sequence[str],
    *,
    kind: Kind,
    run_id: str = "",
    lock_sha256: str = "",
    location: str = "",
) -> Consumer:
    """Record that ``name`` (run ``run_id``) reads ``pins``; an active identical record is not repeated."""
    if not name.strip():
        raise InputError("a consumer needs a name")
    uris = sorted({str(parse_pin(p)) for p in pins})
    ident = consumer_id(name, run_id, uris, lock_sha256)
    current = {c.consumer_id: c for c in consumers(lake, active_only=True)}
    if ident in current:
        return current[ident]
    row = {
        "consumer_id": ident,
        "event": "registered",
        "name": name,
        "kind": kind,
        "run_id": run_id,
        "pins": json.dumps(uris),
        "lock_sha256": lock_sha256,
        "location": location,
        "at": datetime.now(UTC),
    }
    _append(lake, [row], f"register {name}")
    return next(c for c in consumers(lake) if c.consumer_id == ident)


def register_export(lake: Lake, manifest: dict[str, object], location: str, name: str | None = None) -> Consumer:
    """Record an export (its ``export.json`` manifest, written to ``location``) as a consumer of its pin."""
    pin = str(manifest["pin"])
    return register_consumer(
        lake,
        name or f"export:{location.rstrip('/').rsplit('/', 1)[-1]}",
        [pin],
        kind="export",
        run_id=str(manifest["export_id"])[:16],
        lock_sha256=str(manifest["export_id"]),
        location=location,
    )


def consumers(lake: Lake, pin: str | None = None, *, active_only: bool = False) -> list[Consumer]:
    """Every consumer (of ``pin``: a pin, or a name for all its numbers), oldest first."""
    if lake.version(CONSUMERS_TABLE) is None:
        return []
    rows = sorted(lake.read(CONSUMERS_TABLE).to_pylist(), key=lambda r: r["at"])
    state: dict[str, Consumer] = {}
    for r in rows:
        known = state.get(r["consumer_id"])
        if r["event"] == "retired":
            if known is not None:
                state[r["consumer_id"]] = _with_retired(known, r["at"])
            continue
        state[r["consumer_id"]] = Consumer(
            consumer_id=r["consumer_id"],
            name=r["name"],
            kind=r["kind"],
            run_id=r["run_id"],
            pins=tuple(json.loads(r["pins"])),
            lock_sha256=r["lock_sha256"],
            location=r["location"],
            registered_at=r["at"],
            retired_at=None,
        )
    found = sorted(state.values(), key=lambda c: c.registered_at)
    return [c for c in found if (not active_only or c.active) and (pin is None or _reads(c, pin))]


def _with_retired(consumer: Consumer, at: datetime) -> Consumer:
    fields = {k: getattr(consumer, k) for k in Consumer.__dataclass_fields__}
    return Consumer(**{**fields, "retired_at": at})


def _reads(consumer: Consumer, pin: str) -> bool:
    if "://" in pin:
        return str(parse_pin(pin)) in consumer.pins
    return any(parse_pin(p).name == pin for p in consumer.pins)


def retire(lake: Lake, name_or_id: str) -> list[Consumer]:
    """Retire the active consumers named ``name_or_id`` (or the one whose id starts with it)."""
    active = consumers(lake, active_only=True)
    chosen = [c for c in active if c.name == name_or_id]
    if not chosen and len(name_or_id) >= 4:
        chosen = [c for c in active if c.consumer_id.startswith(name_or_id)]
    if not chosen:
        names = ", ".join(sorted({c.name for c in active})) or "none"
        raise UnknownConsumerError(f"no registered consumer is named {name_or_id!r} or has that id (active: {names})")
    now = datetime.now(UTC)
    # A retirement repeats what it retires, so each row of the table reads on its own.
    rows = [{**_row(c), "event": "retired", "at": now} for c in chosen]
    _append(lake, rows, f"retire {name_or_id}")
    return [_with_retired(c, now) for c in chosen]


def _row(c: Consumer) -> dict[str, object]:
    """The table's columns of ``c`` (an event row without its event and time)."""
    row = {k: v for k, v in c.as_json().items() if k not in ("registered_at", "retired_at")}
    return {**row, "pins": json.dumps(row["pins"])}


def held_pins(lake: Lake) -> dict[str, list[Consumer]]:
    """Each pin the active consumers read, with those consumers."""
    held: dict[str, list[Consumer]] = {}
    for c in consumers(lake, active_only=True):
        for pin in c.pins:
            held.setdefault(pin, []).append(c)
    return held


def consumers_behind(lake: Lake, name: str) -> list[tuple[Consumer, list[str]]]:
    """The active consumers still reading an older number of ``name`` than its latest, with those pins."""
    latest = Catalog(lake).latest(name)
    if latest is None:
        return []
    behind = []
    for c in consumers(lake, name, active_only=True):
        older = [p for p in c.pins if parse_pin(p).name == name and (parse_pin(p).number or 0) < latest.number]
        if older:
            behind.append((c, older))
    return behind


def behind_lines(lake: Lake, name: str) -> list[str]:
    """One line per consumer still on an older number of ``name``: what publishing should tell."""
    latest = Catalog(lake).latest(name)
    return [
        f"{c.name} (run {c.run_id or '-'}, {c.kind}) still reads {', '.join(older)}; latest is {latest.uri}"
        for c, older in consumers_behind(lake, name)
        if latest is not None
    ]
