"""A small in-memory lakeFS server for the tests of corpuslake.lakefs_store and deltalake's ``lakefs://`` backend.

It listens on loopback and answers two protocols on the same port, as lakeFS does. It runs in a child process
(forked on start; see :class:`LakeFSServer` for why), on one thread per connection; the tests set it up and
inspect it through :class:`LakeFSServer`'s helpers, which reach it over a pipe.

**The lakeFS API** (``/api/v1``, basic auth), exactly the calls the ``lakefs`` SDK makes for the store and the
calls deltalake's lakefs backend makes around each transaction:

- ``POST   /api/v1/repositories/{repository}/branches`` (BranchCreation, ``hidden`` included; 201, the new
  branch's commit id as text)
- ``GET    /api/v1/repositories/{repository}/branches/{branch}`` (200 Ref)
- ``DELETE /api/v1/repositories/{repository}/branches/{branch}`` (204; the default branch is refused)
- ``POST   /api/v1/repositories/{repository}/branches/{branch}/commits`` (CommitCreation; 201 Commit)
- ``GET    /api/v1/repositories/{repository}/commits/{ref}`` (200 Commit; any branch, tag or commit id)
- ``GET    /api/v1/repositories/{repository}/refs/{left}/diff/{right}`` (200 DiffList of committed changes;
  ``type`` three_dot (from the merge base, the default) or two_dot, ``prefix``, ``delimiter``, ``after``,
  ``amount``)
- ``POST   /api/v1/repositories/{repository}/refs/{source}/merge/{destination}`` (Merge; 200 MergeResult)
- ``POST   /api/v1/repositories/{repository}/tags`` (TagCreation; 201 Ref)
- ``GET    /api/v1/repositories/{repository}/tags/{tag}`` (200 Ref)
- ``DELETE /api/v1/repositories/{repository}/tags/{tag}`` (204)

Every request body is validated with the matching model of the generated ``lakefs-sdk`` client (built from
lakeFS's OpenAPI spec), unknown fields included, and every response is built from its response model
(``Ref``, ``Commit``, ``DiffList``, ``MergeResult``, ``Error``). Errors follow lakeFS: 401 without the right
basic auth, 404 for unknown paths and missing refs, 409 for existing branches and tags and merge conflicts,
400 for an empty commit or merge without ``allow_empty`` and for a merge into a branch with uncommitted
changes. Commits are content-addressed (SHA-256 of parents, message, metadata, tree and a sequence number).

**The S3 gateway** (every other path), path-style: the bucket is the repository and a key is
``<ref>/<path>``. Requests must be signed with AWS Signature Version 4 with the server's key id and
secret (the signature is recomputed from the method, path, query, signed headers and
``x-amz-content-sha256``; a hex payload hash must match the body; ``Transfer-Encoding: chunked`` and
``aws-chunked`` bodies are decoded, with their chunk and trailer signatures checked when signed; Content-MD5
and CRC32, SHA-1 and SHA-256 checksums are checked, CRC32C and CRC64NVME are not). Supported: ListBuckets,
HeadBucket, GetBucketLocation, ListObjectsV2 and ListObjects (prefix, delimiter, continuation token /
marker, start-after, max-keys, ``encoding-type=url``), GetObject (single ``Range``, ``If-Match``,
``If-None-Match``), HeadObject, PutObject (``If-None-Match: *``, ``If-Match``), CopyObject, DeleteObject,
DeleteObjects and multipart uploads (create, upload part, upload part copy, complete with the same
conditions, abort). Reads at a branch see its head commit overlaid with its staged changes, reads at a tag
or a commit id that commit; writes stage changes on a branch. As lakeFS does: a write to a tag, a commit id
or an unknown ref is NoSuchBucket (404); a key that is a ref without a path (``/repo/main/``, which
pyarrow's ``create_dir`` puts as a directory marker) is a bare 404 for every method; a listing prefix
without a ``/`` lists the branches as common prefixes. ETags are the quoted MD5 of the content (S3's
``<md5 of part md5s>-<parts>`` for a multipart upload). Errors are S3's XML ``<Error>`` bodies (an unknown
access key id is InvalidAccessKeyId here, where lakeFS says AccessDenied; both are 403). Object contents
are kept once each, addressed by their SHA-256.

Every request is recorded (method, raw path, query, JSON body of an API call (None for S3), status and the
name of its auth scheme; never its headers) for the tests; an exception inside the server is answered and
recorded as a 500. :meth:`LakeFSServer.stage` stands in for a writer
that bypasses the gateway; :meth:`LakeFSServer.pause_before` holds one request until the test lets it go
(to interleave two clients deterministically).
"""

import base64
import binascii
import calendar
import hashlib
import hmac
import io
import json
import multiprocessing
import multiprocessing.process
import re
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from typing import Any, TypeVar, cast
from urllib.parse import quote, unquote, urlsplit
from xml.etree import ElementTree

from lakefs_sdk.models.branch_creation import BranchCreation
from lakefs_sdk.models.commit import Commit
from lakefs_sdk.models.commit_creation import CommitCreation
from lakefs_sdk.models.diff import Diff
from lakefs_sdk.models.diff_list import DiffList
from lakefs_sdk.models.error import Error
from lakefs_sdk.models.merge import Merge
from lakefs_sdk.models.merge_result import MergeResult
from lakefs_sdk.models.pagination import Pagination
from lakefs_sdk.models.ref import Ref
from lakefs_sdk.models.tag_creation import TagCreation

API = "/api/v1"
COMMITTER = "corpuslake-test"
SIGV4 = "AWS4-HMAC-SHA256"
S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_CLOCK_SKEW = 15 * 60  # seconds, as S3 (RequestTimeTooSkewed beyond it)
MAX_KEYS = 1000
PAUSE_LIMIT = 30.0  # seconds a paused request waits for resume() at most

_Model = TypeVar("_Model", BranchCreation, CommitCreation, Merge, TagCreation)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_UNRESERVED = "-_.~"


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


@dataclass(frozen=True)
class _Object:
    """One object version; two are the same object when their contents are (SHA-256 of the bytes)."""

    digest: str
    size: int = field(compare=False)
    etag: str = field(compare=False)  # unquoted
    mtime: float = field(compare=False)
    content_type: str = field(compare=False)

    @property
    def quoted_etag(self) -> str:
        return f'"{self.etag}"'


_Tree = dict[str, _Object]


@dataclass
class _Commit:
    id: str
    parents: list[str]
    message: str
    metadata: dict[str, str]
    tree: _Tree
    creation_date: int
    generation: int

    @property
    def meta_range_id(self) -> str:
        return _sha256({path: obj.digest for path, obj in self.tree.items()})

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
    creation_date: float
    commits: dict[str, _Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)  # branch -> head commit id
    hidden: set[str] = field(default_factory=set)  # branches created with hidden=true
    # branch -> path -> object (None: a delete), the uncommitted changes
    staged: dict[str, dict[str, _Object | None]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class _Upload:
    """A multipart upload in progress: part number -> (content, MD5 hex)."""

    repository: str
    branch: str
    path: str
    content_type: str
    parts: dict[int, tuple[bytes, str]] = field(default_factory=dict)


@dataclass
class _Pause:
    """The next request matching ``method`` and ``path`` waits before it is handled until ``released``."""

    method: str
    path: re.Pattern[str]
    pending: bool = True
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)

    def __reduce__(self) -> tuple[type["ApiError"], tuple[int, str]]:
        return ApiError, (self.status, self.message)  # crosses the control pipe intact


class S3Error(Exception):
    """An S3 error answer: ``<Error><Code>code</Code><Message>message</Message></Error>`` with ``status``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        super().__init__(f"{status} {code}: {message}")


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


def _json(status: int, text: str) -> _Response:
    return _Response(status, text.encode(), {"Content-Type": "application/json"})


# -- S3 wire formats ----------------------------------------------------------------------------------------


def _http_date(timestamp: float) -> str:
    return formatdate(timestamp, usegmt=True)


def _iso_date(timestamp: float) -> str:
    millis = int(timestamp * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp)) + f".{millis:03d}Z"


def _xml(root: str, children: Iterable[tuple[str, Any]]) -> bytes:
    """``<root xmlns=S3>`` with ``children``: (tag, text) pairs, or (tag, nested pairs) for an element."""

    def fill(parent: ElementTree.Element, items: Iterable[tuple[str, Any]]) -> None:
        for tag, value in items:
            child = ElementTree.SubElement(parent, tag)
            if isinstance(value, list):
                fill(child, value)
            else:
                child.text = str(value)

    element = ElementTree.Element(root, xmlns=S3_XMLNS)
    fill(element, children)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(element)


def _xml_response(status: int, root: str, children: Iterable[tuple[str, Any]]) -> _Response:
    return _Response(status, _xml(root, children), {"Content-Type": "application/xml"})


def _parse_xml(body: bytes, root: str) -> ElementTree.Element:
    """A request's XML document (namespaces dropped) whose root must be ``root``."""
    try:
        element = ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        raise S3Error(400, "MalformedXML", f"the XML you provided was not well-formed: {error}") from error
    for node in element.iter():
        node.tag = node.tag.rsplit("}", 1)[-1]
    if element.tag != root:
        raise S3Error(400, "MalformedXML", f"expected a <{root}> document, got <{element.tag}>")
    return element


def _query_pairs(query: str) -> list[tuple[str, str]]:
    """The query's (name, value) pairs, percent-decoded (``+`` stays a plus, as S3 clients encode spaces)."""
    pairs = []
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


def _canonical_query(pairs: list[tuple[str, str]]) -> str:
    encoded = sorted((quote(n, safe=_UNRESERVED), quote(v, safe=_UNRESERVED)) for n, v in pairs)
    return "&".join(f"{n}={v}" for n, v in encoded)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class _Signing:
    """What a verified request's chunk and trailer signatures chain from."""

    key: bytes
    amz_date: str
    scope: str
    seed: str

    def sign(self, kind: str, previous: str, *hashes: str) -> str:
        text = "\n".join([f"{SIGV4}-{kind}", self.amz_date, self.scope, previous, *hashes])
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()


def _read_chunked(rfile: io.BufferedIOBase) -> bytes:
    """A ``Transfer-Encoding: chunked`` body (extensions and trailers are read and dropped)."""
    body = bytearray()
    while True:
        line = rfile.readline(65537)
        if not line.endswith(b"\n"):
            raise ValueError("chunk size line too long or truncated")
        size = int(line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                pass  # trailer fields
            return bytes(body)
        body += rfile.read(size)
        if rfile.readline(3) not in (b"\r\n", b"\n"):
            raise ValueError("chunk not terminated by CRLF")


def _decode_aws_chunked(body: bytes, signing: _Signing | None) -> tuple[bytes, dict[str, str]]:
    """An ``aws-chunked`` body's content and its trailers; with ``signing`` every chunk's signature (and the
    trailer's, when sent) is checked against the chain that starts at the request's signature."""
    out = bytearray()
    trailers: dict[str, str] = {}
    previous = signing.seed if signing else ""
    position = 0
    while True:
        end = body.find(b"\r\n", position)
        if end < 0:
            raise S3Error(400, "IncompleteBody", "an aws-chunked chunk header is not terminated")
        size_text, _, extension = body[position:end].decode("latin-1").partition(";")
        try:
            size = int(size_text, 16)
        except ValueError:
            raise S3Error(400, "InvalidRequest", f"bad aws-chunked chunk size {size_text!r}") from None
        data = body[end + 2 : end + 2 + size]
        if len(data) != size:
            raise S3Error(400, "IncompleteBody", "an aws-chunked chunk is shorter than its declared size")
        if signing:
            name, _, sent = extension.partition("=")
            expected = signing.sign("PAYLOAD", previous, EMPTY_SHA256, hashlib.sha256(data).hexdigest())
            if name != "chunk-signature" or not hmac.compare_digest(sent, expected):
                raise S3Error(403, "SignatureDoesNotMatch", "an aws-chunked chunk signature does not match")
            previous = expected
        out += data
        position = end + 2 + size
        if size == 0:
            break
        if body[position : position + 2] != b"\r\n":
            raise S3Error(400, "IncompleteBody", "an aws-chunked chunk is not terminated by CRLF")
        position += 2
    lines = body[position:].decode("latin-1").split("\r\n")
    signed_text = ""
    for line in lines:
        if not line:
            continue
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "x-amz-trailer-signature":
            if signing and not hmac.compare_digest(
                value.strip(), signing.sign("TRAILER", previous, hashlib.sha256(signed_text.encode()).hexdigest())
            ):
                raise S3Error(403, "SignatureDoesNotMatch", "the aws-chunked trailer signature does not match")
            continue
        trailers[name] = value.strip()
        signed_text += f"{name}:{value.strip()}\n"
    return bytes(out), trailers


def _check_checksums(data: bytes, values: dict[str, str]) -> None:
    """The CRC32, SHA-1 and SHA-256 checksums and the Content-MD5 a client sent must match ``data``."""
    computed: dict[str, Callable[[], bytes]] = {
        "content-md5": lambda: hashlib.md5(data).digest(),
        "x-amz-checksum-crc32": lambda: zlib.crc32(data).to_bytes(4, "big"),
        "x-amz-checksum-sha1": lambda: hashlib.sha1(data).digest(),
        "x-amz-checksum-sha256": lambda: hashlib.sha256(data).digest(),
    }
    for name, digest in computed.items():
        sent = values.get(name)
        if sent is None:
            continue
        try:
            matches = base64.b64decode(sent, validate=True) == digest()
        except binascii.Error:
            matches = False
        if not matches:
            code = "BadDigest" if name == "content-md5" else "XAmzContentChecksumMismatch"
            raise S3Error(400, code, f"the {name} you specified did not match the calculated checksum")


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``[start, end)`` of a single ``Range: bytes=...`` header; None serves the whole object (no header,
    several ranges or one S3 ignores); an unsatisfiable range is a 416."""
    if not header:
        return None
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if not match or not (match[1] or match[2]):
        return None
    if match[1]:
        start = int(match[1])
        if match[2] and int(match[2]) < start:
            return None
        end = min(int(match[2]) + 1, size) if match[2] else size
    else:
        start, end = max(0, size - int(match[2])), size
        if int(match[2]) == 0:
            start = size
    if start >= size:
        raise S3Error(
            416, "InvalidRange", "the requested range is not satisfiable", {"Content-Range": f"bytes */{size}"}
        )
    return start, end


def _etag_matches(condition: str, etag: str) -> bool:
    """Whether an ``If-Match``/``If-None-Match`` list (``*`` or quoted ETags) names ``etag``."""
    values = [v.strip().removeprefix("W/").strip('"') for v in condition.split(",")]
    return "*" in values or etag in values


Route = tuple[str, re.Pattern[str], Callable[..., _Response]]


class _QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up (a timeout) is no error here
            super().handle_error(request, client_address)


class _Backend:
    """The server itself: state, HTTP and both protocols (run in a child process by :class:`LakeFSServer`)."""

    def __init__(self, access_key_id: str, secret_access_key: str) -> None:
        token = base64.b64encode(f"{access_key_id}:{secret_access_key}".encode()).decode()
        self._authorization = f"Basic {token}"
        self.__access_key_id = access_key_id
        self.__secret_access_key = secret_access_key
        self._lock = threading.Lock()
        self._repositories: dict[str, _Repository] = {}
        self._blobs: dict[str, bytes] = {}  # SHA-256 hex -> content
        self._uploads: dict[str, _Upload] = {}
        self._sequence = 0
        self._pauses: dict[int, _Pause] = {}
        self.requests: list[Request] = []
        segment = r"([^/]+)"
        repo = rf"{API}/repositories/{segment}"
        self._routes: list[Route] = [
            ("POST", re.compile(rf"{repo}/branches"), self._create_branch),
            ("GET", re.compile(rf"{repo}/branches/{segment}"), self._get_branch),
            ("DELETE", re.compile(rf"{repo}/branches/{segment}"), self._delete_branch),
            ("POST", re.compile(rf"{repo}/branches/{segment}/commits"), self._commit),
            ("GET", re.compile(rf"{repo}/commits/{segment}"), self._get_commit),
            ("GET", re.compile(rf"{repo}/refs/{segment}/diff/{segment}"), self._diff),
            ("POST", re.compile(rf"{repo}/refs/{segment}/merge/{segment}"), self._merge),
            ("POST", re.compile(rf"{repo}/tags"), self._create_tag),
            ("GET", re.compile(rf"{repo}/tags/{segment}"), self._get_tag),
            ("DELETE", re.compile(rf"{repo}/tags/{segment}"), self._delete_tag),
        ]
        self._httpd = _QuietHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.02,), name="lakefs-test-server", daemon=True
        )

    # -- lifecycle ------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            for pause in self._pauses.values():
                pause.released.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # -- state the tests set up and inspect (the control calls of LakeFSServer) -----------------------

    def create_repository(self, name: str, default_branch: str = "main") -> str:
        """A repository whose default branch holds one empty commit; return that commit's id."""
        with self._lock:
            repo = _Repository(name, default_branch, time.time())
            first = self._new_commit(repo, [], "Repository created", {}, {})
            repo.branches[default_branch] = first.id
            self._repositories[name] = repo
            return first.id

    def stage(self, repository: str, branch: str, path: str, content: str | bytes | None) -> None:
        """Stage a write (or, with None, a delete) of ``path`` on ``branch``, as a writer would (text is
        stored as UTF-8)."""
        with self._lock:
            repo = self._repositories[repository]
            if branch not in repo.branches:
                raise KeyError(f"no branch {branch} in {repository}")
            if content is None:
                self._stage_delete(repo, branch, path)
            else:
                data = content.encode() if isinstance(content, str) else bytes(content)
                repo.staged.setdefault(branch, {})[path] = self._store(data)

    def head(self, repository: str, branch: str) -> str:
        with self._lock:
            return self._repositories[repository].branches[branch]

    def branches(self, repository: str) -> dict[str, str]:
        """Every branch (hidden ones included) -> its head commit id."""
        with self._lock:
            return dict(self._repositories[repository].branches)

    def tags(self, repository: str) -> dict[str, str]:
        with self._lock:
            return dict(self._repositories[repository].tags)

    def delete_tag(self, repository: str, tag: str) -> None:
        """Remove ``tag``, as an administrator would (KeyError when there is none)."""
        with self._lock:
            del self._repositories[repository].tags[tag]

    def tree(self, repository: str, ref: str) -> dict[str, bytes]:
        """The committed files at ``ref``: path -> content."""
        with self._lock:
            repo = self._repositories[repository]
            tree = repo.commits[self._resolve(repo, ref)].tree
            return {path: self._blobs[obj.digest] for path, obj in sorted(tree.items())}

    def staged(self, repository: str, branch: str) -> dict[str, bytes | None]:
        """The uncommitted changes of ``branch``: path -> content (None: a delete)."""
        with self._lock:
            changes = self._repositories[repository].staged.get(branch, {})
            return {path: None if obj is None else self._blobs[obj.digest] for path, obj in sorted(changes.items())}

    def commit_info(self, repository: str, ref: str) -> Commit:
        with self._lock:
            repo = self._repositories[repository]
            return repo.commits[self._resolve(repo, ref)].model()

    def recorded_requests(self) -> list[Request]:
        with self._lock:
            return list(self.requests)

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def pause_register(self, method: str, path_pattern: str) -> int:
        with self._lock:
            pause_id = len(self._pauses) + 1
            self._pauses[pause_id] = _Pause(method, re.compile(path_pattern))
            return pause_id

    def pause_wait(self, pause_id: int, timeout: float) -> bool:
        return self._pauses[pause_id].reached.wait(timeout)

    def pause_resume(self, pause_id: int) -> None:
        self._pauses[pause_id].released.set()

    # -- HTTP -----------------------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive; Expect: 100-continue is answered by parse_request
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: pytest shows stderr of failing tests, and the tests read server.requests

            def do_GET(self) -> None:
                self._serve("GET")

            def do_HEAD(self) -> None:
                self._serve("HEAD")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PUT(self) -> None:
                self._serve("PUT")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

            def _serve(self, method: str) -> None:
                headers = {name.lower(): "" for name in self.headers}
                for name in headers:
                    values = self.headers.get_all(name) or []
                    headers[name] = ",".join(" ".join(v.split()) for v in values)
                try:
                    if "chunked" in headers.get("transfer-encoding", "").lower():
                        raw = _read_chunked(self.rfile)
                    else:
                        length = int(headers.get("content-length") or 0)
                        raw = self.rfile.read(length) if length > 0 else b""
                except ValueError:
                    self.close_connection = True  # the body's framing is lost: the connection cannot be reused
                    response = _Response(400, b"bad request body framing", {"Content-Type": "text/plain"})
                else:
                    response = server._dispatch(method, self.path, headers, raw)
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in response.headers and response.status not in (204, 304):
                    self.send_header("Content-Length", str(len(response.body)))  # none on 204 and 304 (RFC 9110)
                self.end_headers()
                if method != "HEAD" and response.body:
                    self.wfile.write(response.body)

        return Handler

    def _dispatch(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> _Response:
        url = urlsplit(target)
        with self._lock:
            pending = (p for p in self._pauses.values() if p.pending and p.method == method)
            pause = next((p for p in pending if p.path.fullmatch(url.path)), None)
            if pause is not None:
                pause.pending = False
        if pause is not None:
            pause.reached.set()
            pause.released.wait(PAUSE_LIMIT)
        body: Any = None
        try:
            if url.path == API or url.path.startswith(API + "/"):
                response, body = self._api(method, url.path, url.query, headers, raw)
            else:
                response = self._s3(method, url.path, url.query, headers, raw)
        except Exception as error:  # a bug of this server: answered and recorded as a 500, not a dropped connection
            response = _Response(500, f"lakeFS test server error: {error!r}".encode(), {"Content-Type": "text/plain"})
        with self._lock:
            scheme = headers.get("authorization", "").split(" ", 1)[0]
            self.requests.append(Request(method, url.path, url.query, body, response.status, scheme))
        return response

    # -- the lakeFS API -------------------------------------------------------------------------------

    def _api(self, method: str, path: str, query: str, headers: dict[str, str], raw: bytes) -> tuple[_Response, Any]:
        body: Any = None
        try:
            if headers.get("authorization") != self._authorization:
                raise ApiError(401, "error authenticating request")
            if raw:
                if not headers.get("content-type", "").startswith("application/json"):
                    raise ApiError(400, "request body must be application/json")
                try:
                    body = json.loads(raw)
                except ValueError as error:
                    raise ApiError(400, "request body is not JSON") from error
            for route_method, pattern, handler in self._routes:
                match = pattern.fullmatch(path)
                if match and route_method == method:
                    args = [unquote(g) for g in match.groups()]
                    with self._lock:
                        response = handler(body, dict(_query_pairs(query)), *args)
                    break
            else:
                raise ApiError(404, f"path not found: {method} {path}")
        except ApiError as error:
            response = _json(error.status, Error(message=error.message).to_json())
        return response, body

    # (the API calls below run under the lock)

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
        self, repo: _Repository, parents: list[str], message: str, metadata: dict[str, str], tree: _Tree
    ) -> _Commit:
        generation = 1 + max((repo.commits[p].generation for p in parents), default=0)
        created = int(time.time())
        self._sequence += 1
        content = {
            "parents": parents,
            "message": message,
            "metadata": metadata,
            "tree": {path: obj.digest for path, obj in tree.items()},
            "created": created,
            "sequence": self._sequence,
        }
        commit = _Commit(_sha256(content), parents, message, metadata, tree, created, generation)
        repo.commits[commit.id] = commit
        return commit

    def _create_branch(self, body: Any, query: dict[str, str], repository: str) -> _Response:
        creation = _validate(BranchCreation, body)
        repo = self._repo(repository)
        if creation.name in repo.branches:
            raise ApiError(409, "branch already exists: not unique")
        if not re.fullmatch(r"\w[-\w]*", creation.name):
            raise ApiError(400, f"branch name: invalid value: {creation.name}")
        commit_id = self._resolve(repo, creation.source)
        repo.branches[creation.name] = commit_id
        if creation.hidden:
            repo.hidden.add(creation.name)
        # The OpenAPI spec answers a created branch with its commit id as text/html (no model).
        return _Response(201, commit_id.encode(), {"Content-Type": "text/html"})

    def _branch(self, repo: _Repository, branch: str) -> str:
        if branch not in repo.branches:
            raise ApiError(404, f"branch not found: {branch}")
        return repo.branches[branch]

    def _get_branch(self, body: Any, query: dict[str, str], repository: str, branch: str) -> _Response:
        repo = self._repo(repository)
        return _json(200, Ref(id=branch, commit_id=self._branch(repo, branch)).to_json())

    def _delete_branch(self, body: Any, query: dict[str, str], repository: str, branch: str) -> _Response:
        repo = self._repo(repository)
        self._branch(repo, branch)
        if branch == repo.default_branch:
            raise ApiError(400, "cannot delete repository default branch")
        del repo.branches[branch]
        repo.hidden.discard(branch)
        repo.staged.pop(branch, None)
        for upload_id in [
            u for u, upload in self._uploads.items() if (upload.repository, upload.branch) == (repository, branch)
        ]:
            del self._uploads[upload_id]
        return _Response(204)

    def _commit(self, body: Any, query: dict[str, str], repository: str, branch: str) -> _Response:
        creation = _validate(CommitCreation, body)
        repo = self._repo(repository)
        head = repo.commits[self._branch(repo, branch)]
        staged = repo.staged.pop(branch, {})
        if not staged and not creation.allow_empty:
            raise ApiError(400, "commit: no changes")
        tree = dict(head.tree)
        for path, obj in staged.items():
            if obj is None:
                tree.pop(path, None)
            else:
                tree[path] = obj
        commit = self._new_commit(repo, [head.id], creation.message, dict(creation.metadata or {}), tree)
        repo.branches[branch] = commit.id
        return _json(201, commit.model().to_json())

    def _get_commit(self, body: Any, query: dict[str, str], repository: str, ref: str) -> _Response:
        repo = self._repo(repository)
        return _json(200, repo.commits[self._resolve(repo, ref)].model().to_json())

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

    def _merge_base(self, repo: _Repository, left: str, right: str) -> str:
        left_ancestors = set(self._ancestors(repo, left))
        return next(c for c in self._ancestors(repo, right) if c in left_ancestors)

    def _diff(self, body: Any, query: dict[str, str], repository: str, left: str, right: str) -> _Response:
        repo = self._repo(repository)
        left_id, right_id = self._resolve(repo, left), self._resolve(repo, right)
        kind = query.get("type", "three_dot")
        if kind not in ("three_dot", "two_dot"):
            raise ApiError(400, f"invalid diff type: {kind}")
        try:
            amount = int(query.get("amount", "100"))
        except ValueError:
            raise ApiError(400, "amount must be an integer") from None
        if not 1 <= amount <= 1000:
            raise ApiError(400, "amount must be between 1 and 1000")
        prefix, delimiter, after = query.get("prefix", ""), query.get("delimiter", ""), query.get("after", "")
        base_id = self._merge_base(repo, left_id, right_id) if kind == "three_dot" else left_id
        old, new = repo.commits[base_id].tree, repo.commits[right_id].tree
        entries: list[Diff] = []
        for path in sorted(set(old) | set(new)):
            if not path.startswith(prefix) or old.get(path) == new.get(path):
                continue
            if delimiter and delimiter in path[len(prefix) :]:
                common = path[: path.index(delimiter, len(prefix)) + len(delimiter)]
                if not entries or entries[-1].path != common:
                    entries.append(Diff(type="prefix_changed", path=common, path_type="common_prefix", size_bytes=None))
                continue
            if path not in old:
                entries.append(Diff(type="added", path=path, path_type="object", size_bytes=new[path].size))
            elif path not in new:
                entries.append(Diff(type="removed", path=path, path_type="object", size_bytes=None))
            else:
                entries.append(Diff(type="changed", path=path, path_type="object", size_bytes=new[path].size))
        entries = [e for e in entries if e.path > after]
        page, has_more = entries[:amount], len(entries) > amount
        pagination = Pagination(
            has_more=has_more, next_offset=page[-1].path if has_more else "", results=len(page), max_per_page=amount
        )
        return _json(200, DiffList(pagination=pagination, results=page).to_json())

    def _merge(self, body: Any, query: dict[str, str], repository: str, source: str, destination: str) -> _Response:
        merge = _validate(Merge, body)
        repo = self._repo(repository)
        dest_id = self._branch(repo, destination)
        source_id = self._resolve(repo, source)
        if repo.staged.get(destination):
            raise ApiError(400, "uncommitted changes (dirty branch)")
        base_id = self._merge_base(repo, dest_id, source_id)
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
        return _json(200, MergeResult(reference=commit.id).to_json())

    def _create_tag(self, body: Any, query: dict[str, str], repository: str) -> _Response:
        creation = _validate(TagCreation, body)
        repo = self._repo(repository)
        commit_id = self._resolve(repo, creation.ref)
        if creation.id in repo.tags and not creation.force:
            raise ApiError(409, "tag already exists: not unique")
        repo.tags[creation.id] = commit_id
        return _json(201, Ref(id=creation.id, commit_id=commit_id).to_json())

    def _get_tag(self, body: Any, query: dict[str, str], repository: str, tag: str) -> _Response:
        repo = self._repo(repository)
        if tag not in repo.tags:
            raise ApiError(404, f"tag not found: {tag}")
        return _json(200, Ref(id=tag, commit_id=repo.tags[tag]).to_json())

    def _delete_tag(self, body: Any, query: dict[str, str], repository: str, tag: str) -> _Response:
        repo = self._repo(repository)
        if tag not in repo.tags:
            raise ApiError(404, f"tag not found: {tag}")
        del repo.tags[tag]
        return _Response(204)

    # -- objects (under the lock) ---------------------------------------------------------------------

    def _store(self, data: bytes, etag: str | None = None, content_type: str = "application/octet-stream") -> _Object:
        """Keep ``data`` once, addressed by its SHA-256, and return a new version of an object holding it."""
        digest = hashlib.sha256(data).hexdigest()
        self._blobs.setdefault(digest, data)
        return _Object(digest, len(data), etag or hashlib.md5(data).hexdigest(), time.time(), content_type)

    def _stage_delete(self, repo: _Repository, branch: str, path: str) -> None:
        changes = repo.staged.setdefault(branch, {})
        if path in repo.commits[repo.branches[branch]].tree:
            changes[path] = None
        else:
            changes.pop(path, None)
        if not changes:
            del repo.staged[branch]

    def _lookup(self, repo: _Repository, ref: str, path: str) -> _Object | None:
        """The object at ``path`` as ``ref`` shows it (a branch with its staged changes)."""
        commit_id = self._s3_resolve(repo, ref)
        changes = repo.staged.get(ref, {}) if ref in repo.branches else {}
        if path in changes:
            return changes[path]
        return repo.commits[commit_id].tree.get(path)

    def _view(self, repo: _Repository, ref: str) -> _Tree:
        """Every object ``ref`` shows (a branch with its staged changes)."""
        view = dict(repo.commits[self._s3_resolve(repo, ref)].tree)
        for path, obj in (repo.staged.get(ref, {}) if ref in repo.branches else {}).items():
            if obj is None:
                view.pop(path, None)
            else:
                view[path] = obj
        return view

    def _s3_resolve(self, repo: _Repository, ref: str) -> str:
        try:
            return self._resolve(repo, ref)
        except ApiError:
            raise S3Error(404, "NoSuchKey", f"ref not found: {ref}") from None

    def _s3_repo(self, name: str) -> _Repository:
        if name not in self._repositories:
            raise S3Error(404, "NoSuchBucket", f"the specified bucket does not exist: {name}")
        return self._repositories[name]

    def _writable(self, repo: _Repository, ref: str) -> None:
        """Writes go to branches only: like lakeFS, a tag, a commit id or an unknown ref is NoSuchBucket."""
        if ref not in repo.branches:
            raise S3Error(404, "NoSuchBucket", f"branch not found: {ref} (tags and commits are read-only)")

    # -- the S3 gateway -------------------------------------------------------------------------------

    def _s3(self, method: str, raw_path: str, raw_query: str, headers: dict[str, str], raw: bytes) -> _Response:
        try:
            pairs = _query_pairs(raw_query)
            signing = self._verify_sigv4(method, raw_path, pairs, headers, raw)
            body, checksums = raw, dict(headers)
            content_sha256 = headers.get("x-amz-content-sha256", "")
            if content_sha256.startswith("STREAMING-"):
                body, trailers = _decode_aws_chunked(raw, signing if "HMAC-SHA256" in content_sha256 else None)
                checksums |= trailers
                declared = headers.get("x-amz-decoded-content-length")
                if declared is not None and declared != str(len(body)):
                    raise S3Error(400, "IncompleteBody", "the decoded body does not have x-amz-decoded-content-length")
            _check_checksums(body, checksums)
            bucket, _, key = unquote(raw_path).lstrip("/").partition("/")
            query = dict(pairs)
            with self._lock:
                if not bucket:
                    return self._list_buckets(method)
                if not key:
                    return self._bucket_call(method, self._s3_repo(bucket), query, body)
                return self._object_call(method, self._s3_repo(bucket), key, query, headers, body)
        except S3Error as error:
            document = _xml("Error", [("Code", error.code), ("Message", error.message), ("Resource", raw_path)])
            return _Response(
                error.status,
                b"" if method == "HEAD" else document,
                {"Content-Type": "application/xml", "x-amz-error-code": error.code, **error.headers},
            )

    def _verify_sigv4(
        self, method: str, raw_path: str, pairs: list[tuple[str, str]], headers: dict[str, str], body: bytes
    ) -> _Signing:
        """Check the request's AWS Signature Version 4 (Authorization header) with the server's secret."""
        authorization = headers.get("authorization", "")
        if not authorization:
            raise S3Error(403, "AccessDenied", "anonymous access is not allowed: sign the request (SigV4)")
        scheme, _, rest = authorization.partition(" ")
        if scheme != SIGV4:
            raise S3Error(400, "InvalidRequest", f"unsupported authorization scheme {scheme!r}: use {SIGV4}")
        fields = {}
        for part in rest.split(","):
            name, _, value = part.strip().partition("=")
            fields[name] = value
        credential = fields.get("Credential", "").split("/")
        signed_headers = fields.get("SignedHeaders", "").split(";")
        if len(credential) != 5 or not fields.get("Signature") or not signed_headers[0]:
            raise S3Error(400, "AuthorizationHeaderMalformed", "the authorization header is malformed")
        key_id, date, region, service, terminator = credential
        if not hmac.compare_digest(key_id.encode(), self.__access_key_id.encode()):
            raise S3Error(403, "InvalidAccessKeyId", "the access key id you provided does not exist in our records")
        amz_date = headers.get("x-amz-date", "")
        try:
            signed_at = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            raise S3Error(403, "AccessDenied", "a valid x-amz-date header is required") from None
        if date != amz_date[:8] or service != "s3" or terminator != "aws4_request":
            raise S3Error(400, "AuthorizationHeaderMalformed", "the credential scope does not match the request")
        if abs(time.time() - signed_at) > MAX_CLOCK_SKEW:
            raise S3Error(403, "RequestTimeTooSkewed", "the difference between the request time and now is too large")
        if "host" not in signed_headers or any(h not in headers for h in signed_headers):
            raise S3Error(403, "AccessDenied", "the host header and every signed header must be sent")
        payload_hash = headers.get("x-amz-content-sha256")
        if payload_hash is None:
            raise S3Error(400, "InvalidRequest", "missing required header for this request: x-amz-content-sha256")
        if _HEX64.fullmatch(payload_hash):
            if payload_hash != hashlib.sha256(body).hexdigest():
                raise S3Error(400, "XAmzContentSHA256Mismatch", "the provided x-amz-content-sha256 does not match")
        elif payload_hash != "UNSIGNED-PAYLOAD" and not payload_hash.startswith("STREAMING-"):
            raise S3Error(
                400, "InvalidArgument", "x-amz-content-sha256 must be a SHA-256, UNSIGNED-PAYLOAD or STREAMING-*"
            )
        scope = f"{date}/{region}/{service}/{terminator}"
        key = _hmac(_hmac(_hmac(_hmac(f"AWS4{self.__secret_access_key}".encode(), date), region), service), terminator)
        canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed_headers)
        # The path as sent, and the same path in S3's canonical encoding (clients differ in what they escape).
        for canonical_path in dict.fromkeys([raw_path or "/", quote(unquote(raw_path) or "/", safe="/" + _UNRESERVED)]):
            canonical = "\n".join(
                [
                    method,
                    canonical_path,
                    _canonical_query(pairs),
                    canonical_headers,
                    ";".join(signed_headers),
                    payload_hash,
                ]
            )
            text = "\n".join([SIGV4, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
            signature = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
            if hmac.compare_digest(signature, fields["Signature"]):
                return _Signing(key, amz_date, scope, signature)
        raise S3Error(
            403,
            "SignatureDoesNotMatch",
            "the request signature we calculated does not match the signature you provided: "
            "check your key and signing method",
        )

    # (the S3 calls below run under the lock)

    def _list_buckets(self, method: str) -> _Response:
        if method != "GET":
            raise S3Error(405, "MethodNotAllowed", f"{method} is not allowed on the service")
        buckets = [
            ("Bucket", [("Name", name), ("CreationDate", _iso_date(repo.creation_date))])
            for name, repo in sorted(self._repositories.items())
        ]
        owner = [("ID", COMMITTER), ("DisplayName", COMMITTER)]
        return _xml_response(200, "ListAllMyBucketsResult", [("Owner", owner), ("Buckets", buckets)])

    def _bucket_call(self, method: str, repo: _Repository, query: dict[str, str], body: bytes) -> _Response:
        if method == "HEAD":
            return _Response(200, headers={"x-amz-bucket-region": "us-east-1"})
        if method == "GET" and "location" in query:
            return _xml_response(200, "LocationConstraint", [])
        if method == "GET" and query.get("list-type") == "2":
            return self._list_objects(repo, query, version=2)
        if method == "GET" and not set(query) & {"uploads", "versions", "versioning", "policy", "acl", "tagging"}:
            return self._list_objects(repo, query, version=1)
        if method == "POST" and "delete" in query:
            return self._delete_objects(repo, body)
        if method == "PUT" and not query:
            raise S3Error(409, "BucketAlreadyOwnedByYou", f"the repository {repo.name} exists already")
        raise S3Error(501, "NotImplemented", f"{method} on a bucket with {sorted(query)} is not implemented here")

    def _list_objects(self, repo: _Repository, query: dict[str, str], version: int) -> _Response:
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        try:
            max_keys = min(int(query.get("max-keys", str(MAX_KEYS))), MAX_KEYS)
        except ValueError:
            raise S3Error(400, "InvalidArgument", "max-keys must be an integer") from None
        if max_keys < 0:
            raise S3Error(400, "InvalidArgument", "max-keys must not be negative")
        token = query.get("continuation-token")
        if version == 2 and token is not None:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise S3Error(400, "InvalidArgument", "the continuation token provided is incorrect") from None
        else:
            after = query.get("start-after" if version == 2 else "marker", "")
        contents: list[tuple[str, _Object]] = []
        prefixes: list[str] = []
        truncated, last = False, ""
        if "/" not in prefix:
            # As lakeFS: a prefix without a ref lists the branches (hidden ones excepted) as common prefixes.
            names = sorted(f"{b}/" for b in repo.branches if b.startswith(prefix) and b not in repo.hidden)
            entries: list[tuple[str, _Object | None]] = [(n, None) for n in names if n > after]
        else:
            ref = prefix.split("/", 1)[0]
            try:
                view = self._view(repo, ref)
            except S3Error:
                view = {}  # an unknown ref lists nothing
            entries = [(f"{ref}/{path}", obj) for path, obj in sorted(view.items())]
            entries = [(k, o) for k, o in entries if k.startswith(prefix) and k > after]
        for key, found in entries:
            rest = key[len(prefix) :]
            if found is None:
                common: str | None = key
            elif delimiter and delimiter in rest:
                common = prefix + rest[: rest.index(delimiter) + len(delimiter)]
            else:
                common = None
            if common is not None and (common == after or (prefixes and prefixes[-1] == common)):
                continue
            if len(contents) + len(prefixes) >= max_keys:
                truncated = True
                break
            if common is None and found is not None:
                contents.append((key, found))
                last = key
            elif common is not None:
                prefixes.append(common)
                last = common
        encode = query.get("encoding-type") == "url"

        def name(value: str) -> str:
            return quote(value, safe="/" + _UNRESERVED) if encode else value

        items: list[tuple[str, Any]] = [("Name", repo.name), ("Prefix", name(prefix))]
        if version == 2:
            items.append(("KeyCount", len(contents) + len(prefixes)))
            if token is not None:
                items.append(("ContinuationToken", token))
            if truncated:
                items.append(("NextContinuationToken", base64.urlsafe_b64encode(last.encode()).decode()))
            if "start-after" in query:
                items.append(("StartAfter", name(query["start-after"])))
        else:
            items.append(("Marker", name(query.get("marker", ""))))
            if truncated:
                items.append(("NextMarker", name(last)))
        items += [("MaxKeys", max_keys), ("IsTruncated", str(truncated).lower())]
        if delimiter:
            items.append(("Delimiter", name(delimiter)))
        if encode:
            items.append(("EncodingType", "url"))
        for key, obj in contents:
            entry = [
                ("Key", name(key)),
                ("LastModified", _iso_date(obj.mtime)),
                ("ETag", obj.quoted_etag),
                ("Size", obj.size),
                ("StorageClass", "STANDARD"),
            ]
            items.append(("Contents", entry))
        items += [("CommonPrefixes", [("Prefix", name(common))]) for common in prefixes]
        return _xml_response(200, "ListBucketResult", items)

    def _delete_objects(self, repo: _Repository, body: bytes) -> _Response:
        document = _parse_xml(body, "Delete")
        quiet = (document.findtext("Quiet") or "").strip().lower() == "true"
        results: list[tuple[str, Any]] = []
        for element in document.findall("Object"):
            key = element.findtext("Key") or ""
            ref, _, path = key.partition("/")
            try:
                if not path:
                    raise S3Error(400, "InvalidArgument", "a key must be <ref>/<path>")
                self._writable(repo, ref)
                self._stage_delete(repo, ref, path)
            except S3Error as error:
                results.append(("Error", [("Key", key), ("Code", error.code), ("Message", error.message)]))
            else:
                if not quiet:
                    results.append(("Deleted", [("Key", key)]))
        return _xml_response(200, "DeleteResult", results)

    def _object_call(
        self, method: str, repo: _Repository, key: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> _Response:
        ref, _, path = key.partition("/")
        if not path:
            return _Response(404)  # as lakeFS: a ref without a path is no object and no bucket (no error body)
        if "uploadId" in query:
            return self._multipart_call(method, repo, ref, path, query, headers, body)
        if method in ("GET", "HEAD"):
            if set(query) & {"acl", "tagging", "attributes", "torrent", "legal-hold", "retention"}:
                raise S3Error(501, "NotImplemented", f"object sub-resources {sorted(query)} are not implemented here")
            return self._get_object(method, repo, ref, path, headers)
        if method == "PUT":
            self._writable(repo, ref)
            if "x-amz-copy-source" in headers:
                data = self._copy_source(headers)
                self._check_put_conditions(repo, ref, path, headers)
                obj = self._store(data, content_type=headers.get("content-type", "application/octet-stream"))
                repo.staged.setdefault(ref, {})[path] = obj
                return _xml_response(
                    200, "CopyObjectResult", [("ETag", obj.quoted_etag), ("LastModified", _iso_date(obj.mtime))]
                )
            self._check_put_conditions(repo, ref, path, headers)
            obj = self._store(body, content_type=headers.get("content-type", "application/octet-stream"))
            repo.staged.setdefault(ref, {})[path] = obj
            return _Response(200, headers={"ETag": obj.quoted_etag})
        if method == "DELETE":
            self._writable(repo, ref)
            self._stage_delete(repo, ref, path)
            return _Response(204)
        if method == "POST" and "uploads" in query:
            self._writable(repo, ref)
            upload_id = uuid.uuid4().hex
            content_type = headers.get("content-type", "application/octet-stream")
            self._uploads[upload_id] = _Upload(repo.name, ref, path, content_type)
            items = [("Bucket", repo.name), ("Key", key), ("UploadId", upload_id)]
            return _xml_response(200, "InitiateMultipartUploadResult", items)
        raise S3Error(405, "MethodNotAllowed", f"{method} is not allowed on an object here")

    def _get_object(self, method: str, repo: _Repository, ref: str, path: str, headers: dict[str, str]) -> _Response:
        obj = self._lookup(repo, ref, path)
        if obj is None:
            raise S3Error(404, "NoSuchKey", f"the specified key does not exist: {ref}/{path}")
        common = {
            "ETag": obj.quoted_etag,
            "Last-Modified": _http_date(obj.mtime),
            "Content-Type": obj.content_type,
            "Accept-Ranges": "bytes",
        }
        if "if-match" in headers and not _etag_matches(headers["if-match"], obj.etag):
            raise S3Error(412, "PreconditionFailed", "at least one of the preconditions you specified did not hold")
        if "if-none-match" in headers and _etag_matches(headers["if-none-match"], obj.etag):
            return _Response(304, headers={k: common[k] for k in ("ETag", "Last-Modified")})
        data = self._blobs[obj.digest]
        span = _byte_range(headers.get("range"), obj.size)
        status = 200
        if span is not None:
            status = 206
            common["Content-Range"] = f"bytes {span[0]}-{span[1] - 1}/{obj.size}"
            data = data[span[0] : span[1]]
        common["Content-Length"] = str(len(data))
        return _Response(status, b"" if method == "HEAD" else data, common)

    def _check_put_conditions(self, repo: _Repository, branch: str, path: str, headers: dict[str, str]) -> None:
        """``If-None-Match: *`` (create only) and ``If-Match: "<etag>"`` (replace that version only)."""
        current = self._lookup(repo, branch, path)
        if "if-none-match" in headers:
            if headers["if-none-match"].strip() != "*":
                raise S3Error(501, "NotImplemented", "If-None-Match on a write takes only *")
            if current is not None:
                raise S3Error(
                    412, "PreconditionFailed", f"at least one of the preconditions did not hold: {path} exists"
                )
        if "if-match" in headers:
            if current is None:
                raise S3Error(404, "NoSuchKey", f"the specified key does not exist: {branch}/{path}")
            if not _etag_matches(headers["if-match"], current.etag):
                raise S3Error(
                    412, "PreconditionFailed", f"at least one of the preconditions did not hold: {path} changed"
                )

    def _copy_source(self, headers: dict[str, str]) -> bytes:
        """The content ``x-amz-copy-source`` (``[/]bucket/ref/path``, URL-encoded) names, or the part of it
        ``x-amz-copy-source-range`` asks for."""
        source = unquote(headers["x-amz-copy-source"].split("?", 1)[0]).lstrip("/")
        bucket, _, key = source.partition("/")
        ref, _, path = key.partition("/")
        obj = self._lookup(self._s3_repo(bucket), ref, path) if path else None
        if obj is None:
            raise S3Error(404, "NoSuchKey", f"the copy source does not exist: {source}")
        data = self._blobs[obj.digest]
        wanted = headers.get("x-amz-copy-source-range")
        if wanted:
            match = re.fullmatch(r"bytes=(\d+)-(\d+)", wanted.strip())
            if not match or int(match[1]) > int(match[2]) or int(match[2]) >= obj.size:
                raise S3Error(400, "InvalidArgument", f"invalid x-amz-copy-source-range {wanted!r}")
            data = data[int(match[1]) : int(match[2]) + 1]
        return data

    def _multipart_call(
        self,
        method: str,
        repo: _Repository,
        ref: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
    ) -> _Response:
        upload = self._uploads.get(query["uploadId"])
        if upload is None or (upload.repository, upload.branch, upload.path) != (repo.name, ref, path):
            raise S3Error(404, "NoSuchUpload", "the specified multipart upload does not exist")
        if method == "PUT" and "partNumber" in query:
            try:
                number = int(query["partNumber"])
            except ValueError:
                number = 0
            if not 1 <= number <= 10000:
                raise S3Error(400, "InvalidArgument", "partNumber must be an integer from 1 to 10000")
            data = self._copy_source(headers) if "x-amz-copy-source" in headers else body
            md5 = hashlib.md5(data).hexdigest()
            upload.parts[number] = (data, md5)
            if "x-amz-copy-source" in headers:
                return _xml_response(
                    200, "CopyPartResult", [("ETag", f'"{md5}"'), ("LastModified", _iso_date(time.time()))]
                )
            return _Response(200, headers={"ETag": f'"{md5}"'})
        if method == "POST":
            document = _parse_xml(body, "CompleteMultipartUpload")
            chosen: list[int] = []
            for part in document.findall("Part"):
                try:
                    number = int(part.findtext("PartNumber") or "")
                except ValueError:
                    raise S3Error(400, "MalformedXML", "a part number is not an integer") from None
                etag = (part.findtext("ETag") or "").strip().strip('"')
                if number not in upload.parts or upload.parts[number][1] != etag:
                    raise S3Error(400, "InvalidPart", f"part {number} was not uploaded or its ETag does not match")
                if chosen and number <= chosen[-1]:
                    raise S3Error(400, "InvalidPartOrder", "the parts must be listed in ascending order")
                chosen.append(number)
            if not chosen:
                raise S3Error(400, "MalformedXML", "a CompleteMultipartUpload lists at least one part")
            self._writable(repo, ref)
            self._check_put_conditions(repo, ref, path, headers)
            data = b"".join(upload.parts[n][0] for n in chosen)
            combined = hashlib.md5(b"".join(bytes.fromhex(upload.parts[n][1]) for n in chosen)).hexdigest()
            obj = self._store(data, f"{combined}-{len(chosen)}", upload.content_type)
            repo.staged.setdefault(ref, {})[path] = obj
            del self._uploads[query["uploadId"]]
            items = [
                ("Location", f"/{repo.name}/{ref}/{path}"),
                ("Bucket", repo.name),
                ("Key", f"{ref}/{path}"),
                ("ETag", obj.quoted_etag),
            ]
            return _xml_response(200, "CompleteMultipartUploadResult", items)
        if method == "DELETE":
            del self._uploads[query["uploadId"]]
            return _Response(204)
        raise S3Error(405, "MethodNotAllowed", f"{method} is not allowed on a multipart upload")


# -- the server the tests use: the backend in a child process --------------------------------------------------

# What the test process may ask the child for (the state helpers of _Backend); nothing else crosses the pipe.
_CONTROL = frozenset(
    {
        "create_repository",
        "stage",
        "head",
        "branches",
        "tags",
        "delete_tag",
        "tree",
        "staged",
        "commit_info",
        "recorded_requests",
        "clear_requests",
        "pause_register",
        "pause_wait",
        "pause_resume",
    }
)
START_LIMIT = 10.0  # seconds the child has to report its endpoint


def _serve_in_child(control: Connection, access_key_id: str, secret_access_key: str) -> None:
    """The child process: serve HTTP on threads and answer control calls from the test process, one at a time,
    until told to stop or until the test process is gone."""
    backend = _Backend(access_key_id, secret_access_key)
    backend.start()
    control.send(backend.endpoint)
    try:
        while True:
            try:
                name, args = control.recv()
            except (EOFError, OSError):
                return  # the test process went away
            if name == "stop":
                control.send(("ok", None))
                return
            try:
                if name not in _CONTROL:
                    raise AttributeError(f"not a control call: {name}")
                reply: tuple[str, Any] = ("ok", getattr(backend, name)(*args))
            except Exception as error:  # handed to the caller, which raises it
                reply = ("error", error)
            try:
                control.send(reply)
            except Exception as unpicklable:  # pickling failed before anything was sent
                control.send(("error", RuntimeError(f"{name}: {reply[1]!r} ({unpicklable})")))
    finally:
        backend.stop()
        control.close()


class Pause:
    """A request held by :meth:`LakeFSServer.pause_before`."""

    def __init__(self, server: "LakeFSServer", pause_id: int) -> None:
        self._server = server
        self._id = pause_id

    def wait_reached(self, timeout: float = 10.0) -> bool:
        """Whether the request arrived (and is being held) within ``timeout`` seconds. Other control calls wait
        meanwhile; requests over HTTP do not."""
        return bool(self._server._call("pause_wait", self._id, timeout))

    def resume(self) -> None:
        self._server._call("pause_resume", self._id)


class LakeFSServer:
    """lakeFS's API for a few calls and its S3 gateway, in memory, on ``127.0.0.1`` (see the module docstring).

    The server runs in a child process forked on :meth:`start`, and the state helpers below reach it over a
    pipe: a server thread in the test process could not answer while a deltalake call that holds the GIL
    waits on it (deltalake 1.6.6's ``DeltaTable.history()`` and ``DeltaTable.is_deltatable()`` do), and both
    would hang until object_store's retries gave up. The helpers return copies; ``requests`` is a snapshot.
    """

    def __init__(self, access_key_id: str, secret_access_key: str) -> None:
        self.__access_key_id = access_key_id
        self.__secret_access_key = secret_access_key
        self._lock = threading.Lock()  # one control call at a time on the pipe
        self._control: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._endpoint = ""

    def __repr__(self) -> str:
        return f"LakeFSServer(endpoint={self._endpoint!r})"

    def __reduce__(self) -> Any:
        raise TypeError("a LakeFSServer holds credentials and a live process: it cannot be pickled")

    # -- lifecycle ------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        if not self._endpoint:
            raise RuntimeError("the lakeFS test server is not running: use it as a context manager or start() it")
        return self._endpoint

    def start(self) -> "LakeFSServer":
        context = multiprocessing.get_context("fork")  # milliseconds: the child already has this module loaded
        ours, theirs = context.Pipe()
        process = context.Process(
            target=_serve_in_child,
            args=(theirs, self.__access_key_id, self.__secret_access_key),
            name="lakefs-test-server",
            daemon=True,
        )
        process.start()
        theirs.close()
        if not ours.poll(START_LIMIT):
            process.kill()
            raise RuntimeError("the lakeFS test server did not start")
        self._endpoint = str(ours.recv())
        self._control, self._process = ours, process
        return self

    def stop(self) -> None:
        with self._lock:
            control, process = self._control, self._process
            self._control = self._process = None
            if control is not None:
                try:
                    control.send(("stop", ()))
                    control.recv()
                except (EOFError, OSError):
                    pass  # the child is gone already
                control.close()
        if process is not None:
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)

    def __enter__(self) -> "LakeFSServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, name: str, *args: Any) -> Any:
        with self._lock:
            if self._control is None:
                raise RuntimeError("the lakeFS test server is not running")
            self._control.send((name, args))
            status, value = self._control.recv()
        if status == "error":
            raise value
        return value

    # -- state the tests set up and inspect (not over HTTP) -------------------------------------------

    def create_repository(self, name: str, default_branch: str = "main") -> str:
        """A repository whose default branch holds one empty commit; return that commit's id."""
        return cast(str, self._call("create_repository", name, default_branch))

    def stage(self, repository: str, branch: str, path: str, content: str | bytes | None) -> None:
        """Stage a write (or, with None, a delete) of ``path`` on ``branch``, as a writer would (text is
        stored as UTF-8)."""
        self._call("stage", repository, branch, path, content)

    def head(self, repository: str, branch: str) -> str:
        return cast(str, self._call("head", repository, branch))

    def branches(self, repository: str) -> dict[str, str]:
        """Every branch (hidden ones included) -> its head commit id."""
        return cast(dict[str, str], self._call("branches", repository))

    def tags(self, repository: str) -> dict[str, str]:
        return cast(dict[str, str], self._call("tags", repository))

    def delete_tag(self, repository: str, tag: str) -> None:
        """Remove ``tag``, as an administrator would (KeyError when there is none)."""
        self._call("delete_tag", repository, tag)

    def tree(self, repository: str, ref: str) -> dict[str, bytes]:
        """The committed files at ``ref`` (a branch, a tag or a commit id): path -> content."""
        return cast(dict[str, bytes], self._call("tree", repository, ref))

    def staged(self, repository: str, branch: str) -> dict[str, bytes | None]:
        """The uncommitted changes of ``branch``: path -> content (None: a delete)."""
        return cast(dict[str, bytes | None], self._call("staged", repository, branch))

    def commit_info(self, repository: str, ref: str) -> Commit:
        return cast(Commit, self._call("commit_info", repository, ref))

    @property
    def requests(self) -> list[Request]:
        """Every request received so far, in order (a snapshot)."""
        return cast(list[Request], self._call("recorded_requests"))

    def calls(self) -> list[str]:
        """``METHOD path`` of every request received, in order."""
        return [r.call for r in self.requests]

    def clear_requests(self) -> None:
        self._call("clear_requests")

    def pause_before(self, method: str, path_pattern: str) -> Pause:
        """Hold the next ``method`` request whose path fully matches ``path_pattern`` before handling it, until
        the returned pause is resumed (at most :data:`PAUSE_LIMIT` seconds); later requests pass."""
        return Pause(self, int(self._call("pause_register", method, path_pattern)))
