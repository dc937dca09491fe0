"""The local Hub server answers huggingface_hub's real client calls like the Hub does."""

from __future__ import annotations

import hashlib
import re
import time

import httpx2
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, HfFileSystem, hf_hub_download
from huggingface_hub.errors import (EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError,
                                    RevisionNotFoundError)

from pathlib import Path

from dataigm.testing.hub_server import LocalHubServer, TokenInfo, git_blob_oid, lfs_pointer
from hubfixtures import loopback_only  # noqa: F401 - pytest fixture

TOKEN = "hf_server_test_write"
BINARY = bytes(range(256)) * 4  # a NUL byte in the sample: the Hub stores it through LFS
BINARY_SHA = hashlib.sha256(BINARY).hexdigest()
READ_TOKEN = "hf_server_test_read"


@pytest.fixture(autouse=True)
def _local_only(loopback_only: list[str]) -> None:
    """Every test here talks to the local server only (see hubfixtures.loopback_only)."""


@pytest.fixture
def hub(tmp_path):  # type: ignore[no-untyped-def]
    server = LocalHubServer(root=tmp_path / "hub", tokens={TOKEN: TokenInfo("alice"),
                                                           READ_TOKEN: TokenInfo("bob", write=False)},
                            tree_page_size=2)
    with server:
        yield server


def _api(hub: LocalHubServer, token: str | bool = TOKEN) -> HfApi:
    return HfApi(endpoint=hub.url, token=token)


def _seed_repo(hub: LocalHubServer) -> str:
    api = _api(hub)
    api.create_repo("org/ds", repo_type="dataset")
    ops = [CommitOperationAdd("README.md", b"---\nlicense: mit\n---\n# card\n"),
           CommitOperationAdd("a/b/c.txt", b"hello world"),
           CommitOperationAdd("a/d.bin", BINARY),
           CommitOperationAdd("e.txt", b"e")]
    return api.create_commit("org/ds", ops, commit_message="seed", repo_type="dataset").oid


def test_repo_create_commit_info_tree_and_downloads(hub: LocalHubServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    api = _api(hub)
    assert api.whoami()["name"] == "alice"
    sha = _seed_repo(hub)
    assert re.fullmatch(r"[0-9a-f]{40}", sha)
    with pytest.raises(HfHubHTTPError) as err:
        api.create_repo("org/ds", repo_type="dataset")
    assert err.value.response.status_code == 409
    assert api.create_repo("org/ds", repo_type="dataset", exist_ok=True).repo_id == "org/ds"

    info = api.dataset_info("org/ds", files_metadata=True)
    assert info.sha == sha and info.card_data["license"] == "mit"
    sizes = {s.rfilename: s.size for s in info.siblings}
    assert sizes == {".gitattributes": len(hub.read_file("org/ds", ".gitattributes", "dataset")),
                     "README.md": len(b"---\nlicense: mit\n---\n# card\n"), "a/b/c.txt": 11, "a/d.bin": 1024, "e.txt": 1}

    # recursive listing over pages of 2 entries (cursor pagination through the Link header)
    tree = list(api.list_repo_tree("org/ds", repo_type="dataset", recursive=True))
    assert sorted(e.path for e in tree) == [".gitattributes", "README.md", "a", "a/b", "a/b/c.txt", "a/d.bin",
                                            "e.txt"]
    assert len(hub.seen("GET", r"/tree/")) >= 4
    assert {e.path: e.blob_id for e in tree if hasattr(e, "blob_id")}["a/b/c.txt"] == git_blob_oid(b"hello world")
    # the binary file went through LFS (batch, PUT, verify, lfsFile) and is listed like on the Hub
    assert hub.repo_lfs_files("org/ds", "dataset") == {"a/d.bin": BINARY_SHA}
    assert [r.status for r in hub.seen("POST", r"\.git/info/lfs/objects/batch$")] == [200]
    assert [r.status for r in hub.seen("PUT", r"^/__lfs/upload/")] == [200]
    assert [r.status for r in hub.seen("POST", r"\.git/info/lfs/objects/verify$")] == [200]
    lfs_entry = {e.path: e for e in tree if hasattr(e, "blob_id")}["a/d.bin"]
    assert lfs_entry.lfs.sha256 == BINARY_SHA and lfs_entry.size == 1024
    assert lfs_entry.blob_id == git_blob_oid(lfs_pointer(BINARY_SHA, 1024))
    assert {s.rfilename: s.lfs for s in info.siblings}["a/d.bin"].sha256 == BINARY_SHA
    assert [e.path for e in api.list_repo_tree("org/ds", "a", repo_type="dataset")] == ["a/b", "a/d.bin"]
    paths = api.get_paths_info("org/ds", ["a", "e.txt", "missing"], repo_type="dataset")
    assert [(p.path, type(p).__name__) for p in paths] == [("a", "RepoFolder"), ("e.txt", "RepoFile")]

    local = hf_hub_download("org/ds", "a/b/c.txt", repo_type="dataset", endpoint=hub.url,
                            cache_dir=tmp_path / "cache")
    assert open(local, "rb").read() == b"hello world"
    assert f"/snapshots/{sha}/" in local

    fs = HfFileSystem(endpoint=hub.url, token=TOKEN, skip_instance_cache=True)
    with fs.open("datasets/org/ds/a/d.bin", "rb", block_size=16) as fh:
        fh.seek(1000)
        assert fh.read(10) == BINARY[1000:1010]
    # ranged reads of an LFS file: resolve redirects, the object URL answers the range
    assert {r.status for r in hub.seen("GET", r"/resolve/main/a/d.bin$")} == {302}
    ranged = [r for r in hub.seen("GET", r"^/__lfs/objects/") if "Range" in r.headers or "range" in r.headers]
    assert ranged and all(r.status == 206 for r in ranged)
    lfs_local = hf_hub_download("org/ds", "a/d.bin", repo_type="dataset", endpoint=hub.url,
                                cache_dir=tmp_path / "cache")
    assert open(lfs_local, "rb").read() == BINARY and BINARY_SHA in str(Path(lfs_local).resolve())
    assert {r.client for r in hub.requests} == {"127.0.0.1"}


def test_resolve_headers_ranges_and_error_codes(hub: LocalHubServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    sha = _seed_repo(hub)
    url = f"{hub.url}/datasets/org/ds/resolve/main/a/b/c.txt"
    head = httpx2.head(url)
    assert head.status_code == 200
    assert head.headers["X-Repo-Commit"] == sha
    assert head.headers["ETag"] == f'"{git_blob_oid(b"hello world")}"'
    assert head.headers["Content-Length"] == "11"
    part = httpx2.get(url, headers={"Range": "bytes=-4"})
    assert part.status_code == 206 and part.content == b"orld"
    assert part.headers["Content-Range"] == "bytes 7-10/11"
    assert httpx2.get(url, headers={"Range": "bytes=2000-"}).status_code == 416
    # an LFS file: a redirect that names the content's sha256 and size, as the Hub's does
    lfs_url = f"{hub.url}/datasets/org/ds/resolve/main/a/d.bin"
    head = httpx2.head(lfs_url)
    assert head.status_code == 302 and head.headers["X-Repo-Commit"] == sha
    assert head.headers["X-Linked-Etag"] == f'"{BINARY_SHA}"' and head.headers["X-Linked-Size"] == "1024"
    assert head.headers["Location"] == f"{hub.cdn_url}/__lfs/objects/{BINARY_SHA}"
    part = httpx2.get(lfs_url, headers={"Range": "bytes=-4"}, follow_redirects=True)
    assert part.status_code == 206 and part.content == bytes(range(252, 256))
    assert part.headers["Content-Range"] == "bytes 1020-1023/1024"

    missing = httpx2.head(f"{hub.url}/datasets/org/ds/resolve/main/nope.txt")
    assert (missing.status_code, missing.headers["X-Error-Code"]) == (404, "EntryNotFound")
    no_repo = httpx2.head(f"{hub.url}/datasets/org/none/resolve/main/x")
    assert no_repo.headers["X-Error-Code"] == "RepoNotFound"

    cache = tmp_path / "cache"
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("org/ds", "nope.txt", repo_type="dataset", endpoint=hub.url, cache_dir=cache)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("org/none", "x", repo_type="dataset", endpoint=hub.url, cache_dir=cache)
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download("org/ds", "e.txt", repo_type="dataset", revision="nobranch", endpoint=hub.url,
                        cache_dir=cache)


def test_commit_is_atomic_and_pins_parent(hub: LocalHubServer) -> None:
    sha = _seed_repo(hub)
    api = _api(hub)
    before = hub.repo_files("org/ds", "dataset")
    # one good addition and one bad deletion: the whole commit is refused
    with pytest.raises(EntryNotFoundError):
        api.create_commit("org/ds", [CommitOperationAdd("new.txt", b"new"), CommitOperationDelete("absent.txt")],
                          commit_message="bad", repo_type="dataset")
    assert hub.repo_sha("org/ds", "dataset") == sha and hub.repo_files("org/ds", "dataset") == before

    second = api.create_commit("org/ds", [CommitOperationDelete("a/"), CommitOperationAdd("f.txt", b"f")],
                               commit_message="ok", repo_type="dataset", parent_commit=sha).oid
    assert second != sha
    assert sorted(hub.repo_files("org/ds", "dataset")) == [".gitattributes", "README.md", "e.txt", "f.txt"]
    # parent_commit no longer the head: 412, nothing applied
    with pytest.raises(HfHubHTTPError) as err:
        api.create_commit("org/ds", [CommitOperationAdd("g.txt", b"g")], commit_message="stale",
                          repo_type="dataset", parent_commit=sha)
    assert err.value.response.status_code == 412
    assert hub.repo_sha("org/ds", "dataset") == second


def test_tokens_auth_and_recorded_headers(hub: LocalHubServer) -> None:
    with pytest.raises(HfHubHTTPError) as err:
        _api(hub, token=False).create_repo("org/x")
    assert err.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as err:
        _api(hub, token="hf_not_a_token").create_repo("org/x")
    assert err.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as err:
        _api(hub, token=READ_TOKEN).create_repo("org/x")
    assert err.value.response.status_code == 403
    assert _api(hub, token=READ_TOKEN).whoami()["auth"]["accessToken"]["role"] == "read"
    assert all("authorization" not in {k.lower() for k in r.headers} for r in hub.requests)
    assert [r.authenticated for r in hub.seen("POST", "/api/repos/create")] == [False, True, True]
    assert hub.seen("POST", "/api/repos/create")[0].headers["user-agent"].startswith("unknown/None; hf_hub/")


def test_fault_injection_nth_delay_and_token(hub: LocalHubServer) -> None:
    api = _api(hub)
    rule = hub.add_fault(method="GET", path=r"^/api/whoami-v2$", nth=2, times=1, status=503)
    api.whoami()
    with pytest.raises(HfHubHTTPError) as err:
        api.whoami()
    assert err.value.response.status_code == 503
    api.whoami()
    assert rule.fired == 1 and [r.status for r in hub.seen("GET", "whoami")] == [200, 503, 200]

    hub.add_fault(path=r"^/api/repos/create$", delay=0.4, status=None)
    start = time.monotonic()
    api.create_repo("org/slow")
    assert time.monotonic() - start >= 0.4 and hub.repo_sha("org/slow") is not None

    hub.add_fault(token=TOKEN, path=r"/settings$", status=403, times=None)
    with pytest.raises(HfHubHTTPError) as err:
        api.update_repo_settings("org/slow", gated="auto")
    assert err.value.response.status_code == 403
    assert hub.repo_settings("org/slow")["gated"] is False


def test_branches_and_settings(hub: LocalHubServer) -> None:
    sha = _seed_repo(hub)
    api = _api(hub)
    api.create_branch("org/ds", branch="dev", repo_type="dataset")
    api.create_branch("org/ds", branch="dev", repo_type="dataset", exist_ok=True)
    dev = api.create_commit("org/ds", [CommitOperationAdd("dev.txt", b"d")], commit_message="dev",
                            repo_type="dataset", revision="dev").oid
    assert hub.repo_sha("org/ds", "dataset") == sha
    assert api.dataset_info("org/ds", revision="dev").sha == dev
    assert "dev.txt" in api.list_repo_files("org/ds", repo_type="dataset", revision="dev")
    assert "dev.txt" not in api.list_repo_files("org/ds", repo_type="dataset")
    assert {b.name for b in api.list_repo_refs("org/ds", repo_type="dataset").branches} == {"main", "dev"}
    api.update_repo_settings("org/ds", repo_type="dataset", gated="manual", private=True)
    assert api.dataset_info("org/ds").gated == "manual"
    # private now: anonymous readers are told the repo does not exist
    with pytest.raises(RepositoryNotFoundError):
        _api(hub, token=False).dataset_info("org/ds")
