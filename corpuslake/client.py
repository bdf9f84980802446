"""The training-side reader: ``corpuslake.open("corpuslake://name@N")`` streams exactly the published bytes.

A pin resolves through the catalog to a table, a Delta version and a manifest. Opening checks that the
version's files are the manifest's files; streaming maps each file whole, checks its size and BLAKE3
digest against the manifest, and releases its rows only then (the hash runs on a second thread while the
file is decoded). A missing, truncated or altered file, a vacuumed version, or a catalog that
no longer matches a lock file is an error naming the problem, never different rows.
"""

import hashlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import blake3
import pyarrow as pa
import pyarrow.dataset as pads
import yaml
from deltalake.exceptions import DeltaError

from corpuslake.catalog import Catalog, CatalogEntry, ManifestFile, file_digests, manifest_sha256
from corpuslake.consumers import register_consumer
from corpuslake.pins import SCHEME, DamagedSnapshotError, Pin, PinError, parse_pin
from corpuslake.settings import load_settings
from corpuslake.store import Lake
from corpuslake.typed import near_key

LOCK_SUFFIX = ".corpuslake.lock"


class LockMismatchError(PinError):
    """The catalog no longer says what the lock file recorded."""


class UnknownColumnError(ValueError):
    """A column a reader asked for that the snapshot does not have."""

    def __init__(self, uri: str, missing: Sequence[str], available: Sequence[str]) -> None:
        self.missing, self.available = list(missing), list(available)
        hints = "".join(near_key(m, available) for m in missing if near_key(m, available))
        super().__init__(
            f"{uri} has no column {', '.join(map(repr, missing))}{hints}; its columns: {', '.join(available)}"
        )


def _lake(lake: str | Lake | None) -> Lake:
    if isinstance(lake, Lake):
        return lake
    return Lake(load_settings(lake=lake).lake)


def pinned_lake(lake: Lake, pin: Pin) -> Lake:
    """The lake a pin is read from: on lakeFS, the commit its publication tag names (so its bytes are
    those of that commit, whatever main holds later); elsewhere the lake itself."""
    if not lake.is_lakefs or pin.number is None:
        return lake
    from corpuslake.lakefs_store import LakeFSVersionStore, parse_lake_uri

    _, _, prefix = parse_lake_uri(lake.root)
    with LakeFSVersionStore.for_lake(lake.root) as store:
        commit = store.resolve_pin(pin.name, pin.number)
        return Lake(store.lake_root(commit, prefix), cache=lake.cache)


@dataclass(frozen=True)
class LockedPin:
    """One pin as a lock file records it."""

    written: str
    uri: str
    table: str
    delta_version: int
    manifest_sha256: str
    documents: int
    tokens: int
    lake: str = ""
    """On lakeFS: the lake at the commit the pin's tag named when the lock was written."""


def read_lock(path: str | Path) -> tuple[str, dict[str, LockedPin]]:
    """The lake root and the pins (by the text written in the config, and by resolved URI) of a lock file."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "pins" not in data or "lake" not in data:
        raise PinError(f"{path} is not a corpuslake lock file (no 'lake' and 'pins'): write one with `corpuslake lock`")
    pins = {}
    for written, pin in data["pins"].items():
        try:
            locked = LockedPin(
                written=str(written),
                uri=str(pin["uri"]),
                table=str(pin["table"]),
                delta_version=int(pin["delta_version"]),
                manifest_sha256=str(pin["manifest_sha256"]),
                documents=int(pin["documents"]),
                tokens=int(pin["tokens"]),
                lake=str(pin.get("lake", "")),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise PinError(f"{path}: the entry for {written} is incomplete or malformed ({error})") from error
        pins[written] = locked
        pins[locked.uri] = locked
    return str(data["lake"]), pins


class Snapshot:
    """One published snapshot, verified against its manifest as it is read."""

    def __init__(self, lake: Lake, entry: CatalogEntry) -> None:
        self.lake = lake
        self.entry = entry
        self._version_checked = False  # the Delta log agreed with the manifest (it is read once)

    @property
    def uri(self) -> str:
        return self.entry.uri

    @property
    def schema(self) -> pa.Schema:
        return self.lake.dataset(self.entry.table, self.entry.delta_version).schema

    def check_files(self) -> None:
        """The catalog's manifest hash holds, and the Delta version's files are exactly the manifest's."""
        entry = self.entry
        if manifest_sha256(entry.manifest) != entry.manifest_sha256:
            raise DamagedSnapshotError(entry.uri, ["the catalog's manifest does not match its own manifest_sha256"])
        try:
            version_files = {f["path"] for f in self.lake.files(entry.table, entry.delta_version)}
        except DeltaError as error:
            raise DamagedSnapshotError(
                entry.uri,
                [
                    f"{entry.table}@v{entry.delta_version} is no longer in the Delta log ({error}): "
                    "was its log cleaned outside corpuslake gc?"
                ],
            ) from error
        listed = {f.path for f in entry.manifest}
        if version_files != listed:
            raise DamagedSnapshotError(
                entry.uri,
                [
                    f"{entry.table}@v{entry.delta_version} holds files that differ from the manifest: "
                    f"{sorted(version_files ^ listed)}"
                ],
            )
        self._version_checked = True

    def verify(self) -> list[str]:
        """Every damaged file (missing, wrong size, wrong BLAKE3 or SHA-256), one sentence each; empty when
        intact. Slower than streaming: both digests are computed."""
        problems = []
        for file in self.entry.manifest:
            data = _read_whole(self.lake, self.entry.table, file)
            problem = self._problem(file, data)
            if problem is None and data is not None:
                sha256, blake = file_digests(data)
                problem = self._digest_problem(file, blake, "BLAKE3") or self._digest_problem(file, sha256, "SHA-256")
            if problem:
                problems.append(problem)
        return problems

    def _problem(self, file: ManifestFile, data: pa.Buffer | None) -> str | None:
        where = f"{self.entry.table}/{file.path}"
        if data is None:
            return f"{where} is missing (vacuumed or deleted)"
        if data.size != file.size:
            return f"{where} has {data.size} bytes, the manifest says {file.size}"
        return None

    def _digest_problem(self, file: ManifestFile, digest: str, kind: str = "BLAKE3") -> str | None:
        expected = file.blake3 if kind == "BLAKE3" else file.sha256
        if digest != expected:
            return f"{self.entry.table}/{file.path} was altered: its {kind} differs from the manifest"
        return None

    def batches(
        self,
        columns: Sequence[str] | None = None,
        batch_rows: int = 8192,
        start_row: int = 0,
        stop_row: int | None = None,
        check_version: bool = True,
    ) -> Iterator[pa.RecordBatch]:
        """The rows in published order as record batches, rows ``start_row`` to ``stop_row`` (exclusive).

        Every file is checked against the manifest before any of its rows is yielded: the file is mapped,
        its BLAKE3 computed on one thread (while the next file is mapped on another), and only when the
        digest matches are its rows decoded, one batch at a time. Memory holds one batch of decoded rows.
        The Delta log is compared with the manifest once per snapshot (``open`` already did);
        ``check_version=False`` skips that comparison altogether (a DataLoader worker whose parent opened
        the snapshot).
        """
        if check_version and not self._version_checked:
            self.check_files()
        stop = self.entry.documents if stop_row is None else min(stop_row, self.entry.documents)
        offset, wanted = 0, []
        for file in self.entry.manifest:
            if offset + file.rows > start_row and offset < stop:
                wanted.append((offset, file))
            offset += file.rows
        names = list(columns) if columns else None
        if not wanted:
            missing = [c for c in names or () if c not in self.schema.names]
            if missing:  # no file is decoded to check the names against: the table's schema says
                raise UnknownColumnError(self.uri, missing, self.schema.names)
            return

        def load(file: ManifestFile) -> pa.Buffer:
            data = _read_whole(self.lake, self.entry.table, file)
            problem = self._problem(file, data)
            if problem:
                raise DamagedSnapshotError(self.entry.uri, [problem])
            assert data is not None
            return data

        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="corpuslake-verify") as pool:
            loading = pool.submit(load, wanted[0][1])
            for index, (position, file) in enumerate(wanted):
                data = loading.result()
                digest = pool.submit(_blake3, data)
                if index + 1 < len(wanted):
                    loading = pool.submit(load, wanted[index + 1][1])
                problem = self._digest_problem(file, digest.result())
                if problem:
                    raise DamagedSnapshotError(self.entry.uri, [problem])
                for batch in _decode(data, names, batch_rows, f"{self.entry.table}/{file.path}", self.entry.uri):
                    begin, end = max(start_row - position, 0), min(stop - position, batch.num_rows)
                    if end > begin:
                        yield batch if (begin, end) == (0, batch.num_rows) else batch.slice(begin, end - begin)
                    position += batch.num_rows
                    if position >= stop:
                        return

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self.batches()

    def to_table(self, columns: Sequence[str] | None = None) -> pa.Table:
        batches = list(self.batches(columns))
        if batches:
            return pa.Table.from_batches(batches)
        schema = self.schema
        return schema.empty_table() if not columns else schema.empty_table().select(list(columns))

    def torch(self, **options: Any) -> Any:
        """A ``torch.utils.data.IterableDataset`` over this snapshot (see :mod:`corpuslake.torch_dataset`)."""
        from corpuslake.torch_dataset import SnapshotDataset

        return SnapshotDataset(self, **options)


_PARQUET = pads.ParquetFileFormat()


def _decode(
    data: pa.Buffer, columns: list[str] | None, batch_rows: int, name: str, uri: str
) -> Iterator[pa.RecordBatch]:
    """A verified file's rows, decoded a batch at a time (a whole decoded file of long texts is hundreds
    of MB; its digest already matched, so a decoding failure here is a damaged reader, not a file)."""
    try:
        fragment = _PARQUET.make_fragment(pa.BufferReader(data))
        available = fragment.physical_schema.names
    except (pa.ArrowException, OSError) as error:
        raise DamagedSnapshotError(uri, [f"{name} cannot be decoded: {error}"]) from error
    # A column the file does not have is the caller's mistake, not damage: say which, and what there is.
    missing = [c for c in columns or () if c not in available]
    if missing:
        raise UnknownColumnError(uri, missing, available)
    try:
        yield from fragment.to_batches(columns=columns, batch_size=batch_rows, use_threads=False)
    except (pa.ArrowException, OSError) as error:
        raise DamagedSnapshotError(uri, [f"{name} cannot be decoded: {error}"]) from error


def _blake3(data: pa.Buffer) -> str:
    return blake3.blake3(memoryview(data)).hexdigest()  # releases the GIL while hashing


def _read_whole(lake: Lake, table: str, file: ManifestFile) -> pa.Buffer | None:
    try:
        return lake.read_buffer(table, file.path)
    except FileNotFoundError:
        return None


def resolve(
    uri: str, lake: str | Lake | None = None, lock: str | Path | None = None, *, name: str | None = None
) -> tuple[Lake, CatalogEntry]:
    """The lake and catalog entry a pin (or a lock file's pin) names. In a lock file, ``name`` (or ``uri``)
    picks one pin by snapshot name (``web-en``), by pin, or by the text the training config wrote."""
    if lock is None and not uri.startswith(SCHEME) and (uri.endswith(LOCK_SUFFIX) or Path(uri).is_file()):
        lock, uri = uri, ""
    if lock is None:
        pin = parse_pin(uri)
        store = pinned_lake(_lake(lake), pin)
        return store, Catalog(store).resolve(pin)
    root, pins = read_lock(lock)
    locked = _locked_pin(lock, pins, name or uri)
    store = lake if isinstance(lake, Lake) else Lake(lake or locked.lake or root)
    entry = Catalog(store).resolve(locked.uri)
    if (entry.delta_version, entry.manifest_sha256) != (locked.delta_version, locked.manifest_sha256):
        raise LockMismatchError(
            f"{locked.uri}: {lock} recorded {locked.table}@v{locked.delta_version} manifest "
            f"{locked.manifest_sha256[:16]}, the catalog now says {entry.table}@v{entry.delta_version} "
            f"manifest {entry.manifest_sha256[:16]}"
        )
    return store, entry


def _locked_pin(lock: str | Path, pins: dict[str, LockedPin], wanted: str) -> LockedPin:
    """The one pin of a lock file that ``wanted`` names (any pin when the file locks only one)."""
    distinct = {p.uri: p for p in pins.values()}
    names = sorted({parse_pin(u).name for u in distinct})
    listing = f"{', '.join(names)} ({', '.join(sorted(distinct))})"
    if not wanted:
        if len(distinct) == 1:
            return next(iter(distinct.values()))
        raise PinError(f"{lock} locks {len(distinct)} pins: choose one with name=, one of {listing}")
    matches = {p.uri: p for written, p in pins.items() if wanted in (written, p.uri, parse_pin(p.uri).name)}
    if not matches:
        raise PinError(f"{lock} locks no pin named {wanted!r}{near_key(wanted, names)}: it locks {listing}")
    if len(matches) > 1:
        raise PinError(f"{lock} locks {len(matches)} pins of {wanted}: choose one of {', '.join(sorted(matches))}")
    return next(iter(matches.values()))


def open(
    uri: str, lake: str | Lake | None = None, *, lock: str | Path | None = None, name: str | None = None
) -> Snapshot:
    """A published snapshot by pin (``corpuslake://name@N``), or by lock file: its only pin, or the one
    ``name`` picks (a snapshot name such as ``web-en``, or a pin).

    ``lake`` is the lake root (default: ``CORPUSLAKE_LAKE`` or ``./lake``; a lock file names its own).
    """
    store, entry = resolve(uri, lake, lock, name=name)
    snapshot = Snapshot(store, entry)
    snapshot.check_files()
    return snapshot


def _pins_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value.strip()] if value.strip().startswith(SCHEME) else []
    if isinstance(value, dict):
        return [pin for v in value.values() for pin in _pins_in(v)]
    if isinstance(value, list):
        return [pin for v in value for pin in _pins_in(v)]
    return []


def lock_path(config: str | Path) -> Path:
    """Where the lock file of a training config goes: ``train.yaml`` -> ``train.corpuslake.lock``."""
    path = Path(config)
    return path.with_name(path.stem + LOCK_SUFFIX)


def write_lock(
    config: str | Path,
    lake: str | Lake | None = None,
    *,
    consumer: str | None = None,
    run_id: str = "",
    register: bool = True,
) -> Path:
    """Resolve every ``corpuslake://`` pin in a YAML training config (``@latest`` included) and write the
    exact table versions and manifest hashes to a lock file beside it; return its path.

    The lock is registered in the lake as a consumer of its pins (``consumer``, default the config's
    stem, and ``run_id``), so garbage collection keeps what it reads until it is retired."""
    path = Path(config)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from error
    written = sorted(set(_pins_in(data)))
    if not written:
        raise ValueError(f"{path} names no corpuslake:// dataset to lock")
    store = _lake(lake)
    catalog = Catalog(store)
    pins: dict[str, dict[str, Any]] = {}
    for text in written:
        entry = catalog.resolve(parse_pin(text, allow_latest=True))
        pinned = pinned_lake(store, Pin(entry.name, entry.number))
        if pinned is not store:
            entry = Catalog(pinned).resolve(Pin(entry.name, entry.number))
        Snapshot(pinned, entry).check_files()
        pins[text] = {
            "uri": entry.uri,
            "table": entry.table,
            "delta_version": entry.delta_version,
            "manifest_sha256": entry.manifest_sha256,
            "documents": entry.documents,
            "tokens": entry.tokens,
            **({"lake": pinned.root} if pinned is not store else {}),
        }
    lock = {
        "lake": store.root,
        "config": path.name,
        "config_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "pins": pins,
    }
    target = lock_path(path)
    temporary = target.with_name(target.name + ".tmp")
    header = "# Written by `corpuslake lock`: the exact data this config trains on. Commit it; do not edit.\n"
    temporary.write_text(header + yaml.safe_dump(lock, sort_keys=True), encoding="utf-8")
    temporary.replace(target)
    if register:
        uris = [p["uri"] for p in pins.values()]
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        name = consumer or path.stem
        register_consumer(store, name, uris, kind="lock", run_id=run_id, lock_sha256=digest, location=str(target))
    return target
