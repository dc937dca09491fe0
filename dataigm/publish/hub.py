"""Talking to the Hub through `huggingface_hub.HfApi`: token, retries, one-line errors, the commit.

Every remote call goes through `Session.call`, which retries transient failures (5xx, 408, 429,
timeouts, dropped connections) with exponential backoff and turns everything else into a one-line
`PublishError` that names the repo and the endpoint. A publish is always ONE `create_commit`
holding every addition and deletion, so the remote repo moves from its old state to the new one
or not at all.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from tqdm.auto import tqdm

from dataigm import __version__
from dataigm.errors import DataigmError, InputError
from dataigm.io import folder_lock
from dataigm.publish.plan import PlannedFile, PublishPlan, PublishResult

T = TypeVar("T")


class PublishError(DataigmError):
    """The Hub refused or failed a publish (auth, permission, not found, persistent server error)."""

    original: BaseException | None = None  # the huggingface_hub / httpx exception behind it


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Waits are base_delay * 2**k, capped at max_delay, between `attempts` tries.

    `timeout` (seconds, per network read/write) is applied to huggingface_hub's HTTP client for the
    duration of the publish; None keeps the client's own setting (no timeout by default).
    """

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    timeout: float | None = None

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise DataigmError(f"retry attempts must be >= 1, got {self.attempts}")


@dataclass
class RemoteState:
    """The remote repo at the head of the publish revision."""

    exists: bool
    sha: str | None
    files: dict[str, str]  # path -> content id: git blob oid, or the sha256 of an LFS file
    private: bool
    gated: bool
    readme: str | None  # README.md text, when asked for and present


def resolve_token(token: str | None, required: bool) -> str | None:
    """The token from the argument, else HF_TOKEN / the huggingface_hub login (`get_token()`)."""
    from huggingface_hub import get_token

    token = token or get_token()
    if token is None and required:
        raise PublishError("no Hugging Face token found: set HF_TOKEN or run `hf auth login` (needs write access)")
    return token


def content_ids(f: PlannedFile) -> set[str]:
    """The ids the Hub may report for this file's content: its git blob sha1 when stored in git,
    its sha256 when stored through LFS (the Hub decides which; RemoteState records either)."""
    content = f.data if f.data is not None else Path(f.local_path).read_bytes()  # type: ignore[arg-type]
    return {hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest(), hashlib.sha256(content).hexdigest()}


# git check-ref-format, which the Hub applies to branch names: no control characters, spaces or
# ~^:?*[\ anywhere, no '..' or '@{', no component starting with '.' or ending with '.lock'.
_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def check_revision(revision: str | None) -> None:
    """A publish --revision must be a branch name git accepts; refused in one line otherwise."""
    if revision is None:
        return
    parts = revision.split("/")
    bad = (not revision or _BAD_REF_CHARS.search(revision) or ".." in revision or "@{" in revision
           or revision == "@" or revision.endswith(".") or any(not p or p.startswith(".") or p.endswith(".lock")
                                                               for p in parts))
    if bad:
        raise InputError(f"--revision: {revision!r} is not a valid branch name (no '..', spaces, control "
                         "characters, ~^:?*[\\ or empty path components)")


def holding_folder_lock(publish: Callable[..., T]) -> Callable[..., T]:
    """Run a publish while holding the lock of the folder it reads (its first argument), so
    an export or training cannot replace the folder half-way through the upload."""

    @functools.wraps(publish)
    def locked(folder: str | Path, *args: Any, **kwargs: Any) -> T:
        if not Path(folder).is_dir():
            return publish(folder, *args, **kwargs)  # reports the missing folder itself
        with folder_lock(Path(folder)):
            return publish(folder, *args, **kwargs)

    return locked


@contextlib.contextmanager
def http_timeout(seconds: float | None) -> Iterator[None]:
    """Give huggingface_hub's shared HTTP client a timeout for the duration of the block.

    huggingface_hub has no per-call timeout for commits; `get_session()` is its public handle on
    the shared client, whose `timeout` is a public setting. The previous timeout is put back.
    """
    if seconds is None:
        yield
        return
    import httpx2
    from huggingface_hub import get_session

    client = get_session()
    previous = client.timeout
    client.timeout = httpx2.Timeout(seconds)
    try:
        yield
    finally:
        client.timeout = previous


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _is_transient(exc: BaseException) -> bool:
    import httpx2

    for err in (exc, exc.__cause__):
        if err is None:
            continue
        code = _status(err)
        if code is not None and (code >= 500 or code in (408, 429)):
            return True
        if isinstance(err, (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError)):
            return True
    return False


class Session:
    """One publish's view of the Hub: an HfApi bound to endpoint and token, plus retry policy."""

    def __init__(self, repo_id: str, repo_type: str, endpoint: str | None, token: str | None,
                 retry: RetryPolicy) -> None:
        from huggingface_hub import HfApi, constants

        self.repo_id = repo_id
        self.repo_type = repo_type
        self.endpoint = (endpoint or constants.ENDPOINT).rstrip("/")
        self.token = token
        self.retry = retry
        self.api = HfApi(endpoint=self.endpoint, token=token if token else False,
                         library_name="dataigm", library_version=__version__)

    @property
    def what(self) -> str:
        return f"{self.repo_type} repo {self.repo_id} on {self.endpoint}"

    @property
    def repo_url(self) -> str:
        prefix = "" if self.repo_type == "model" else f"{self.repo_type}s/"
        return f"{self.endpoint}/{prefix}{self.repo_id}"

    def _scrub(self, text: str) -> str:
        text = " ".join(str(text).split())
        return text.replace(self.token, "***") if self.token else text

    def call(self, step: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run fn, retrying transient failures; raise a one-line PublishError otherwise."""
        policy = self.retry
        for attempt in range(1, policy.attempts + 1):
            try:
                return fn(*args, **kwargs)
            except DataigmError:
                raise
            except Exception as exc:
                if _is_transient(exc) and attempt < policy.attempts:
                    delay = min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))
                    tqdm.write(f"dataigm: {step}: {self._short(exc)}; retry {attempt}/{policy.attempts - 1} "
                               f"in {delay:g}s")
                    time.sleep(delay)
                    continue
                error = self.translate(step, exc, attempt)
                error.original = exc
                raise error from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _short(self, exc: BaseException) -> str:
        code = _status(exc)
        return f"HTTP {code}" if code is not None else type(exc).__name__

    def translate(self, step: str, exc: BaseException, attempts: int) -> PublishError:
        """A one-line error naming the step, the repo and the endpoint."""
        from huggingface_hub.errors import (GatedRepoError, HfHubHTTPError, RepositoryNotFoundError,
                                            RevisionNotFoundError)

        code = _status(exc)
        server = self._scrub(getattr(exc, "server_message", None) or "")
        where = f"{step} for {self.what}"
        if _is_transient(exc):
            reason = f"HTTP {code}" if code is not None else type(exc).__name__
            return PublishError(f"{where} kept failing ({reason}) after {attempts} attempt(s); "
                                "nothing was committed, the remote repo is unchanged")
        if code == 401:
            return PublishError(f"{where} failed: 401 Unauthorized (the token is missing or invalid); "
                                "set HF_TOKEN or run `hf auth login` with a write token")
        if code == 403:
            return PublishError(f"{where} failed: 403 Forbidden (the token may not write to {self.repo_id})"
                                + (f": {server}" if server else ""))
        if isinstance(exc, RevisionNotFoundError):
            return PublishError(f"{where} failed: revision not found (404)")
        if isinstance(exc, (RepositoryNotFoundError, GatedRepoError)):
            return PublishError(f"{where} failed: repository not found (404)")
        if code == 404:
            return PublishError(f"{where} failed: 404 Not Found; is {self.endpoint} a Hugging Face Hub "
                                "endpoint and the repo id right?")
        if code == 412:
            return PublishError(f"{where} failed: the remote repo changed during the publish (412); "
                                "nothing was committed, rerun the command")
        if isinstance(exc, HfHubHTTPError):
            return PublishError(f"{where} failed: HTTP {code}" + (f": {server}" if server else ""))
        if isinstance(exc, ValueError) and "metadata" in str(exc):
            return PublishError(f"{where} failed: README.md metadata rejected: {self._scrub(str(exc))}")
        return PublishError(f"{where} failed: {type(exc).__name__}: {self._scrub(str(exc))}")

    # ------------------------------------------------------------------ reading
    def read_remote(self, revision: str, want_readme: bool, allow_missing: bool) -> RemoteState:
        """Head sha, files and (optionally) README of the repo at `revision`."""
        from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError
        from huggingface_hub.hf_api import RepoFile

        def info(rev: str) -> Any:
            return self.api.repo_info(self.repo_id, repo_type=self.repo_type, revision=rev)

        try:
            meta = self.call("reading", info, revision)
        except PublishError as err:
            cause = err.original
            if allow_missing and isinstance(cause, RepositoryNotFoundError):
                return RemoteState(False, None, {}, False, False, None)
            if allow_missing and isinstance(cause, RevisionNotFoundError):
                # a dry run against a branch still to be made: it would start from main
                meta = self.call("reading", info, "main")
            else:
                raise
        tree = self.call("listing files", lambda: list(self.api.list_repo_tree(
            self.repo_id, repo_type=self.repo_type, revision=meta.sha, recursive=True)))
        # An LFS file's blob_id is the id of its pointer; its content is named by the LFS sha256.
        files = {e.path: (e.lfs.sha256 if e.lfs else e.blob_id) for e in tree if isinstance(e, RepoFile)}
        readme = None
        if want_readme and "README.md" in files:
            with tempfile.TemporaryDirectory(prefix="dataigm-readme-") as tmp:
                path = self.call("downloading README.md", self.api.hf_hub_download, self.repo_id, "README.md",
                                 repo_type=self.repo_type, revision=meta.sha, cache_dir=tmp)
                readme = Path(path).read_text(encoding="utf-8")
        return RemoteState(True, meta.sha, files, bool(meta.private), bool(meta.gated), readme)

    # ------------------------------------------------------------------ writing
    def prepare(self, revision: str, private: bool) -> None:
        """Create the repo (and branch) when missing; both calls are no-ops when they exist."""
        self.call("creating", self.api.create_repo, self.repo_id, repo_type=self.repo_type,
                  private=private, exist_ok=True)
        if revision != "main":
            self.call("creating branch " + revision, self.api.create_branch, self.repo_id, branch=revision,
                      repo_type=self.repo_type, exist_ok=True)

    def apply_settings(self, plan: PublishPlan, remote: RemoteState) -> None:
        """Gate (and make private) before the commit, so gated content is never public."""
        if plan.private and not remote.private:
            self.call("making private", self.api.update_repo_settings, self.repo_id,
                      repo_type=self.repo_type, private=True)
        if plan.gated and not remote.gated:
            self.call("gating", self.api.update_repo_settings, self.repo_id, repo_type=self.repo_type,
                      gated="auto")

    def commit(self, plan: PublishPlan, message: str, description: str) -> tuple[str, int]:
        """The one commit; returns (sha, attempts).

        parent_commit pins the commit to the state the plan was computed from: if someone else
        committed meanwhile the Hub answers 412 and nothing is overwritten. When a retry meets a
        412, the earlier attempt may have gone through with its answer lost; the remote head is
        then compared with the plan and accepted if it is exactly what we meant to commit.
        """
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        attempts = 0

        def operations() -> list[Any]:
            ops: list[Any] = []
            # CommitOperationAdd hashes each file (sha256) when built: show progress on big folders.
            for f in tqdm(plan.uploads, desc="hashing files", unit="file", disable=len(plan.uploads) < 50):
                source = f.data if f.data is not None else str(f.local_path)
                ops.append(CommitOperationAdd(path_in_repo=f.path_in_repo, path_or_fileobj=source))
            ops += [CommitOperationDelete(path_in_repo=p) for p in plan.deletions]
            return ops

        def once() -> str:
            nonlocal attempts
            attempts += 1
            try:
                info = self.api.create_commit(
                    self.repo_id, operations=operations(), commit_message=message,
                    commit_description=description, repo_type=self.repo_type, revision=plan.revision,
                    parent_commit=plan.parent_sha)
                return str(info.oid)
            except Exception as exc:
                if _status(exc) == 412 and attempts > 1:
                    sha = self._already_applied(plan)
                    if sha is not None:
                        return sha
                raise

        sha = self.call("committing", once)
        return sha, attempts

    def _already_applied(self, plan: PublishPlan) -> str | None:
        remote = self.read_remote(plan.revision, want_readme=False, allow_missing=False)
        for f in plan.uploads:
            if remote.files.get(f.path_in_repo) not in content_ids(f):
                return None
        if any(p in remote.files for p in plan.deletions):
            return None
        return remote.sha


def execute(session: Session, build: Callable[[RemoteState], PublishPlan], *, revision: str, private: bool,
            dry_run: bool, want_readme: bool, message: str, description: str) -> PublishResult:
    """Shared flow of publish_dataset / publish_judge.

    Dry run: read-only calls (repo info, file list, README) to compute the exact plan; nothing is
    created, changed or committed. Otherwise: create repo/branch, read the remote, build the
    plan, set private/gated, commit once.
    """
    with http_timeout(session.retry.timeout):
        if dry_run:
            remote = session.read_remote(revision, want_readme, allow_missing=True)
            plan = build(remote)
            return _result(session, plan, None, 0, dry_run=True)
        session.prepare(revision, private)
        remote = session.read_remote(revision, want_readme, allow_missing=False)
        plan = build(remote)
        session.apply_settings(plan, remote)
        sha, attempts = session.commit(plan, message, description)
        return _result(session, plan, sha, attempts, dry_run=False)


def _result(session: Session, plan: PublishPlan, sha: str | None, attempts: int, dry_run: bool) -> PublishResult:
    return PublishResult(
        repo_id=plan.repo_id, repo_type=plan.repo_type, repo_url=session.repo_url, revision=plan.revision,
        commit_sha=sha, files_uploaded=sorted(f.path_in_repo for f in plan.uploads),
        files_deleted=sorted(plan.deletions), bytes_uploaded=plan.upload_bytes, gated=plan.gated,
        private=plan.private, dry_run=dry_run, attempts=attempts, plan=plan,
        changed=dry_run or sha != plan.parent_sha)
