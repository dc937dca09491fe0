"""`publish_judge`: an exported judge folder (ARCHITECTURE.md, "Judge folder") to a Hub model repo.

The folder is mirrored in one commit: every local file (hidden ones excepted) is uploaded and
remote files the folder no longer has are deleted (`.gitattributes` excepted), so an old weight
file can never shadow the new one. The result loads with
`timm.create_model("hf-hub:ORG/NAME", pretrained=True)`.
"""

from __future__ import annotations

import json
from pathlib import Path

from dataigm.errors import InputError
from dataigm.publish.cards import local_files, read_card, wants_gate
from dataigm.publish.dataset import _check_repo_id
from dataigm.publish.hub import RemoteState, RetryPolicy, Session, execute, resolve_token
from dataigm.publish.plan import PlannedFile, PublishPlan, PublishResult

_REQUIRED = ("model.safetensors", "config.json", "README.md")
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
_KEEP_REMOTE = {".gitattributes"}


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
) -> PublishResult:
    """Publish an exported judge folder to the Hub model repo `repo_id`, in one commit."""
    folder = Path(judge_dir)
    if not folder.is_dir():
        raise InputError(f"{folder}: judge folder not found")
    _check_repo_id(repo_id)
    for name in _REQUIRED:
        if not (folder / name).is_file():
            raise InputError(f"{folder / name}: missing (a judge folder has {', '.join(_REQUIRED)})")
    files = local_files(folder)
    pickles = [p for p in files if p.endswith(_PICKLE_SUFFIXES)]
    if pickles:
        raise InputError(f"{folder / pickles[0]}: pickled weights are not published; a judge folder carries "
                         "weights only as model.safetensors")
    config = _read_config(folder / "config.json")
    header, _ = read_card((folder / "README.md").read_text(encoding="utf-8"), str(folder / "README.md"), "model")
    revision = revision or "main"

    def build(remote: RemoteState) -> PublishPlan:
        uploads = [PlannedFile(p, f.stat().st_size, local_path=f) for p, f in files.items()]
        stale = set(remote.files) - set(files) - _KEEP_REMOTE
        gated = (wants_gate(header, taxonomy=False) or _asks_gate(config)) if gate is None else gate
        return PublishPlan(repo_id=repo_id, repo_type="model", revision=revision, uploads=uploads,
                           deletions=sorted(stale), gated=gated, private=private, repo_exists=remote.exists,
                           parent_sha=remote.sha)

    session = Session(repo_id, "model", endpoint, resolve_token(token, required=not dry_run), retry or RetryPolicy())
    concept = (config.get("dataigm") or {}).get("concept", "")
    return execute(session, build, revision=revision, private=private, dry_run=dry_run, want_readme=False,
                   message=commit_message or f"dataigm: publish judge{' for ' + concept if concept else ''}",
                   description=f"Published with dataigm from {folder.name}/.")


def _read_config(path: Path) -> dict:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise InputError(f"{path}: expected a JSON object")
    for key in ("architecture", "num_classes"):
        if key not in config:
            raise InputError(f"{path}: missing '{key}' (timm's save_for_hf writes it)")
    return config


def _asks_gate(config: dict) -> bool:
    """A judge's config.json may ask for a gated repo: `"dataigm": {"gated": true}`."""
    block = config.get("dataigm") or {}
    return isinstance(block, dict) and block.get("gated") is True
