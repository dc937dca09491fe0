"""Publishing dataset and judge folders through HfApi to the local Hub server, then reading them
back with the real clients (datasets, timm, huggingface_hub) the way users do."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import hubfixtures as hf
from dataigm.publish import RetryPolicy, publish_dataset, publish_judge
from dataigm.testing.hub_server import LocalHubServer, TokenInfo, git_blob_oid
from hubfixtures import loopback_only  # noqa: F401 - pytest fixture

TOKEN = "hf_TOPSECRET_dataigm_0123456789"
READ_TOKEN = "hf_readonly_dataigm_0123456789"
QUICK = RetryPolicy(attempts=3, base_delay=0.01)
REPO = "org/dataigm"


@pytest.fixture(autouse=True)
def _local_only(loopback_only: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", TOKEN)


@pytest.fixture
def hub(tmp_path: Path):  # type: ignore[no-untyped-def]
    with LocalHubServer(root=tmp_path / "hub", tokens={TOKEN: TokenInfo("alice"),
                                                       READ_TOKEN: TokenInfo("bob", write=False)}) as server:
        yield server


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hf.build_dataset_folder(tmp_path_factory.mktemp("export") / "dataset")


@pytest.fixture(scope="module")
def judge_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hf.build_judge_folder(tmp_path_factory.mktemp("judge") / "judge")


def _remote_card(hub: LocalHubServer, repo: str = REPO) -> dict:
    text = hub.read_file(repo, "README.md", "dataset").decode()
    return yaml.safe_load(text.split("---")[1])


def test_dataset_round_trip_through_datasets(hub: LocalHubServer, exported: Path, tmp_path: Path) -> None:
    result = publish_dataset(exported, REPO, endpoint=hub.url, retry=QUICK)

    local = hf.local_files_of(exported)
    assert sorted(result.files_uploaded) == sorted(local)
    assert result.commit_sha == hub.repo_sha(REPO, "dataset")
    assert result.repo_url == f"{hub.url}/datasets/{REPO}"
    assert len(hub.seen("POST", r"/commit/")) == 1  # one commit holds every file
    assert hub.repo_settings(REPO, "dataset")["commits"] == 2  # the repo's first commit + ours
    assert hub.repo_settings(REPO, "dataset")["gated"] == "auto"  # nudity is in the nsfw domain
    for path, file in local.items():
        assert hub.repo_files(REPO, "dataset")[path] == git_blob_oid(file.read_bytes())
    # parquet shards and PNGs went through the LFS batch API and lfsFile commit lines
    assert set(hub.repo_lfs_files(REPO, "dataset")) == {p for p in local if p.endswith((".parquet", ".png"))}
    assert hub.seen("PUT", r"^/__lfs/upload/") and hub.seen("POST", r"\.git/info/lfs/objects/verify$")

    env = {**hub.client_env(tmp_path / "hf_home"), "HF_TOKEN": TOKEN}
    got = hf.run_client('''
        import hashlib, io
        from datasets import load_dataset
        from huggingface_hub import DatasetCard, HfApi, hf_hub_download
        def pix(img):
            return hashlib.sha256(img.convert("RGB").tobytes()).hexdigest()
        for cfg in ["object_church", "nudity"]:
            dd = load_dataset("org/dataigm", cfg)
            RESULT[cfg] = {split: {"id": list(ds["id"]), "label": list(ds["label"]),
                                   "pix": [pix(r["image"]) for r in ds]} for split, ds in dd.items()}
            RESULT[cfg + ":names"] = dd["train"].features["label"].names
        RESULT["prompts"] = list(load_dataset("org/dataigm", "prompts", split="train")["prompt_id"])
        stream = load_dataset("org/dataigm", "nudity", split="validation", streaming=True)
        RESULT["stream"] = [[r["id"], r["label"], pix(r["image"])] for r in stream]
        card = DatasetCard.load(hf_hub_download("org/dataigm", "README.md", repo_type="dataset"))
        RESULT["card_configs"] = {c["config_name"]: [f["path"] for f in c["data_files"]] for c in card.data.configs}
        RESULT["remote_files"] = HfApi().list_repo_files("org/dataigm", repo_type="dataset")
    ''', env)

    for concept, names in hf.LABELS.items():
        assert got[f"{concept}:names"] == names
        for split, n in hf.SPLITS.items():
            rows = hf.concept_rows(concept, split, n)
            assert got[concept][split]["id"] == [r["id"] for r in rows]
            assert got[concept][split]["label"] == [r["label"] for r in rows]
            assert got[concept][split]["pix"] == [hf.pixel_sha(r["image"]["bytes"]) for r in rows]
    assert got["prompts"] == [f"{c}-{i}" for c in hf.LABELS for i in range(3)]
    want_stream = [[r["id"], r["label"], hf.pixel_sha(r["image"]["bytes"])]
                   for r in hf.concept_rows("nudity", "validation", 2)]
    assert got["stream"] == want_stream
    # the card's configs match the files on the server: every glob matches, every parquet is covered
    from dataigm.publish.cards import matching
    parquet = {p for p in got["remote_files"] if p.endswith(".parquet")}
    assert set(got["card_configs"]) == {"object_church", "nudity", "prompts"}
    for patterns in got["card_configs"].values():
        assert all(matching(parquet, [p]) for p in patterns)
    assert matching(parquet, [p for ps in got["card_configs"].values() for p in ps]) == parquet
    # datasets' optional probe of the dataset viewer (HF_ENDPOINT with "datasets-server." prefixed)
    # is the only lookup it attempts besides 127.0.0.1, and the guard refused it
    assert set(got["_blocked"]) <= {"datasets-server.127.0.0.1"}
    assert {r.client for r in hub.requests} == {"127.0.0.1"}
    assert hub.seen("GET", r"/resolve/[0-9a-f]{40}/nudity/validation-")  # the client read through the server


def test_judge_round_trip_through_timm(hub: LocalHubServer, judge_dir: Path, tmp_path: Path) -> None:
    result = publish_judge(judge_dir, "org/judge", endpoint=hub.url, retry=QUICK)
    assert sorted(result.files_uploaded) == ["README.md", "config.json", "dataigm_judge.json", "metrics.json",
                                             "model.safetensors", "roc.png"]
    assert result.gated is False and hub.repo_settings("org/judge")["gated"] is False
    assert len(hub.seen("POST", r"/commit/")) == 1

    got = hf.run_client(f'''
        import torch, timm
        from huggingface_hub import ModelCard, hf_hub_download
        torch.manual_seed(0)
        x = torch.randn(3, 3, 32, 32)
        hub_model = timm.create_model("hf-hub:org/judge", pretrained=True).eval()
        local_model = timm.create_model("local-dir:{judge_dir}", pretrained=True).eval()
        with torch.no_grad():
            a, b = hub_model(x), local_model(x)
        RESULT["equal"] = bool(torch.equal(a, b))
        RESULT["shape"] = list(a.shape)
        RESULT["labels"] = hub_model.pretrained_cfg.get("label_names")
        card = ModelCard.load(hf_hub_download("org/judge", "README.md"))
        RESULT["library"] = card.data.library_name
    ''', hub.client_env(tmp_path / "hf_home"))
    assert got["equal"] and got["shape"] == [3, 1]
    assert got["labels"] == ["safe", "nude"] and got["library"] == "timm"
    assert got["_blocked"] == []
    # binary files went up through LFS, text files inline, as on the real Hub
    weights_sha = hashlib.sha256((judge_dir / "model.safetensors").read_bytes()).hexdigest()
    assert hub.repo_lfs_files("org/judge") == {
        "model.safetensors": weights_sha,
        "roc.png": hashlib.sha256((judge_dir / "roc.png").read_bytes()).hexdigest()}
    assert hub.seen("HEAD", r"^/org/judge/resolve/main/model.safetensors$")
    assert hub.seen("GET", rf"^/__lfs/objects/{weights_sha}$")  # timm read the weights from the "CDN"


def test_update_one_config_keeps_the_others(hub: LocalHubServer, exported: Path, tmp_path: Path) -> None:
    first = publish_dataset(exported, REPO, endpoint=hub.url, retry=QUICK)
    before = hub.repo_files(REPO, "dataset")
    v2 = hf.build_dataset_folder(tmp_path / "v2", version=2, train_shards=2)
    card = (v2 / "README.md").read_text()
    header = yaml.safe_load(card.split("---")[1])
    for info in header["dataset_info"]:  # markers that tell which side a merged entry came from
        info["download_size"] = 222 if info["config_name"] == "nudity" else 999
    (v2 / "README.md").write_text("---\n" + yaml.safe_dump(header, sort_keys=False) + "---\n" + card.split("---", 2)[2])

    result = publish_dataset(v2, REPO, endpoint=hub.url, configs=["nudity"], retry=QUICK)

    after = hub.repo_files(REPO, "dataset")
    assert result.commit_sha != first.commit_sha and len(hub.seen("POST", r"/commit/")) == 2
    assert result.files_deleted == ["nudity/train-00000-of-00001.parquet"]
    assert sorted(result.files_uploaded) == ["README.md", "contact_sheets/nudity.png",
                                             "nudity/test-00000-of-00001.parquet",
                                             "nudity/train-00000-of-00002.parquet",
                                             "nudity/train-00001-of-00002.parquet",
                                             "nudity/validation-00000-of-00001.parquet"]
    kept = {p: o for p, o in before.items() if not p.startswith("nudity/") and p not in
            ("README.md", "contact_sheets/nudity.png")}
    assert {p: after[p] for p in kept} == kept  # object_church, prompts, its sheet: untouched
    for path in result.files_uploaded[1:]:
        assert after[path] == git_blob_oid((v2 / path).read_bytes())
    merged = _remote_card(hub)
    assert [c["config_name"] for c in merged["configs"]] == ["object_church", "nudity", "prompts"]
    assert [c.get("default", False) for c in merged["configs"]] == [True, False, False]
    sizes = {i["config_name"]: i.get("download_size") for i in merged["dataset_info"]}
    assert sizes == {"object_church": None, "nudity": 222}
    assert merged["dataigm"]["version"] == 2

    # what users get: the merged repo loads, old object_church rows and new nudity rows
    import datasets
    from huggingface_hub import snapshot_download
    snap = snapshot_download(REPO, repo_type="dataset", endpoint=hub.url, local_dir=tmp_path / "snap")
    cache = tmp_path / "ds_cache"
    nudity = datasets.load_dataset(snap, "nudity", cache_dir=str(cache))
    church = datasets.load_dataset(snap, "object_church", cache_dir=str(cache))
    assert sorted(nudity["train"]["id"]) == sorted(r["id"] for r in hf.concept_rows("nudity", "train", 4, version=2))
    assert list(church["test"]["id"]) == [r["id"] for r in hf.concept_rows("object_church", "test", 2)]


def test_full_republish_removes_stale_shards_and_branch_publish(hub: LocalHubServer, exported: Path,
                                                               tmp_path: Path) -> None:
    publish_dataset(exported, REPO, endpoint=hub.url, retry=QUICK)
    v2 = hf.build_dataset_folder(tmp_path / "v2", concepts=("object_church",), version=2, train_shards=2)
    main_sha = hub.repo_sha(REPO, "dataset")
    on_dev = publish_dataset(v2, REPO, endpoint=hub.url, revision="dev", retry=QUICK)
    assert hub.repo_sha(REPO, "dataset") == main_sha  # main untouched
    dev = hub.repo_files(REPO, "dataset", revision="dev")
    assert on_dev.commit_sha == hub.repo_sha(REPO, "dataset", "dev")
    assert not any(p.startswith("nudity/") or p == "contact_sheets/nudity.png" for p in dev)
    assert "object_church/train-00000-of-00001.parquet" not in dev
    assert "object_church/train-00001-of-00002.parquet" in dev and ".gitattributes" in dev
    assert [c["config_name"] for c in yaml.safe_load(
        hub.read_file(REPO, "README.md", "dataset", "dev").decode().split("---")[1])["configs"]] == \
        ["object_church", "prompts"]


def test_gating_follows_the_card_and_no_gate(hub: LocalHubServer, exported: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    safe = hf.build_dataset_folder(tmp_path / "safe", concepts=("object_church",))
    assert publish_dataset(safe, "org/safe", endpoint=hub.url, retry=QUICK).gated is False
    assert hub.repo_settings("org/safe", "dataset")["gated"] is False
    code, out, err = cli("publish", "dataset", exported, "--repo-id", "org/ungated", "--endpoint", hub.url,
                         "--no-gate", "--retry-wait", "0.01")
    assert code == 0, err
    assert hub.repo_settings("org/ungated", "dataset")["gated"] is False
    assert not hub.seen("PUT", r"/settings$")
    flagged = hf.build_dataset_folder(tmp_path / "flagged", concepts=("object_church",), gated_header=True)
    assert publish_dataset(flagged, "org/flagged", endpoint=hub.url, retry=QUICK).gated is True
    assert hub.repo_settings("org/flagged", "dataset")["gated"] == "auto"
    # gating comes before the commit, so the content is never public ungated
    order = [(r.method, r.path) for r in hub.requests if "org/flagged" in r.path and r.method in ("PUT", "POST")]
    assert order.index(("PUT", "/api/datasets/org/flagged/settings")) < \
        order.index(("POST", "/api/datasets/org/flagged/commit/main"))


def test_dry_run_lists_files_and_changes_nothing(hub: LocalHubServer, exported: Path, cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("publish", "dataset", exported, "--repo-id", REPO, "--endpoint", hub.url, "--dry-run")
    assert code == 0, err
    for path, file in hf.local_files_of(exported).items():
        assert f"upload {file.stat().st_size:>12,d}  {path}" in out
    assert "create dataset repo org/dataigm@main (gated)" in out
    assert hub.repo_sha(REPO, "dataset") is None
    assert {r.method for r in hub.requests} <= {"GET", "HEAD"}

    publish_dataset(exported, REPO, endpoint=hub.url, retry=QUICK)
    sha, seen = hub.repo_sha(REPO, "dataset"), len(hub.requests)
    code, out, err = cli("publish", "judge", exported, "--repo-id", "org/j", "--endpoint", hub.url, "--dry-run")
    assert code == 2 and "not a finished dataigm judge" in err
    code, out, err = cli("publish", "dataset", exported, "--repo-id", REPO, "--endpoint", hub.url, "--dry-run",
                         "--configs", "nudity")
    assert code == 0, err
    assert "update dataset repo org/dataigm@main (gated): 5 file(s)" in out and "0 to delete" in out
    assert not any(line.startswith("delete ") for line in out.splitlines())
    assert hub.repo_sha(REPO, "dataset") == sha
    assert {r.method for r in hub.requests[seen:]} <= {"GET", "HEAD"}


def test_token_never_printed_or_written(hub: LocalHubServer, exported: Path, judge_dir: Path, tmp_path: Path,
                                        cli) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "ds"
    shutil.copytree(exported, folder)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HF_")}, "HF_TOKEN": TOKEN,
           "HF_HOME": str(tmp_path / "hf_home"), "HF_HUB_DISABLE_XET": "1"}

    def dataigm(*args: object) -> subprocess.CompletedProcess[str]:
        # a separate process, so everything it prints at the file-descriptor level is captured
        return subprocess.run([sys.executable, "-m", "dataigm", "publish", *map(str, args), "--endpoint", hub.url,
                               "--retry-wait", "0.01"], env=env, capture_output=True, text=True, timeout=120)

    outputs = []
    for args in (("dataset", folder, "--repo-id", REPO), ("judge", judge_dir, "--repo-id", "org/judge")):
        proc = dataigm(*args)
        assert proc.returncode == 0, proc.stderr
        outputs += [proc.stdout, proc.stderr]
    code, out, err = cli("publish", "dataset", folder, "--repo-id", REPO, "--configs", "nudity", "--dry-run",
                         "--endpoint", hub.url)
    assert code == 0, err
    outputs += [out, err]
    proc = dataigm("dataset", folder, "--repo-id", REPO)  # same files again: nothing to commit
    assert proc.returncode == 0 and "no change" in proc.stdout
    outputs += [proc.stdout, proc.stderr]
    (folder / "README.md").write_text((folder / "README.md").read_text() + "\nMore text.\n")
    hub.add_fault(method="POST", path=r"/commit/", status=500, times=None)
    proc = dataigm("dataset", folder, "--repo-id", REPO, "--retries", "2")
    assert proc.returncode == 2
    outputs += [proc.stdout, proc.stderr]
    assert all(TOKEN not in text for text in outputs)
    assert "published 10 file(s)" in outputs[0]
    written = [p for p in tmp_path.rglob("*") if p.is_file()] + [p for p in judge_dir.rglob("*") if p.is_file()]
    assert any(p.parent.name == "blobs" for p in written)  # the remote copies (cards included) are checked too
    for path in written:
        assert TOKEN.encode() not in path.read_bytes(), path
    assert all(r.authenticated for r in hub.seen("POST"))


def test_transient_500s_and_timeouts_are_retried(hub: LocalHubServer, exported: Path) -> None:
    commit_fault = hub.add_fault(method="POST", path=r"/commit/", nth=1, times=1, status=500)
    result = publish_dataset(exported, REPO, endpoint=hub.url, retry=QUICK)
    assert commit_fault.fired == 1 and result.attempts == 2
    assert [r.status for r in hub.seen("POST", r"/commit/")] == [500, 200]
    assert result.commit_sha == hub.repo_sha(REPO, "dataset")

    hub.add_fault(method="POST", path=r"/preupload/", nth=1, times=1, status=502)
    v2 = hf.build_dataset_folder(Path(str(exported) + "-v2"), version=2)
    second = publish_dataset(v2, REPO, endpoint=hub.url, retry=QUICK)
    assert [r.status for r in hub.seen("POST", r"/preupload/")][-2:] == [502, 200]
    assert second.commit_sha == hub.repo_sha(REPO, "dataset") != result.commit_sha

    # a commit answered too slowly times out client side and is sent again; the late first one is
    # then refused by the server (its parent is no longer the head), so exactly one lands
    hub.add_fault(method="POST", path=r"/commit/", nth=1, times=1, status=None, delay=1.6)
    v3 = hf.build_dataset_folder(Path(str(exported) + "-v3"), version=3)
    third = publish_dataset(v3, REPO, endpoint=hub.url,
                            retry=RetryPolicy(attempts=3, base_delay=0.01, timeout=0.8))
    assert third.attempts == 2 and third.commit_sha == hub.repo_sha(REPO, "dataset")
    deadline = time.monotonic() + 5
    while hub.seen("POST", r"/commit/")[-2].status == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [r.status for r in hub.seen("POST", r"/commit/")][-2:] == [412, 200]
    assert hub.read_file(REPO, "nudity/test-00000-of-00001.parquet", "dataset") == \
        (v3 / "nudity/test-00000-of-00001.parquet").read_bytes()


def test_persistent_failure_leaves_remote_and_local_unchanged(hub: LocalHubServer, exported: Path,
                                                              tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    publish_dataset(exported, REPO, endpoint=hub.url, retry=QUICK)
    sha, files = hub.repo_sha(REPO, "dataset"), hub.repo_files(REPO, "dataset")
    v2 = hf.build_dataset_folder(tmp_path / "v2", version=2, train_shards=2)
    local_before = hf.tree_hash(v2)
    hub.add_fault(method="POST", path=r"/commit/", status=500, times=None)
    code, out, err = cli("publish", "dataset", v2, "--repo-id", REPO, "--endpoint", hub.url,
                         "--retries", "3", "--retry-wait", "0.01")
    assert code == 2
    line = err.strip().splitlines()[-1]
    assert line.startswith("dataigm: error: committing for dataset repo org/dataigm on http://127.0.0.1:")
    assert "kept failing (HTTP 500) after 3 attempt(s)" in line and "unchanged" in line
    assert len(hub.seen("POST", r"/commit/")) == 1 + 3
    assert hub.repo_sha(REPO, "dataset") == sha and hub.repo_files(REPO, "dataset") == files
    assert hf.tree_hash(v2) == local_before


def test_auth_and_not_found_errors_are_one_line(hub: LocalHubServer, exported: Path, monkeypatch,
                                                cli) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_TOKEN", "hf_wrong_token_000")
    code, out, err = cli("publish", "dataset", exported, "--repo-id", REPO, "--endpoint", hub.url)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "401 Unauthorized" in err and "org/dataigm" in err and hub.url in err
    assert "hf_wrong_token_000" not in err

    monkeypatch.setenv("HF_TOKEN", READ_TOKEN)
    code, out, err = cli("publish", "judge", exported.parent, "--repo-id", "org/j", "--endpoint", hub.url)
    assert code == 2 and "not a finished dataigm judge" in err  # bad folder is caught before any request
    code, out, err = cli("publish", "dataset", exported, "--repo-id", REPO, "--endpoint", hub.url)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "403 Forbidden" in err
    assert hub.repo_sha(REPO, "dataset") is None

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    code, out, err = cli("publish", "dataset", exported, "--repo-id", REPO, "--endpoint", hub.url + "/not-a-hub")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "404 Not Found" in err and "/not-a-hub" in err
    hub.add_fault(method="GET", path=r"^/api/datasets/org/dataigm/revision/", status=404,
                  headers={"X-Error-Code": "RepoNotFound"}, body={"error": "Repository not found"})
    code, out, err = cli("publish", "dataset", exported, "--repo-id", REPO, "--endpoint", hub.url)
    assert code == 2 and "repository not found (404)" in err and len(err.strip().splitlines()) == 1
    assert not hub.seen("POST", r"/commit/")


def test_bad_folders_and_flags(tmp_path: Path, exported: Path, judge_dir: Path, cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("publish", "dataset", tmp_path / "nope", "--repo-id", REPO, "--dry-run")
    assert code == 2 and "dataset folder not found" in err
    code, _, err = cli("publish", "dataset", exported, "--repo-id", REPO, "--configs", "church,nudity", "--dry-run")
    assert code == 2 and "--configs: church not in" in err
    code, _, err = cli("publish", "dataset", exported, "--repo-id", "no-namespace", "--dry-run")
    assert code == 2 and "ORG/NAME" in err
    unfinished = tmp_path / "judge"
    shutil.copytree(judge_dir, unfinished)
    (unfinished / "dataigm_judge.json").unlink()
    code, _, err = cli("publish", "judge", unfinished, "--repo-id", "org/j", "--dry-run")
    assert code == 2 and "not a finished dataigm judge (dataigm_judge.json missing" in err
    broken = tmp_path / "broken"
    shutil.copytree(exported, broken)
    (broken / "README.md").write_text("---\nconfigs:\n- config_name: x\n  data_files: x/train-*\n---\n")
    code, _, err = cli("publish", "dataset", broken, "--repo-id", REPO, "--dry-run")
    assert code == 2 and "config 'x': data_files pattern 'x/train-*' matches no file" in err
