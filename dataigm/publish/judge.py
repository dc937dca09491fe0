"""`publish_judge`: a finished judge folder (docs/CONTRACTS.md, "Judge folder") to a Hub model repo.

Only the judge goes up: the files its completion marker lists (weights, config.json, card,
metrics, plots) and the marker itself, each checked against the sha256 the marker recorded, in
one commit; remote files the judge no longer has are deleted (`.gitattributes` excepted), so an
old weight file can never shadow the new one. Training logs stay local unless asked for
(`training_logs=True`), and then go up without a local absolute path. The folder is locked
for the whole publish. The result loads with `timm.create_model("hf-hub:ORG/NAME", pretrained=True)`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dataigm.errors import InputError
from dataigm.judge_folder import CARD, TRAINING, JudgeFolder
from dataigm.publish.cards import local_files, read_card, wants_gate
from dataigm.publish.dataset import _check_repo_id
from dataigm.publish.hub import (RemoteState, RetryPolicy, Session, check_revision, execute,
                                 holding_folder_lock, resolve_token)
from dataigm.publish.plan import PlannedFile, PublishPlan, PublishResult

_KEEP_REMOTE = {".gitattributes"}
_TRAIN_CONFIG = "train_config.json"


@holding_folder_lock
def publish_judge(
    judge_dir: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    endpoint: str | None = None,
    token: str | None = None,
    gate: bool | None = None,
    dry_run: bool = False,
    retry: RetryPolicy | None = None,
    commit_message: str | None = None,
    training_logs: bool = False,
) -> PublishResult:
    """Publish a finished judge folder to the Hub model repo `repo_id`, in one commit."""
    folder = Path(judge_dir)
    if not folder.is_dir():
        raise InputError(f"{folder}: judge folder not found")
    _check_repo_id(repo_id)
    check_revision(revision)
    judge = JudgeFolder(folder)
    judge.require_finished()  # every judge file exactly as training wrote it
    config = judge.read_config()
    _check_loadable(folder)
    uploads = [PlannedFile(name, judge.path(name).stat().st_size, local_path=judge.path(name))
               for name in judge.judge_files()]
    if training_logs:
        uploads += training_log_files(judge)
    header, _ = read_card(judge.path(CARD).read_text(encoding="utf-8"), str(judge.path(CARD)), "model")
    revision = revision or "main"

    def build(remote: RemoteState) -> PublishPlan:
        stale = set(remote.files) - {f.path_in_repo for f in uploads} - _KEEP_REMOTE
        gated = (wants_gate(header, taxonomy=False) or _asks_gate(config)) if gate is None else gate
        return PublishPlan(repo_id=repo_id, repo_type="model", revision=revision, uploads=uploads,
                           deletions=sorted(stale), gated=gated, private=private, repo_exists=remote.exists,
                           parent_sha=remote.sha)

    session = Session(repo_id, "model", endpoint, resolve_token(token, required=not dry_run), retry or RetryPolicy())
    concept = (config.get("dataigm") or {}).get("concept", "")
    return execute(session, build, revision=revision, private=private, dry_run=dry_run, want_readme=False,
                   message=commit_message or f"dataigm: publish judge{' for ' + concept if concept else ''}",
                   description=f"Published with dataigm from {folder.name}/.")


def _check_loadable(folder: Path) -> None:
    """Load the judge as `dataigm judge` would (architecture, tensor shapes, finite weights) when
    the `train` extra is installed; without it, the marker's digests are the check."""
    try:
        from dataigm.detectors.export import load_network
    except ImportError:
        return
    load_network(folder)


def training_log_files(judge: JudgeFolder) -> list[PlannedFile]:
    """training/ as it may be published: the logs, and train_config.json with every local path
    reduced to its last component. A file that still names a local absolute path is refused."""
    training = judge.training_dir
    if not training.is_dir():
        raise InputError(f"{training}: no training logs to publish (the judge was not trained here)")
    local = _local_path_markers(judge.root)
    out: list[PlannedFile] = []
    for rel, path in local_files(training).items():
        data = path.read_bytes()
        if rel == _TRAIN_CONFIG:
            try:
                record = json.loads(data)
            except ValueError as exc:
                raise InputError(f"{path}: not valid JSON: {exc}") from None
            data = (json.dumps(_without_local_paths(record), indent=2, sort_keys=True) + "\n").encode()
        found = next((m for m in local if m.encode() in data), None)
        if found is not None:
            raise InputError(f"{path}: names the local path {found}; not published (remove it or publish "
                             "without training logs)")
        out.append(PlannedFile(f"{TRAINING}/{rel}", len(data), data=data))
    return out


def _local_path_markers(root: Path) -> list[str]:
    """Absolute paths of this machine that must never appear in a published file."""
    marks = {str(root.resolve().parent), str(Path.home()), os.getcwd()}
    return sorted((m for m in marks if len(m) > 1), key=len, reverse=True)


def _without_local_paths(value: Any) -> Any:
    """A JSON value with every absolute or home-relative path string cut to its last component."""
    if isinstance(value, dict):
        return {k: _without_local_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_local_paths(v) for v in value]
    if isinstance(value, str) and (os.path.isabs(value) or value.startswith("~")):
        return Path(value).name
    return value


def _asks_gate(config: dict) -> bool:
    """A judge's config.json may ask for a gated repo: `"dataigm": {"gated": true}`."""
    block = config.get("dataigm") or {}
    return isinstance(block, dict) and block.get("gated") is True
