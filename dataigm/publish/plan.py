"""What a publish will do (the plan) and what it did (the result): plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class PlannedFile:
    """One file of the commit: its path in the repo, its size, and where its bytes come from."""

    path_in_repo: str
    size: int
    local_path: Path | None = None  # a file of the local folder, uploaded as is
    data: bytes | None = None  # generated content (a merged README.md)


@dataclass
class PublishPlan:
    """The single commit a publish makes, plus the repo settings it needs."""

    repo_id: str
    repo_type: str  # "dataset" | "model"
    revision: str
    uploads: list[PlannedFile]
    deletions: list[str]
    gated: bool  # the repo is to be gated before the commit
    private: bool
    repo_exists: bool
    parent_sha: str | None  # head of `revision` the plan was computed from
    configs: list[str] | None = None  # configs published (dataset, --configs); None = everything

    @property
    def upload_bytes(self) -> int:
        return sum(f.size for f in self.uploads)

    def describe(self) -> str:
        """Human-readable listing: one line per file (sizes in bytes), then a summary line."""
        lines = []
        for f in sorted(self.uploads, key=lambda f: f.path_in_repo):
            lines.append(f"upload {f.size:>12,d}  {f.path_in_repo}")
        for path in sorted(self.deletions):
            lines.append(f"delete {'':>12}  {path}")
        what = "create" if not self.repo_exists else "update"
        settings = [s for s, on in (("private", self.private), ("gated", self.gated)) if on]
        lines.append(
            f"{what} {self.repo_type} repo {self.repo_id}@{self.revision}"
            f"{' (' + ', '.join(settings) + ')' if settings else ''}: "
            f"{len(self.uploads)} file(s), {self.upload_bytes:,d} bytes to upload, "
            f"{len(self.deletions)} to delete, in one commit"
        )
        return "\n".join(lines)


@dataclass
class PublishResult:
    """What `publish_dataset` / `publish_judge` did (or, with dry_run, would do)."""

    repo_id: str
    repo_type: str
    repo_url: str
    revision: str
    commit_sha: str | None  # None for a dry run
    files_uploaded: list[str]
    files_deleted: list[str]
    bytes_uploaded: int
    gated: bool
    private: bool
    dry_run: bool
    attempts: int = 0  # commit attempts (1 when the first one went through)
    changed: bool = True  # False when the remote already had exactly these files (no new commit)
    plan: PublishPlan | None = field(default=None, repr=False)
