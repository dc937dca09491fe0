"""`publish_dataset`: an exported dataset folder (docs/CONTRACTS.md, "Dataset folder") to a Hub dataset repo.

Full publish: every file of the folder (hidden ones excepted) in one commit; remote data files
(anything matched by a config's data_files, local or remote, and contact_sheets/) that the new
export no longer has are deleted in that same commit, so a re-export with fewer shards never
leaves stale shards for the `train-*` globs to pick up. Other remote files are kept.

`configs=[...]`: only those configs' shards (and contact sheets) are uploaded, their stale remote
shards deleted, everything else on the remote kept; README.md's `configs:` and `dataset_info:`
are merged (remote entries kept, the selected ones replaced by the local ones).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from dataigm.errors import InputError
from dataigm.publish.cards import (config_entries, data_file_patterns, local_files, matching,
                                   merge_per_config, read_card, with_header, single_default, wants_gate)
from dataigm.publish.hub import (RemoteState, RetryPolicy, Session, check_revision, execute,
                                 holding_folder_lock, resolve_token)
from dataigm.publish.plan import PlannedFile, PublishPlan, PublishResult

_CONTACT_SHEETS = "contact_sheets/"


@holding_folder_lock
def publish_dataset(
    dataset_dir: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    endpoint: str | None = None,
    token: str | None = None,
    configs: Sequence[str] | None = None,
    gate: bool | None = None,
    dry_run: bool = False,
    retry: RetryPolicy | None = None,
    commit_message: str | None = None,
) -> PublishResult:
    """Publish an exported dataset folder to the Hub dataset repo `repo_id`, in one commit.

    gate: None (default) gates the repo when the card asks for it (see `cards.wants_gate`: nsfw
    taxonomy, `extra_gated_*` keys); False never gates (`--no-gate`); True always gates.
    A gated or private remote repo is never made public again by a publish.
    """
    folder = Path(dataset_dir)
    readme_path = folder / "README.md"
    if not folder.is_dir():
        raise InputError(f"{folder}: dataset folder not found")
    if not readme_path.is_file():
        raise InputError(f"{readme_path}: missing (an exported dataset folder has a README.md card)")
    _check_repo_id(repo_id)
    check_revision(revision)
    local_text = readme_path.read_text(encoding="utf-8")
    local_header, _ = read_card(local_text, str(readme_path))
    local_configs = config_entries(local_header, str(readme_path))
    files = local_files(folder)
    for name, entry in local_configs.items():
        for pattern in data_file_patterns(entry):
            if not matching(files, [pattern]):
                raise InputError(f"{readme_path}: config '{name}': data_files pattern '{pattern}' matches no "
                                 f"file in {folder}")
    selected = _selected(configs, local_configs, readme_path)
    revision = revision or "main"

    def build(remote: RemoteState) -> PublishPlan:
        remote_header: dict = {}
        if selected is not None and remote.readme is not None:
            remote_header, _ = read_card(remote.readme, f"{repo_id}: remote README.md")
        remote_configs = {str(e.get("config_name")): e for e in remote_header.get("configs") or []
                          if isinstance(e, dict)}
        if selected is None:
            uploads = [PlannedFile(p, f.stat().st_size, local_path=f) for p, f in files.items()]
            header = local_header
            scope = list(local_configs.values()) + list(_remote_config_entries(remote, local_configs))
            owned = matching(remote.files, [p for e in scope for p in data_file_patterns(e)])
            owned |= {p for p in remote.files if p.startswith(_CONTACT_SHEETS)}
        else:
            chosen = [local_configs[n] for n in selected]
            paths = matching(files, [p for e in chosen for p in data_file_patterns(e)])
            paths |= {f"{_CONTACT_SHEETS}{n}.png" for n in selected if f"{_CONTACT_SHEETS}{n}.png" in files}
            header = dict(local_header)
            if remote_header:
                header["configs"] = single_default(
                    merge_per_config(remote_header.get("configs"), local_header.get("configs"), selected), selected)
                # the remote's gate form stays while its (possibly nsfw) configs stay
                for key, value in remote_header.items():
                    if key.startswith("extra_gated_") and key not in header:
                        header[key] = value
                if "dataset_info" in remote_header or "dataset_info" in local_header:
                    header["dataset_info"] = merge_per_config(
                        remote_header.get("dataset_info"), local_header.get("dataset_info"), selected)
            else:  # nothing on the remote yet: the card lists only what is uploaded
                header["configs"] = [local_configs[n] for n in selected]
                if isinstance(local_header.get("dataset_info"), list):
                    header["dataset_info"] = merge_per_config(None, local_header["dataset_info"], selected)
            _, card = read_card(local_text, str(readme_path))
            readme = with_header(card, header).encode("utf-8")
            uploads = [PlannedFile(p, files[p].stat().st_size, local_path=files[p]) for p in sorted(paths)]
            uploads.append(PlannedFile("README.md", len(readme), data=readme))
            scope = chosen + [remote_configs[n] for n in selected if n in remote_configs]
            owned = matching(remote.files, [p for e in scope for p in data_file_patterns(e)])
            owned |= {f"{_CONTACT_SHEETS}{n}.png" for n in selected} & set(remote.files)
        uploaded = {f.path_in_repo for f in uploads}
        return PublishPlan(
            repo_id=repo_id, repo_type="dataset", revision=revision, uploads=uploads,
            deletions=sorted(owned - uploaded), gated=wants_gate(header) if gate is None else gate,
            private=private, repo_exists=remote.exists, parent_sha=remote.sha,
            configs=list(selected) if selected is not None else None)

    session = Session(repo_id, "dataset", endpoint, resolve_token(token, required=not dry_run),
                      retry or RetryPolicy())
    what = ", ".join(selected) if selected is not None else "all configs"
    return execute(session, build, revision=revision, private=private, dry_run=dry_run,
                   want_readme=True, message=commit_message or f"dataigm: publish dataset ({what})",
                   description=f"Published with dataigm from {folder.name}/.")


def _remote_config_entries(remote: RemoteState, local_configs: dict) -> list[dict]:
    """Config entries of the remote card, for the full-publish cleanup (remote-only configs too)."""
    if remote.readme is None:
        return []
    header, _ = read_card(remote.readme, "remote README.md")
    return [e for e in header.get("configs") or [] if isinstance(e, dict) and data_file_patterns(e)]


def _selected(configs: Sequence[str] | None, local_configs: dict, readme: Path) -> list[str] | None:
    if configs is None:
        return None
    names = [c.strip() for c in configs if c.strip()]
    if not names:
        raise InputError("--configs: empty list of configs")
    unknown = [n for n in names if n not in local_configs]
    if unknown:
        raise InputError(f"--configs: {', '.join(unknown)} not in {readme} (configs there: "
                         f"{', '.join(local_configs)})")
    return list(dict.fromkeys(names))


def _check_repo_id(repo_id: str) -> None:
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(parts):
        raise InputError(f"--repo-id: '{repo_id}' is not of the form ORG/NAME")
