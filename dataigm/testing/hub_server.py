"""A local Hugging Face Hub server for tests: 127.0.0.1 only, stdlib only, with fault injection.

It speaks the part of the Hub HTTP API that `huggingface_hub` (HfApi, hf_hub_download,
HfFileSystem), `datasets` (load_dataset, streaming) and `timm` (`hf-hub:` models) use:

    GET  /api/whoami-v2
    POST /api/repos/create                 DELETE /api/repos/delete
    POST /api/validate-yaml
    GET  /api/{models|datasets|spaces}/{ns}/{name}[/revision/{rev}]
    POST /api/{type}s/{ns}/{name}/preupload/{rev}       ("lfs" or "regular", as the Hub decides)
    POST /[datasets/|spaces/]{ns}/{name}.git/info/lfs/objects/batch    (LFS batch API, basic transfer)
    PUT  /__lfs/upload/{grant}                          (the upload href a batch answer hands out)
    POST /[datasets/|spaces/]{ns}/{name}.git/info/lfs/objects/verify   (the verify href)
    POST /api/{type}s/{ns}/{name}/commit/{rev}          (NDJSON: file, lfsFile, deleted*; atomic)
    GET  /api/{type}s/{ns}/{name}/tree/{rev}[/{path}]   (recursive, cursor pagination via Link)
    POST /api/{type}s/{ns}/{name}/paths-info/{rev}
    GET  /api/{type}s/{ns}/{name}/refs
    POST /api/{type}s/{ns}/{name}/branch/{branch}       DELETE likewise
    PUT  /api/{type}s/{ns}/{name}/settings              (gated, private/visibility)
    HEAD|GET /[datasets/|spaces/]{ns}/{name}/resolve/{rev}/{path}   (Range, X-Repo-Commit, ETag;
                                                        LFS files: 302 to /__lfs/objects/{sha256})
    HEAD|GET /__lfs/objects/{sha256}                    (the "CDN", at `cdn_url`: LFS contents, Range)

Large files go the way the real Hub sends them (with HF_HUB_DISABLE_XET=1, as the tests run):
`preupload` answers "lfs" for a path the repo's .gitattributes marks `filter=lfs`, for binary
content (a NUL byte or bytes that are not UTF-8 in the 512-byte sample the client sends) and for
files of 10 MB and more; the client then asks the LFS batch endpoint for upload actions, PUTs the
bytes to the upload href, calls the verify href, and commits an `lfsFile` line (sha256 + size).
Tree and info listings report such files like the Hub: `oid`/`blobId` of the LFS pointer file
plus an `lfs` block; `resolve` redirects to the object's download URL with `X-Linked-Etag`
(the sha256) and `X-Linked-Size`.

Repositories live under a temporary folder: file contents as content-addressed blobs (named by
their git blob sha1, the id the Hub reports as `oid` for files stored in git), commits and refs
as JSON. Writes need a
bearer token from `tokens`; every request is recorded (headers minus Authorization) so a test
can assert what the server saw; `FaultRule`s make the Nth matching request fail, answer slowly,
or refuse a token.

Clients read HF_ENDPOINT at import time, so point a subprocess at `server.url` through its
environment (`server.client_env()`), or pass `endpoint=server.url` to `HfApi`/`HfFileSystem`.
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import hashlib
import json
import re
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, quote, unquote, urlsplit

import yaml

_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_SEG = r"[^/]+"
_REPO = rf"(?P<ns>{_SEG})/(?P<name>{_SEG})"
_API = rf"^/api/(?P<type>models|datasets|spaces)/{_REPO}"
_YAML_BLOCK = re.compile(r"\A\s*---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
# Part of the .gitattributes the Hub writes into a new repo (the LFS patterns that matter here).
_GITATTRIBUTES = b"".join(b"%s filter=lfs diff=lfs merge=lfs -text\n" % p for p in (
    b"*.bin", b"*.ckpt", b"*.onnx", b"*.parquet", b"*.pt", b"*.pth", b"*.safetensors", b"*.tar", b"*.zip"))
# The Hub stores files of this size and more through LFS whatever their content.
LFS_SIZE_THRESHOLD = 10 * 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")
_LFS_BATCH = rf"^/(?:(?P<pfx>datasets|spaces)/)?(?P<ns>{_SEG})/(?P<name>{_SEG})\.git/info/lfs/objects/"


def git_blob_oid(data: bytes) -> str:
    """The git blob id of `data`: what the Hub reports as a file's `oid` / `blobId`."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git LFS pointer file the Hub keeps in git for a file stored through LFS."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def looks_binary(sample: bytes) -> bool:
    """The Hub's test on the first 512 bytes: a NUL byte, or bytes that are not UTF-8 (a
    character cut by the 512-byte boundary does not count)."""
    if b"\x00" in sample:
        return True
    for cut in range(4):
        try:
            sample[: len(sample) - cut].decode("utf-8")
            return False
        except UnicodeDecodeError:
            continue
    return True


def _lfs_patterns(gitattributes: bytes) -> list[str]:
    patterns = []
    for line in gitattributes.decode("utf-8", "replace").splitlines():
        parts = line.split()
        if len(parts) > 1 and not parts[0].startswith("#") and "filter=lfs" in parts[1:]:
            patterns.append(parts[0])
    return patterns


def _matches(path: str, pattern: str) -> bool:
    # git: a pattern without a slash matches the file name at any depth
    return fnmatch.fnmatchcase(path if "/" in pattern else path.rsplit("/", 1)[-1], pattern.lstrip("/"))


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class TokenInfo:
    """A token the server accepts: whose it is and whether it may write."""

    user: str = "dataigm-test"
    write: bool = True


@dataclass
class FaultRule:
    """Make requests fail or stall.

    A rule applies to requests whose method equals `method` (any when None), whose path (without
    the query) matches the regex `path` (any when None) and, if `token` is set, that carry that
    bearer token. Among those, the `nth` (1-based) and the following `times - 1` ones (every one
    from the nth on when `times` is None) are affected: the server waits `delay` seconds, then
    answers `status` with `body`/`headers` instead of handling the request (or handles it
    normally when `status` is None, which gives a slow but successful answer).
    """

    method: str | None = None
    path: str | None = None
    nth: int = 1
    times: int | None = 1
    status: int | None = 500
    delay: float = 0.0
    token: str | None = None
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    seen: int = 0
    fired: int = 0

    def matches(self, method: str, path: str, token: str | None) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        if self.path is not None and not re.search(self.path, path):
            return False
        return self.token is None or self.token == token

    def take(self) -> bool:
        """Count one matching request; True when this one is to be faulted."""
        self.seen += 1
        if self.seen < self.nth:
            return False
        if self.times is not None and self.seen >= self.nth + self.times:
            return False
        self.fired += 1
        return True


@dataclass
class RequestRecord:
    """One request as the server saw it (the Authorization header is never kept)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    client: str
    authenticated: bool
    status: int = 0
    faulted: bool = False


@dataclass
class _Commit:
    oid: str
    parent: str | None
    files: dict[str, str]  # path -> git blob oid of the content
    title: str
    date: str
    lfs: dict[str, str] = field(default_factory=dict)  # path -> sha256, for files stored through LFS


@dataclass
class _Repo:
    type: str
    id: str
    private: bool
    gated: Any = False
    created: str = field(default_factory=_now)
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, _Commit] = field(default_factory=dict)


class HubError(Exception):
    """An HTTP error answer: status, message, optional X-Error-Code."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


class LocalHubServer:
    """The server. Use it as a context manager::

        with LocalHubServer(tokens={"hf_test": TokenInfo()}) as hub:
            HfApi(endpoint=hub.url, token="hf_test").create_repo("org/x", repo_type="dataset")
    """

    def __init__(
        self,
        root: str | Path | None = None,
        tokens: dict[str, TokenInfo] | None = None,
        tree_page_size: int = 1000,
        lfs_verify: bool = True,
    ) -> None:
        self._own_root = root is None
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="dataigm-hub-"))
        self.tokens: dict[str, TokenInfo] = dict(tokens) if tokens is not None else {"hf_dataigm_test": TokenInfo()}
        self.tree_page_size = tree_page_size
        self.lfs_verify = lfs_verify  # batch answers carry a verify action, which the client then calls
        self._lfs_objects: dict[str, str] = {}  # sha256 -> git blob oid of the uploaded content
        self._upload_grants: dict[str, tuple[str, int]] = {}  # upload href token -> (sha256, size)
        self.requests: list[RequestRecord] = []
        self.faults: list[FaultRule] = []
        self._repos: dict[tuple[str, str], _Repo] = {}
        self._lock = threading.RLock()
        self._commit_counter = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "LocalHubServer":
        handler = type("Handler", (_Handler,), {"hub": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        # a short poll interval makes stop() quick (shutdown waits for the serve loop to notice)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="local-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "LocalHubServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cdn_url(self) -> str:
        """Where LFS contents are served from: the same server under another origin, as the Hub's
        CDN is another host (clients then keep the metadata of the redirect and send no token)."""
        return f"http://localhost:{self.port}"

    def client_env(self, hf_home: str | Path) -> dict[str, str]:
        """Environment variables that point huggingface_hub/datasets/timm at this server."""
        return {
            "HF_ENDPOINT": self.url,
            "HF_HOME": str(hf_home),
            "HF_HUB_CACHE": str(Path(hf_home) / "hub"),
            "HF_DATASETS_CACHE": str(Path(hf_home) / "datasets"),
            "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_OFFLINE": "0",
            "HF_DATASETS_OFFLINE": "0",
            # datasets pings an S3 URL to count downloads; this switches that off.
            "HF_UPDATE_DOWNLOAD_COUNTS": "0",
            "NO_PROXY": "127.0.0.1,localhost",
        }

    # ------------------------------------------------------------------ test API
    def add_fault(self, **kwargs: Any) -> FaultRule:
        """Add a FaultRule (see its fields) and return it, so a test can read `fired`."""
        rule = FaultRule(**kwargs)
        with self._lock:
            self.faults.append(rule)
        return rule

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def seen(self, method: str | None = None, path: str | None = None) -> list[RequestRecord]:
        """Recorded requests, filtered by method and a regex on the path."""
        with self._lock:
            return [r for r in self.requests
                    if (method is None or r.method == method) and (path is None or re.search(path, r.path))]

    def repo_sha(self, repo_id: str, repo_type: str = "model", revision: str = "main") -> str | None:
        with self._lock:
            repo = self._repos.get((repo_type, repo_id))
            return None if repo is None else repo.branches.get(revision)

    def _head(self, repo_id: str, repo_type: str, revision: str) -> _Commit | None:
        repo = self._repos.get((repo_type, repo_id))
        if repo is None or revision not in repo.branches:
            return None
        return repo.commits[repo.branches[revision]]

    def repo_files(self, repo_id: str, repo_type: str = "model", revision: str = "main") -> dict[str, str]:
        """path -> git blob oid of the content at the head of `revision`, whether it is stored in
        git or through LFS (empty when the repo does not exist)."""
        with self._lock:
            head = self._head(repo_id, repo_type, revision)
            return {} if head is None else dict(head.files)

    def repo_lfs_files(self, repo_id: str, repo_type: str = "model", revision: str = "main") -> dict[str, str]:
        """path -> sha256 of the files at the head of `revision` that are stored through LFS."""
        with self._lock:
            head = self._head(repo_id, repo_type, revision)
            return {} if head is None else dict(head.lfs)

    def read_file(self, repo_id: str, path: str, repo_type: str = "model", revision: str = "main") -> bytes:
        return self._blob(self.repo_files(repo_id, repo_type, revision)[path])

    def repo_settings(self, repo_id: str, repo_type: str = "model") -> dict[str, Any]:
        with self._lock:
            repo = self._repos[(repo_type, repo_id)]
            return {"private": repo.private, "gated": repo.gated, "branches": dict(repo.branches),
                    "commits": len(repo.commits)}

    # ------------------------------------------------------------------ storage
    def _blob(self, oid: str) -> bytes:
        return (self.root / "blobs" / oid).read_bytes()

    def _put_blob(self, data: bytes) -> str:
        oid = git_blob_oid(data)
        path = self.root / "blobs" / oid
        if not path.exists():
            tmp = path.with_name(f".{oid}.{threading.get_ident()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        return oid

    def _new_commit(self, repo: _Repo, parent: str | None, files: dict[str, str], title: str,
                    lfs: dict[str, str] | None = None) -> _Commit:
        self._commit_counter += 1
        seed = json.dumps([repo.type, repo.id, parent, sorted(files.items()), title, self._commit_counter, time.time()])
        commit = _Commit(hashlib.sha1(seed.encode()).hexdigest(), parent, files, title, _now(), dict(lfs or {}))
        repo.commits[commit.oid] = commit
        return commit

    def _save_state(self) -> None:
        """Keep a JSON copy of refs and commits next to the blobs (for a person debugging a test)."""
        state = {f"{t}:{i}": {"private": r.private, "gated": r.gated, "branches": r.branches,
                              "commits": {o: asdict(c) for o, c in r.commits.items()}}
                 for (t, i), r in self._repos.items()}
        tmp = self.root / ".state.json.tmp"
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.root / "state.json")

    # ------------------------------------------------------------------ request helpers
    def _fault_for(self, method: str, path: str, token: str | None) -> FaultRule | None:
        with self._lock:
            hit = None
            for rule in self.faults:
                if rule.matches(method, path, token) and rule.take() and hit is None:
                    hit = rule
            return hit

    def _repo(self, type_plural: str, ns: str, name: str, token: str | None) -> _Repo:
        repo_type = _TYPES[type_plural]
        repo_id = f"{unquote(ns)}/{unquote(name)}"
        repo = self._repos.get((repo_type, repo_id))
        if repo is None or (repo.private and token not in self.tokens):
            raise HubError(404 if token in self.tokens else 401, "Repository not found", "RepoNotFound")
        return repo

    def _resolve_rev(self, repo: _Repo, rev: str) -> _Commit:
        rev = unquote(rev)
        if rev in repo.branches:
            return repo.commits[repo.branches[rev]]
        if re.fullmatch(r"[0-9a-f]{40}", rev) and rev in repo.commits:
            return repo.commits[rev]
        raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")

    def _repo_url(self, repo: _Repo) -> str:
        return f"{self.url}/{_URL_PREFIX[repo.type]}{repo.id}"

    @staticmethod
    def _dirs_of(files: dict[str, str]) -> set[str]:
        dirs = set()
        for path in files:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        return dirs

    def _tree_oid(self, files: dict[str, str], folder: str) -> str:
        prefix = folder + "/"
        listing = sorted((p, o) for p, o in files.items() if p.startswith(prefix))
        return hashlib.sha1(json.dumps(listing).encode()).hexdigest()

    def _size(self, oid: str) -> int:
        return (self.root / "blobs" / oid).stat().st_size

    def _entry(self, commit: _Commit, path: str) -> dict[str, Any]:
        files = commit.files
        if path not in files:
            return {"type": "directory", "oid": self._tree_oid(files, path), "path": path}
        oid, size = files[path], self._size(files[path])
        if path not in commit.lfs:
            return {"type": "file", "oid": oid, "size": size, "path": path}
        pointer = lfs_pointer(commit.lfs[path], size)
        return {"type": "file", "oid": git_blob_oid(pointer), "size": size, "path": path,
                "lfs": {"oid": commit.lfs[path], "size": size, "pointerSize": len(pointer)}}

    def _wants_lfs(self, files: dict[str, str], path: str, sample: bytes, size: int) -> bool:
        """The Hub's choice for a file to upload (see the module docstring)."""
        if size >= LFS_SIZE_THRESHOLD or looks_binary(sample):
            return True
        attributes = self._blob(files[".gitattributes"]) if ".gitattributes" in files else b""
        return any(_matches(path, pattern) for pattern in _lfs_patterns(attributes))

    @staticmethod
    def _card_data(files: dict[str, str], blob: Any) -> dict[str, Any] | None:
        if "README.md" not in files:
            return None
        match = _YAML_BLOCK.match(blob(files["README.md"]).decode("utf-8", "replace"))
        if not match:
            return None
        try:
            data = yaml.safe_load(match.group(1))
        except yaml.YAMLError:
            return None
        return data if isinstance(data, dict) else None


class _Handler(BaseHTTPRequestHandler):
    hub: LocalHubServer
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection frees its thread after this

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # tests read `hub.requests` instead of stderr noise

    # Each verb goes through the same dispatcher.
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ------------------------------------------------------------------ plumbing
    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self._record.status = status
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD" and body:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout during a delay)

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers)

    def _error(self, err: HubError) -> None:
        headers = {"X-Error-Message": err.message}
        if err.code:
            headers["X-Error-Code"] = err.code
        self._json(err.status, {"error": err.message}, headers)

    def _dispatch(self, method: str) -> None:
        hub = self.hub
        split = urlsplit(self.path)
        path, query = split.path, parse_qs(split.query, keep_blank_values=True)
        token = self._token()
        self._record = RequestRecord(
            method=method, path=path, query=query,
            headers={k: v for k, v in self.headers.items() if k.lower() != "authorization"},
            client=self.client_address[0], authenticated=token is not None,
        )
        with hub._lock:
            hub.requests.append(self._record)
        body = self._read_body()
        rule = hub._fault_for(method, path, token)
        if rule is not None:
            self._record.faulted = True
            if rule.delay:
                time.sleep(rule.delay)
            if rule.status is not None:
                message = (rule.body or {}).get("error", f"injected fault {rule.status}")
                self._json(rule.status, rule.body or {"error": message},
                           {"X-Error-Message": str(message), **rule.headers})
                return
        try:
            if token is not None and token not in hub.tokens:
                raise HubError(401, "Invalid credentials in Authorization header")
            self._route(method, path, query, body, token)
        except HubError as err:
            self._error(err)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a server bug: answer 500 so the test sees it, with the reason
            self._json(500, {"error": f"local hub server bug: {type(exc).__name__}: {exc}"})

    def _need_write(self, token: str | None) -> TokenInfo:
        if token is None:
            raise HubError(401, "You must be authenticated to do this (no token sent)")
        info = self.hub.tokens[token]
        if not info.write:
            raise HubError(403, "You don't have the rights to write to this repo (read-only token)")
        return info

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes, token: str | None) -> None:
        table: list[tuple[str, str, Any]] = [
            ("GET", r"^/api/whoami-v2$", self._whoami),
            ("POST", r"^/api/repos/create$", self._create_repo),
            ("DELETE", r"^/api/repos/delete$", self._delete_repo),
            ("POST", r"^/api/validate-yaml$", self._validate_yaml),
            ("GET", rf"{_API}(?:/revision/(?P<rev>{_SEG}))?$", self._info),
            ("POST", rf"{_API}/preupload/(?P<rev>{_SEG})$", self._preupload),
            ("POST", rf"{_API}/commit/(?P<rev>{_SEG})$", self._commit),
            ("GET", rf"{_API}/tree/(?P<rev>{_SEG})(?:/(?P<sub>.*))?$", self._tree),
            ("POST", rf"{_API}/paths-info/(?P<rev>{_SEG})$", self._paths_info),
            ("GET", rf"{_API}/refs$", self._refs),
            ("POST", rf"{_API}/branch/(?P<branch>{_SEG})$", self._create_branch),
            ("DELETE", rf"{_API}/branch/(?P<branch>{_SEG})$", self._delete_branch),
            ("PUT", rf"{_API}/settings$", self._settings),
            ("POST", _LFS_BATCH + "batch$", self._lfs_batch),
            ("POST", _LFS_BATCH + "verify$", self._lfs_verify),
            ("PUT", rf"^/__lfs/upload/(?P<grant>{_SEG})$", self._lfs_upload),
            ("GET", r"^/__lfs/objects/(?P<sha>[0-9a-f]{64})$", self._lfs_download),
            ("HEAD", r"^/__lfs/objects/(?P<sha>[0-9a-f]{64})$", self._lfs_download),
            ("GET", rf"^/(?:(?P<pfx>datasets|spaces)/)?{_REPO}/resolve/(?P<rev>{_SEG})/(?P<file>.+)$", self._resolve),
            ("HEAD", rf"^/(?:(?P<pfx>datasets|spaces)/)?{_REPO}/resolve/(?P<rev>{_SEG})/(?P<file>.+)$", self._resolve),
        ]
        for verb, pattern, handler in table:
            if verb == method and (match := re.match(pattern, path)):
                with self.hub._lock:
                    handler(match.groupdict(), query, body, token)
                return
        raise HubError(404, f"Not found: {method} {path}")

    # ------------------------------------------------------------------ endpoints
    def _whoami(self, m: dict, q: dict, body: bytes, token: str | None) -> None:
        if token is None:
            raise HubError(401, "Invalid username or password.")
        info = self.hub.tokens[token]
        role = "write" if info.write else "read"
        self._json(200, {"type": "user", "id": hashlib.sha1(info.user.encode()).hexdigest()[:24],
                         "name": info.user, "fullname": info.user, "orgs": [], "isPro": False,
                         "auth": {"type": "access_token", "accessToken": {"displayName": "test", "role": role}}})

    def _create_repo(self, m: dict, q: dict, body: bytes, token: str | None) -> None:
        info = self._need_write(token)
        payload = json.loads(body or b"{}")
        name, org = payload.get("name"), payload.get("organization") or info.user
        repo_type = payload.get("type") or "model"
        if not name or repo_type not in _URL_PREFIX:
            raise HubError(400, f"bad repo create payload: {payload}")
        repo_id = f"{org}/{name}"
        hub = self.hub
        if (repo_type, repo_id) in hub._repos:
            repo = hub._repos[(repo_type, repo_id)]
            self._json(409, {"error": "You already created this repo", "url": hub._repo_url(repo)},
                       {"X-Error-Message": "You already created this repo"})
            return
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        repo = _Repo(type=repo_type, id=repo_id, private=private)
        # Like the Hub: a new repo starts with one commit holding .gitattributes.
        first = hub._new_commit(repo, None, {".gitattributes": hub._put_blob(_GITATTRIBUTES)}, "initial commit")
        repo.branches["main"] = first.oid
        hub._repos[(repo_type, repo_id)] = repo
        hub._save_state()
        self._json(200, {"url": hub._repo_url(repo), "name": repo_id, "id": repo_id})

    def _delete_repo(self, m: dict, q: dict, body: bytes, token: str | None) -> None:
        info = self._need_write(token)
        payload = json.loads(body or b"{}")
        key = (payload.get("type") or "model", f"{payload.get('organization') or info.user}/{payload.get('name')}")
        if key not in self.hub._repos:
            raise HubError(404, "Repository not found", "RepoNotFound")
        del self.hub._repos[key]
        self.hub._save_state()
        self._json(200, {})

    def _validate_yaml(self, m: dict, q: dict, body: bytes, token: str | None) -> None:
        content = json.loads(body or b"{}").get("content", "")
        match = _YAML_BLOCK.match(content)
        if match is None:
            self._json(200, {"errors": [], "warnings": [{"message": "empty or missing yaml metadata in repo card"}]})
            return
        try:
            data = yaml.safe_load(match.group(1))
        except yaml.YAMLError as exc:
            self._json(400, {"errors": [{"message": f"Invalid YAML: {' '.join(str(exc).split())}"}]})
            return
        if data is not None and not isinstance(data, dict):
            self._json(400, {"errors": [{"message": "YAML metadata must be a mapping"}]})
            return
        self._json(200, {"errors": [], "warnings": []})

    def _info(self, m: dict, q: dict, body: bytes, token: str | None) -> None:
        hub = self.hub
        repo = hub._repo(m["type"], m["ns"], m["name"], token)
        commit = hub._resolve_rev(repo, m["rev"] or "main")
        blobs = q.get("blobs", ["false"])[0].lower() in ("1", "true")
        siblings = []
        for path in sorted(commit.files):
            sib: dict[str, Any] = {"rfilename": path}
            if blobs:
                entry = hub._entry(commit, path)
                sib.update(size=entry["size"], blobId=entry["oid"])
                if "lfs" in entry:
                    sib["lfs"] = {"sha256": entry["lfs"]["oid"], "size": entry["lfs"]["size"],
                                  "pointerSize": entry["lfs"]["pointerSize"]}
            siblings.append(sib)
        data: dict[str, Any] = {
            "_id": hashlib.sha1(repo.id.encode()).hexdigest()[:24], "id": repo.id,
            "author": repo.id.split("/")[0], "sha": commit.oid, "lastModified": commit.date,
            "createdAt": repo.created, "private": repo.private, "gated": repo.gated, "disabled": False,
            "downloads": 0, "likes": 0, "tags": [], "siblings": siblings,
        }
        card = hub._card_data(commit.files, hub._blob)
        if card is not None:
            data["cardData"] = card
        if repo.type == "model":
            data["modelId"] = repo.id
            data["library_name"] = (card or {}).get("library_name")
        self._json(200, data)

    def _writable_branch(self, repo: _Repo, rev: str) -> str:
        branch = unquote(rev)
        if branch not in repo.branches:
            raise HubError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
        return branch

    def _preupload(self, m: dict, q: dict, body: bytes, token: str | None) -> None:
        self._need_write(token)
        hub = self.hub
        repo = hub._repo(m["type"], m["ns"], m["name"], token)
        branch = self._writable_branch(repo, m["rev"])
        head = repo.commits[repo.branches[branch]]
        payload = json.loads(body or b"{}")
        answers = []
        for f in payload.get("files", []):
            path, size = str(f.get("path", "")), f.get("size")
            try:
                sample = base64.b64decode(f.get("sample", ""), validate=True)
            except ValueError:
                raise HubError(400, f"preupload: sample of {path!r} is not base64") from None
            if not isinstance(size, int) or size < 0:
                raise HubError(400, f"preupload: size of {path!r} must be a whole number")
            mode = "lfs" if hub._wants_lfs(head.files, path, sample, size) else "regular"
            # The id the client compares with its own to skip unchanged files: the sha256 of an
            # LFS file, the git blob oid of a regular one.
            remote = head.lfs.get(path) or head.files.get(path)
            answers.append({"path": path, "uploadMode": mode, "shouldIgnore": False, "oid": remote})
        self._json(200, {"files": answers})

    def _commit(self, m: dict, q: dict, body: bytes, token: str | None) -> None:
        self._need_write(token)
        hub = self.hub
        repo = hub._repo(m["type"], m["ns"], m["name"], token)
        if q.get("create_pr", ["0"])[0] not in ("", "0", "false"):
            raise HubError(400, "pull requests are not supported by the local hub server")
        branch = self._writable_branch(repo, m["rev"])
        head = repo.commits[repo.branches[branch]]
        lines = [json.loads(line) for line in body.decode("utf-8").splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "commit payload must start with a header line")
        header = lines[0]["value"]
        parent = header.get("parentCommit")
        if parent and not head.oid.startswith(parent):
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        # Build the new tree completely before touching any ref: a bad line rejects the whole
        # commit and the branch keeps pointing where it did (atomicity).
        files, lfs = dict(head.files), dict(head.lfs)
        for line in lines[1:]:
            key, value = line.get("key"), line.get("value") or {}
            target = str(value.get("path", "")).strip("/")
            if not target or ".." in target.split("/"):
                raise HubError(400, f"invalid path in commit: {value.get('path')!r}")
            if key == "file":
                if value.get("encoding") != "base64":
                    raise HubError(400, f"unsupported encoding for {target}")
                files[target] = hub._put_blob(base64.b64decode(value["content"]))
                lfs.pop(target, None)
            elif key == "lfsFile":
                sha, size = str(value.get("oid", "")), value.get("size")
                if value.get("algo", "sha256") != "sha256" or sha not in hub._lfs_objects:
                    raise HubError(422, f"LFS object {sha} of {target} was never uploaded (use the LFS batch API)")
                if size is not None and size != hub._size(hub._lfs_objects[sha]):
                    raise HubError(422, f"LFS object {sha} of {target}: size {size} does not match the upload")
                files[target], lfs[target] = hub._lfs_objects[sha], sha
            elif key == "deletedFile":
                if target not in files:
                    raise HubError(404, f"A file with this name doesn't exist: {target}", "EntryNotFound")
                del files[target]
                lfs.pop(target, None)
            elif key == "deletedFolder":
                doomed = [p for p in files if p.startswith(target + "/")]
                if not doomed:
                    raise HubError(404, f"A folder with this name doesn't exist: {target}", "EntryNotFound")
                for p in doomed:
                    del files[p]
                    lfs.pop(p, None)
            elif key == "deletedEntry":
                raise HubError(400, f"'{key}' is not supported by the local hub server")
            else:
                raise HubError(400, f"unknown commit line key {key!r}")
        commit = hub._new_commit(repo, head.oid, files, str(header.get("summary", "")), lfs)
        repo.branches[branch] = commit.oid
        hub._save_state()
        self._json(200, {"success": True, "commitOid": commit.oid, "pullRequestUrl": None,
                         "commitUrl": f"{hub._repo_url(repo)}/commit/{commit.oid}"})

    def _tree(self, m: dict, q: dict, body: bytes, token: str | None) -> None:
        hub = self.hub
        repo = hub._repo(m["type"], m["ns"], m["name"], token)
        commit = hub._resolve_rev(repo, m["rev"])
        folder = "/".join(unquote(s) for s in (m["sub"] or "").split("/") if s).strip("/")
        files = commit.files
        dirs = hub._dirs_of(files)
        if folder and folder not in dirs:
            raise HubError(404, f"Entry not found: {folder}", "EntryNotFound")
        recursive = q.get("recursive", ["false"])[0].lower() in ("1", "true")
        prefix = folder + "/" if folder else ""
        paths = sorted(p for p in set(files) | dirs if p.startswith(prefix) and p != folder)
        if not recursive:
            paths = [p for p in paths if "/" not in p[len(prefix):]]
        cursor = int(q.get("cursor", ["0"])[0] or 0)
        page = paths[cursor: cursor + hub.tree_page_size]
        headers = {}
        if cursor + hub.tree_page_size < len(paths):
            sub = f"/{quote(folder, safe='')}" if folder else ""
            nxt = (f"{hub.url}/api/{m['type']}/{repo.id}/tree/{quote(unquote(m['rev']), safe='')}{sub}"
                   f"?recursive={str(recursive).lower()}&expand=false&cursor={cursor + hub.tree_page_size}")
            headers["Link"] = f'<{nxt}>; rel="next"'
        self._json(200, [hub._entry(commit, p) for p in page], headers)

    def _paths_info(self, m: dict, q: dict, body: bytes, token: str | None) -> None:
        hub = self.hub
        repo = hub._repo(m["type"], m["ns"], m["name"], token)
        commit = hub._resolve_rev(repo, m["rev"])
        ctype = self.headers.get("Content-Type", "")
        if "json" in ctype:
            wanted = json.loads(body or b"{}").get("paths", [])
        else:
            wanted = parse_qs(body.decode("utf-8"), keep_blank_values=True).get("paths", [])
        dirs = hub._dirs_of(commit.files)
        out = [hub._entry(commit, p.strip("/")) for p in wanted
               if p.strip("/") in commit.files or p.strip("/") in dirs]
        self._json(200, out)

    def _refs(self, m: dict, q: dict, body: bytes, token: str | None) -> None:
        repo = self.hub._repo(m["type"], m["ns"], m["name"], token)
        self._json(200, {"branches": [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": o}
                                      for b, o in sorted(repo.branches.items())],
                         "tags": [], "converts": []})

    def _create_branch(self, m: dict, q: dict, body: bytes, token: str | None) -> None:
        self._need_write(token)
        repo = self.hub._repo(m["type"], m["ns"], m["name"], token)
        branch = unquote(m["branch"])
        if branch in repo.branches:
            raise HubError(409, f"Reference refs/heads/{branch} already exists")
        start = json.loads(body or b"{}").get("startingPoint") or "main"
        repo.branches[branch] = self.hub._resolve_rev(repo, start).oid
        self.hub._save_state()
        self._json(200, {})

    def _delete_branch(self, m: dict, q: dict, body: bytes, token: str | None) -> None:
        self._need_write(token)
        repo = self.hub._repo(m["type"], m["ns"], m["name"], token)
        branch = unquote(m["branch"])
        if branch not in repo.branches or branch == "main":
            raise HubError(404 if branch not in repo.branches else 403, f"cannot delete branch {branch}")
        del repo.branches[branch]
        self.hub._save_state()
        self._json(200, {})

    def _settings(self, m: dict, q: dict, body: bytes, token: str | None) -> None:
        self._need_write(token)
        repo = self.hub._repo(m["type"], m["ns"], m["name"], token)
        payload = json.loads(body or b"{}")
        if "gated" in payload:
            if payload["gated"] not in ("auto", "manual", False):
                raise HubError(400, f"invalid gated value {payload['gated']!r}")
            repo.gated = payload["gated"]
        if "private" in payload:
            repo.private = bool(payload["private"])
        if "visibility" in payload:
            repo.private = payload["visibility"] == "private"
        self.hub._save_state()
        self._json(200, {})

    def _resolve(self, m: dict, q: dict, body: bytes, token: str | None) -> None:
        hub = self.hub
        repo = hub._repo(m["pfx"] or "models", m["ns"], m["name"], token)
        if repo.gated and token is None:
            raise HubError(401, "Access to this gated repo is restricted: log in", "GatedRepo")
        commit = hub._resolve_rev(repo, m["rev"])
        target = unquote(m["file"])
        if target not in commit.files:
            raise HubError(404, "Entry not found", "EntryNotFound")
        entry = hub._entry(commit, target)
        headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{entry["oid"]}"'}
        if "lfs" in entry:
            # Like the Hub: an LFS file is served from elsewhere (its CDN); the redirect carries
            # the content's sha256 and size, which the clients use as etag and expected size.
            sha = entry["lfs"]["oid"]
            self._send(302, b"", {**headers, "Location": f"{hub.cdn_url}/__lfs/objects/{sha}",
                                  "X-Linked-Etag": f'"{sha}"', "X-Linked-Size": str(entry["size"])})
            return
        self._serve(hub._blob(commit.files[target]), headers)

    def _serve(self, data: bytes, headers: dict[str, str]) -> None:
        """Answer with `data`, honouring a byte Range header (206 / 416)."""
        headers = {**headers, "Accept-Ranges": "bytes"}
        status, size = 200, len(data)
        rng = self.headers.get("Range")
        if rng:
            match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", rng)
            if not match or (not match.group(1) and not match.group(2)):
                raise HubError(400, f"bad Range header {rng!r}")
            first, last = match.group(1), match.group(2)
            if first == "":
                start, end = max(0, size - int(last)), size - 1
            else:
                start, end = int(first), min(int(last) if last else size - 1, size - 1)
            if start >= size or start > end:
                self._send(416, b"", {"Content-Range": f"bytes */{size}", **headers})
                return
            data = data[start:end + 1]
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        self._send(status, data, headers, content_type="application/octet-stream")

    # ------------------------------------------------------------------ LFS
    def _lfs_batch(self, m: dict, q: dict, body: bytes, token: str | None) -> None:
        """The LFS batch API (basic transfer): one upload href per object the server lacks."""
        self._need_write(token)
        hub = self.hub
        hub._repo(m["pfx"] or "models", m["ns"], m["name"], token)
        payload = json.loads(body or b"{}")
        if payload.get("operation") != "upload":
            raise HubError(400, "only the 'upload' operation is supported by the local hub server")
        if "basic" not in (payload.get("transfers") or ["basic"]):
            raise HubError(400, "the local hub server speaks the 'basic' LFS transfer only")
        repo_path = f"{m['pfx'] + '/' if m['pfx'] else ''}{unquote(m['ns'])}/{unquote(m['name'])}"
        objects = []
        for obj in payload.get("objects", []):
            sha, size = str(obj.get("oid", "")), obj.get("size")
            answer: dict[str, Any] = {"oid": sha, "size": size if isinstance(size, int) else -1}
            if not _SHA256.fullmatch(sha) or not isinstance(size, int) or size < 0:
                answer["error"] = {"code": 422, "message": "oid must be a sha256 and size a whole number"}
            elif sha in hub._lfs_objects:
                answer["authenticated"] = True  # already stored: no actions, the client skips it
            else:
                grant = secrets.token_urlsafe(16)
                hub._upload_grants[grant] = (sha, size)
                actions: dict[str, Any] = {"upload": {"href": f"{hub.url}/__lfs/upload/{grant}", "header": {}}}
                if hub.lfs_verify:
                    actions["verify"] = {"href": f"{hub.url}/{repo_path}.git/info/lfs/objects/verify", "header": {}}
                answer.update(authenticated=True, actions=actions)
            objects.append(answer)
        self._send(200, json.dumps({"transfer": "basic", "objects": objects}).encode(),
                   content_type="application/vnd.git-lfs+json")

    def _lfs_upload(self, m: dict, q: dict, body: bytes, token: str | None) -> None:
        """PUT of one object's bytes to the href a batch answer handed out (no token needed:
        the href is the credential, like the Hub's presigned storage URLs)."""
        hub = self.hub
        grant = hub._upload_grants.get(m["grant"])
        if grant is None:
            raise HubError(403, "upload URL unknown or already used")
        sha, size = grant
        if len(body) != size or hashlib.sha256(body).hexdigest() != sha:
            raise HubError(400, f"uploaded bytes do not match oid {sha} / size {size}")
        del hub._upload_grants[m["grant"]]
        hub._lfs_objects[sha] = hub._put_blob(body)
        self._send(200, b"", content_type="text/plain")

    def _lfs_verify(self, m: dict, q: dict, body: bytes, token: str | None) -> None:
        self._need_write(token)
        payload = json.loads(body or b"{}")
        sha, size = str(payload.get("oid", "")), payload.get("size")
        stored = self.hub._lfs_objects.get(sha)
        if stored is None or self.hub._size(stored) != size:
            raise HubError(404, f"LFS object {sha} (size {size}) not found")
        self._json(200, {"message": "verified"})

    def _lfs_download(self, m: dict, q: dict, body: bytes, token: str | None) -> None:
        stored = self.hub._lfs_objects.get(m["sha"])
        if stored is None:
            raise HubError(404, "LFS object not found")
        self._serve(self.hub._blob(stored), {"ETag": f'"{m["sha"]}"'})


@contextlib.contextmanager
def local_hub(**kwargs: Any) -> Iterator[LocalHubServer]:
    """`with local_hub() as hub:` — start a LocalHubServer and stop it afterwards."""
    server = LocalHubServer(**kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()
