"""`dataigm publish dataset|judge FOLDER --repo-id ORG/NAME`: upload to the Hugging Face Hub in one commit.

The token comes from HF_TOKEN or the huggingface_hub login (`hf auth login`); it is never printed.
"""

from __future__ import annotations

import argparse

from dataigm.errors import InputError


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser("publish", help="publish a dataset or judge folder to the Hugging Face Hub (one commit)",
                       description=__doc__)
    kinds = p.add_subparsers(dest="kind", metavar="KIND")
    kinds.required = True
    ds = kinds.add_parser("dataset", help="an exported dataset folder -> a Hub dataset repo")
    ds.add_argument("folder", metavar="DATASET", help="exported dataset folder (README.md + <config>/*.parquet)")
    ds.add_argument("--configs", default=None,
                    help="comma-separated configs to publish; the remote's other configs are kept")
    judge = kinds.add_parser("judge", help="an exported judge folder -> a Hub model repo")
    judge.add_argument("folder", metavar="JUDGE", help="finished judge folder (model.safetensors, config.json, "
                       "README.md, metrics, plots and the dataigm_judge.json marker: only these are uploaded)")
    judge.add_argument("--with-training-logs", action="store_true",
                       help="also upload training/ (Lightning CSV logs and train_config.json, local paths removed)")
    for q in (ds, judge):
        q.add_argument("--repo-id", required=True, help="ORG/NAME on the Hub")
        q.add_argument("--private", action="store_true", help="create (or make) the repo private")
        q.add_argument("--revision", default=None, help="branch to commit to (created from main if missing)")
        q.add_argument("--endpoint", default=None, help="Hub URL (default: HF_ENDPOINT or https://huggingface.co)")
        q.add_argument("--dry-run", action="store_true", help="list what would be uploaded/deleted; change nothing")
        q.add_argument("--no-gate", action="store_true",
                       help="do not gate the repo even if the card marks nsfw content")
        q.add_argument("--retries", type=int, default=5, help="attempts per Hub call on 5xx/timeouts (default 5)")
        q.add_argument("--retry-wait", type=float, default=1.0,
                       help="first wait between attempts in seconds, doubled each time (default 1)")
        q.add_argument("--timeout", type=float, default=300.0,
                       help="HTTP read/write timeout in seconds (default 300; 0 = none)")
        q.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataigm.publish import RetryPolicy, publish_dataset, publish_judge

    if args.retries < 1:
        raise InputError(f"--retries: must be at least 1, got {args.retries}")
    retry = RetryPolicy(attempts=args.retries, base_delay=max(0.0, args.retry_wait),
                        timeout=args.timeout if args.timeout and args.timeout > 0 else None)
    common = dict(private=args.private, revision=args.revision, endpoint=args.endpoint,
                  gate=False if args.no_gate else None, dry_run=args.dry_run, retry=retry)
    if args.kind == "dataset":
        configs = args.configs.split(",") if args.configs is not None else None
        result = publish_dataset(args.folder, args.repo_id, configs=configs, **common)
    else:
        result = publish_judge(args.folder, args.repo_id, training_logs=args.with_training_logs, **common)
    if result.dry_run:
        assert result.plan is not None
        print(result.plan.describe())
        print("dry run: nothing was uploaded")
        return 0
    gated = ", gated" if result.gated else ""
    if not result.changed:
        print(f"no change: {result.repo_url}@{result.revision} already has these files "
              f"(commit {result.commit_sha}{gated})")
        return 0
    print(f"published {len(result.files_uploaded)} file(s) ({result.bytes_uploaded:,d} bytes), "
          f"deleted {len(result.files_deleted)}, in commit {result.commit_sha} to {result.repo_url}"
          f"@{result.revision}{gated}")
    return 0
