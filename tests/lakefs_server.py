"""A small in-memory lakeFS API server for the tests of corpuslake.lakefs_store.

It implements exactly the lakeFS API calls the ``lakefs`` SDK makes for the store (the SDK's client makes
none on setup), on loopback with basic auth:

- ``POST /api/v1/repositories/{repository}/branches`` (BranchCreation; 201, the new branch's commit id as text)
- ``POST /api/v1/repositories/{repository}/branches/{branch}/commits`` (CommitCreation; 201 Commit)
- ``GET  /api/v1/repositories/{repository}/commits/{ref}`` (200 Commit; any branch, tag or commit id)
- ``POST /api/v1/repositories/{repository}/refs/{source}/merge/{destination}`` (Merge; 200 MergeResult)
- ``POST /api/v1/repositories/{repository}/tags`` (TagCreation; 201 Ref)
- ``GET  /api/v1/repositories/{repository}/tags/{tag}`` (200 Ref)

Every request body is validated with the matching model of the generated ``lakefs-sdk`` client (built from
lakeFS's OpenAPI spec), unknown fields included, and every response is built from its response model
(``Ref``, ``Commit``, ``MergeResult``, ``Error``). Errors follow lakeFS: 401 without the right basic auth,
404 for unknown paths and missing refs, 409 for existing branches and tags and merge conflicts, 400 for an
empty commit or merge without ``allow_empty``. Commits are content-addressed (SHA-256 of parents, message,
metadata and tree). Objects are not served: :meth:`LakeFSServer.stage` stands in for a writer.

Every request is recorded (method, path, query, JSON body, status and the name of its auth scheme; never
its headers) for the tests.
"""

import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from lakefs_sdk.models.branch_creation import BranchCreation
from lakefs_sdk.models.commit import Commit
from lakefs_sdk.models.commit_creation import CommitCreation
from lakefs_sdk.models.error import Error
from lakefs_sdk.models.merge import Merge
from lakefs_sdk.models.merge_result import MergeResult
from lakefs_sdk.models.ref import Ref
from lakefs_sdk.models.tag_creation import TagCreation

API = "/api/v1"
COMMITTER = "corpuslake-test"

_Model = TypeVar("_Model", BranchCreation, CommitCreation, Merge, TagCreation)


@dataclass(frozen=True)
class Request:
    """One request as the server received it (headers are never kept: they carry the credentials)."""

    method: str
    path: str
    query: str
    body: Any
    status: int
    auth_scheme: str  # "Basic" from the SDK, "AWS4-HMAC-SHA256" from an S3 client, "" without

    @property
    def call(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class _Commit:
    id: str
    parents: list[str]
    message: str
    metadata: dict[str, str]
    tree: dict[str, str]
    creation_date: int
    generation: int

    @property
    def meta_range_id(self) -> str:
        return _sha256(self.tree)

    def model(self) -> Commit:
        return Commit(
            id=self.id,
            parents=self.parents,
            committer=COMMITTER,
            message=self.message,
            creation_date=self.creation_date,
            meta_range_id=self.meta_range_id,
            metadata=self.metadata,
            generation=self.generation,
            version=1,
        )


@dataclass
class _Repository:
    name: str
    default_branch: str
    commits: dict[str, _Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)  # branch -> head commit id
    staged: dict[str, dict[str, str | None]] = field(default_factory=dict)  # branch -> path -> content (None: delete)
    tags: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def _sha256(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _validate(model: type[_Model], body: Any) -> _Model:
    """The request body as ``model``: not an object, an unknown field or a wrong type is a 400."""
    if not isinstance(body, dict):
        raise ApiError(400, f"request body must be a JSON object ({model.__name__})")
    known = {f.alias for f in model.__fields__.values()}
    unknown = sorted(set(body) - known)
    if unknown:
        raise ApiError(400, f"unknown fields in {model.__name__}: {', '.join(unknown)}")
    try:
        return model.parse_obj(body)
    except ValueError as error:  # pydantic's ValidationError
        raise ApiError(400, f"invalid {model.__name__}: {error}") from error


Route = tuple[str, re.Pattern[str], Callable[..., tuple[int, str, str]]]


class LakeFSServer:
    """lakeFS's API for a few calls, in memory, on ``127.0.0.1`` (see the module docstring)."""

    def __init__(self, access_key_id: str, secret_access_key: str) -> None:
        token = base64.b64encode(f"{access_key_id}:{secret_access_key}".encode()).decode()
        self._authorization = f"Basic {token}"
        self._lock = threading.Lock()
        self._repositories: dict[str, _Repository] = {}
        self.requests: list[Request] = []
        segment = r"([^/]+)"
        repo = rf"{API}/repositories/{segment}"
        self._routes: list[Route] = [
            ("POST", re.compile(rf"{repo}/branches"), self._create_branch),
            ("POST", re.compile(rf"{repo}/branches/{segment}/commits"), self._commit),
            ("GET", re.compile(rf"{repo}/commits/{segment}"), self._get_commit),
            ("POST", re.compile(rf"{repo}/refs/{segment}/merge/{segment}"), self._merge),
            ("POST", re.compile(rf"{repo}/tags"), self._create_tag),
            ("GET", re.compile(rf"{repo}/tags/{segment}"), self._get_tag),
        ]
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.02,), name="lakefs-test-server", daemon=True
        )

    # -- lifecycle ------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> "LakeFSServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "LakeFSServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state the tests set up and inspect (not over HTTP) -------------------------------------------

    def create_repository(self, name: str, default_branch: str = "main") -> str:
        """A repository whose default branch holds one empty commit; return that commit's id."""
        with self._lock:
            repo = _Repository(name, default_branch)
            first = self._new_commit(repo, [], "Repository created", {}, {})
            repo.branches[default_branch] = first.id
            self._repositories[name] = repo
            return first.id

    def stage(self, repository: str, branch: str, path: str, content: str | None) -> None:
        """Stage a write (or, with None, a delete) of ``path`` on ``branch``, as a writer would."""
        with self._lock:
            repo = self._repositories[repository]
            if branch not in repo.branches:
                raise KeyError(f"no branch {branch} in {repository}")
            repo.staged.setdefault(branch, {})[path] = content

    def head(self, repository: str, branch: str) -> str:
        with self._lock:
            return self._repositories[repository].branches[branch]

    def branches(self, repository: str) -> dict[str, str]:
        with self._lock:
            return dict(self._repositories[repository].branches)

    def tags(self, repository: str) -> dict[str, str]:
        with self._lock:
            return dict(self._repositories[repository].tags)

    def tree(self, repository: str, ref: str) -> dict[str, str]:
        """The committed files at ``ref``: path -> content."""
        with self._lock:
            repo = self._repositories[repository]
            return dict(repo.commits[self._resolve(repo, ref)].tree)

    def commit_info(self, repository: str, ref: str) -> Commit:
        with self._lock:
            repo = self._repositories[repository]
            return repo.commits[self._resolve(repo, ref)].model()

    def calls(self) -> list[str]:
        """``METHOD path`` of every request received, in order."""
        with self._lock:
            return [r.call for r in self.requests]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- HTTP -----------------------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: pytest shows stderr of failing tests, and the tests read server.requests

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PUT(self) -> None:
                self._serve("PUT")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, content_type, payload = server._dispatch(
                    method, self.path, self.headers.get("Authorization"), self.headers.get("Content-Type"), raw
                )
                data = payload.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def _dispatch(
        self, method: str, target: str, authorization: str | None, content_type: str | None, raw: bytes
    ) -> tuple[int, str, str]:
        url = urlsplit(target)
        body: Any = None
        try:
            if authorization != self._authorization:
                raise ApiError(401, "error authenticating request")
            if raw:
                if not (content_type or "").startswith("application/json"):
                    raise ApiError(400, "request body must be application/json")
                try:
                    body = json.loads(raw)
                except ValueError as error:
                    raise ApiError(400, "request body is not JSON") from error
            for route_method, pattern, handler in self._routes:
                match = pattern.fullmatch(url.path)
                if match and route_method == method:
                    args = [unquote(g) for g in match.groups()]
                    with self._lock:
                        result = handler(body, *args)
                    break
            else:
                raise ApiError(404, f"path not found: {method} {url.path}")
        except ApiError as error:
            result = (error.status, "application/json", Error(message=error.message).to_json())
        with self._lock:
            scheme = (authorization or "").split(" ", 1)[0]
            self.requests.append(Request(method, url.path, url.query, body, result[0], scheme))
        return result

    # -- the API calls (under the lock) ---------------------------------------------------------------

    def _repo(self, name: str) -> _Repository:
        try:
            return self._repositories[name]
        except KeyError:
            raise ApiError(404, f"repository not found: {name}") from None

    def _resolve(self, repo: _Repository, ref: str) -> str:
        """A branch, a tag or a full commit id, as lakeFS resolves refs (no ref expressions here)."""
        if ref in repo.branches:
            return repo.branches[ref]
        if ref in repo.tags:
            return repo.tags[ref]
        if ref in repo.commits:
            return ref
        raise ApiError(404, f"ref not found: {ref}")

    def _new_commit(
        self, repo: _Repository, parents: list[str], message: str, metadata: dict[str, str], tree: dict[str, str]
    ) -> _Commit:
        generation = 1 + max((repo.commits[p].generation for p in parents), default=0)
        created = int(time.time())
        content = {"parents": parents, "message": message, "metadata": metadata, "tree": _sha256(tree)}
        commit = _Commit(_sha256(content | {"created": created}), parents, message, metadata, tree, created, generation)
        repo.commits[commit.id] = commit
        return commit

    def _create_branch(self, body: Any, repository: str) -> tuple[int, str, str]:
        creation = _validate(BranchCreation, body)
        repo = self._repo(repository)
        if creation.name in repo.branches:
            raise ApiError(409, "branch already exists: not unique")
        if not re.fullmatch(r"\w[-\w]*", creation.name):
            raise ApiError(400, f"branch name: invalid value: {creation.name}")
        commit_id = self._resolve(repo, creation.source)
        repo.branches[creation.name] = commit_id
        # The OpenAPI spec answers a created branch with its commit id as text/html (no model).
        return 201, "text/html", commit_id

    def _commit(self, body: Any, repository: str, branch: str) -> tuple[int, str, str]:
        creation = _validate(CommitCreation, body)
        repo = self._repo(repository)
        if branch not in repo.branches:
            raise ApiError(404, f"branch not found: {branch}")
        staged = repo.staged.pop(branch, {})
        if not staged and not creation.allow_empty:
            raise ApiError(400, "commit: no changes")
        head = repo.commits[repo.branches[branch]]
        tree = dict(head.tree)
        for path, content in staged.items():
            if content is None:
                tree.pop(path, None)
            else:
                tree[path] = content
        commit = self._new_commit(repo, [head.id], creation.message, dict(creation.metadata or {}), tree)
        repo.branches[branch] = commit.id
        return 201, "application/json", commit.model().to_json()

    def _get_commit(self, body: Any, repository: str, ref: str) -> tuple[int, str, str]:
        repo = self._repo(repository)
        return 200, "application/json", repo.commits[self._resolve(repo, ref)].model().to_json()

    def _ancestors(self, repo: _Repository, commit_id: str) -> list[str]:
        """``commit_id`` and its ancestors, nearest first."""
        seen, order, queue = {commit_id}, [], [commit_id]
        while queue:
            current = queue.pop(0)
            order.append(current)
            for parent in repo.commits[current].parents:
                if parent not in seen:
                    seen.add(parent)
                    queue.append(parent)
        return order

    def _merge(self, body: Any, repository: str, source: str, destination: str) -> tuple[int, str, str]:
        merge = _validate(Merge, body)
        repo = self._repo(repository)
        if destination not in repo.branches:
            raise ApiError(404, f"branch not found: {destination}")
        source_id, dest_id = self._resolve(repo, source), repo.branches[destination]
        if repo.staged.get(destination):
            raise ApiError(400, "uncommitted changes (dirty branch)")
        dest_ancestors = set(self._ancestors(repo, dest_id))
        base_id = next(c for c in self._ancestors(repo, source_id) if c in dest_ancestors)
        base, ours, theirs = (repo.commits[c].tree for c in (base_id, dest_id, source_id))
        merged, conflicts = dict(ours), []
        for path in sorted(set(base) | set(ours) | set(theirs)):
            b, o, t = base.get(path), ours.get(path), theirs.get(path)
            if t in (b, o):  # the source changed nothing here, or the same as the destination
                continue
            if o != b and merge.strategy != "source-wins":
                if merge.strategy == "dest-wins":
                    continue
                conflicts.append(path)
                continue
            if t is None:
                merged.pop(path, None)
            else:
                merged[path] = t
        if conflicts:
            raise ApiError(409, f"conflict found: {', '.join(conflicts)}")
        if merged == ours and not (merge.allow_empty or merge.force):
            raise ApiError(400, "no changes")
        parents = [dest_id] if merge.squash_merge else [dest_id, source_id]
        message = merge.message or f"Merge '{source}' into '{destination}'"
        commit = self._new_commit(repo, parents, message, dict(merge.metadata or {}), merged)
        repo.branches[destination] = commit.id
        return 200, "application/json", MergeResult(reference=commit.id).to_json()

    def _create_tag(self, body: Any, repository: str) -> tuple[int, str, str]:
        creation = _validate(TagCreation, body)
        repo = self._repo(repository)
        commit_id = self._resolve(repo, creation.ref)
        if creation.id in repo.tags and not creation.force:
            raise ApiError(409, "tag already exists: not unique")
        repo.tags[creation.id] = commit_id
        return 201, "application/json", Ref(id=creation.id, commit_id=commit_id).to_json()

    def _get_tag(self, body: Any, repository: str, tag: str) -> tuple[int, str, str]:
        repo = self._repo(repository)
        if tag not in repo.tags:
            raise ApiError(404, f"tag not found: {tag}")
        return 200, "application/json", Ref(id=tag, commit_id=repo.tags[tag]).to_json()
