"""``export.json``: what an export is (pin, tokenizer, options, splits, every file's SHA-256), and its check.

The manifest is UTF-8 JSON with sorted keys and an indent of 2. ``export_id`` is the SHA-256 of the
canonical JSON (sorted keys, no spaces) of everything else in it, so two exports with the same id hold
the same bytes. ``files`` lists every file of the export folder but the manifest itself, by path
relative to the folder (the sources of a mixture included).
"""

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from corpuslake.errors import InputError

MANIFEST = "export.json"
_CHUNK = 8 << 20


class ExportCheckError(InputError):
    """A folder that is not an export, or whose manifest does not hold together."""


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def export_id(manifest: Mapping[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "export_id"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def folder_files(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` but a top-level ``export.json``, with its SHA-256, by relative path."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p != folder / MANIFEST)
    return {p.relative_to(folder).as_posix(): file_sha256(p) for p in files}


def write_manifest(folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Add the folder's file digests and the export id to ``manifest`` and write it; return it."""
    complete = {**manifest, "files": folder_files(folder)}
    complete["export_id"] = export_id(complete)
    (folder / MANIFEST).write_text(json.dumps(complete, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    return complete


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        raise ExportCheckError(f"{folder} is not an export: it has no {MANIFEST}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ExportCheckError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise ExportCheckError(f"{path} is not an export manifest (no 'files')")
    return data


def verify_export(folder: Path) -> list[str]:
    """Every problem of an export folder, one sentence each; empty when intact: the manifest's id,
    each listed file's SHA-256, and files the manifest does not list."""
    manifest = read_manifest(folder)
    problems = []
    if export_id(manifest) != manifest.get("export_id"):
        problems.append(f"{folder / MANIFEST} was edited: its export_id does not match its content")
    listed: dict[str, str] = manifest["files"]
    for name, expected in sorted(listed.items()):
        path = folder / name
        if not path.is_file():
            problems.append(f"{path} is missing")
        elif file_sha256(path) != expected:
            problems.append(f"{path} was altered: its SHA-256 differs from {MANIFEST}")
    extra = sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p != folder / MANIFEST
    )
    problems += [f"{folder / name} is not listed in {MANIFEST}" for name in extra if name not in listed]
    return problems
