"""Reliability matrix for judges and the inputs around them: one test per promise, named after it.

README.md ("Reliability") states these promises and counts the cases. Judges here are tiny
(32 px test_resnet, two epochs on the fixture dataset) and trained through the same `dataigm
train` users run; the kill -9, Ctrl-C and concurrency cases use real processes and real signals.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import hubfixtures as hf
from hubfixtures import loopback_only  # noqa: F401 - fixture: the Hub cases talk to 127.0.0.1 only
from judgefixtures import build_dataset, build_tiny_clip, write_image_folder
from dataigm.errors import INTERRUPTED
from dataigm.judge_folder import JUDGE_FILES, MARKER, JudgeFolder

CONCEPT = "object_square"
PRESET = """\
seed: 0
model: {backbone: test_resnet, pretrained: false, head: linear, freeze_backbone: false, image_size: 32}
loader: {batch_size: 32, num_workers: 0, augment: false, balance: loss}
optim: {lr: 0.003, weight_decay: 0.0001, max_epochs: 2, patience: 6, monitor: val_loss}
threshold: {rule: max_f1}
trainer: {device: cpu, devices: 1, strategy: auto, precision: 32-true, deterministic: true,
          progress_bar: false}
"""
TOKEN = "hf_reliability_0123456789"


class World:
    """Shared inputs: a dataset, a judge preset, images to score, a solo-run reference judge
    (the "new" judge every retrain must produce) and an older judge to retrain over."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = build_dataset(root / "ds", n_per_split={"train": 60, "validation": 20, "test": 30}, size=32)
        self.preset = root / "judge.yaml"
        self.preset.write_text(PRESET)
        self.images = write_image_folder(root / "images", {"a": (3, 3), "b": (2, 4)}, size=32)
        self.reference = root / "reference"
        proc = subprocess.run(self.train_cmd(self.reference), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        self.new = judge_state(self.reference)
        self.old_judge = root / "old"
        assert _main("train", "--data", self.data, "--concept", CONCEPT, "--out", self.old_judge,
                     "--preset", self.preset, "--seed", "1")[0] == 0
        self.old = judge_state(self.old_judge)
        assert self.old != self.new

    def train_cmd(self, out: Path, *extra: str) -> list[str]:
        return [sys.executable, "-m", "dataigm", "train", "--data", str(self.data), "--concept", CONCEPT,
                "--out", str(out), "--preset", str(self.preset), *extra]

    def copy(self, which: Path, to: Path) -> Path:
        shutil.copytree(which, to)
        return to


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    torch.set_num_threads(1)
    return World(tmp_path_factory.mktemp("judges"))


def _main(*args: object) -> tuple[int, str, str]:
    """`dataigm ARGS` in this process, with its own captured output."""
    from dataigm.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def wait_for(path: Path, proc: subprocess.Popen, poll: float = 0.02) -> None:  # type: ignore[type-arg]
    """Wait until `path` exists (or the process has ended)."""
    deadline = time.monotonic() + 120
    while not path.exists() and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(poll)


def judge_state(folder: Path) -> dict[str, str] | None:
    """The finished judge in `folder` (its marker, checked against every file), or None when
    there is no folder. A folder that holds anything else fails the test."""
    if not folder.exists():
        return None
    marker = JudgeFolder(folder).require_finished()
    assert set(marker["files"]) == set(JUDGE_FILES)
    return {name: rec["sha256"] for name, rec in marker["files"].items()}


def one_line_error(code: int, err: str, *needles: str) -> bool:
    """Exit 2 and one line of error (a progress bar that was drawn and cleared with \r before
    it does not count as a line)."""
    line = err.split("\r")[-1]
    return (code == 2 and err.count("\n") == 1 and line.startswith("dataigm: error: ")
            and "Traceback" not in err and all(n in line for n in needles))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.glob(f".{folder.name}.*") if not p.name.endswith(".lock"))


# ----------------------------------------------------------------------------- locked, written whole


def test_two_concurrent_trains_one_refused_the_other_matches_a_solo_run(world: World, tmp_path: Path) -> None:
    out = tmp_path / "judge"
    # Both start at once and race for the lock; --overwrite so that only the lock can refuse.
    procs = [subprocess.Popen(world.train_cmd(out, "--overwrite"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = [(p.pid, *p.communicate(timeout=300), p.returncode) for p in procs]
    codes = sorted(r[3] for r in results)
    assert codes == [0, 2], [r[2][-800:] for r in results]
    winner = next(r for r in results if r[3] == 0)
    loser = next(r for r in results if r[3] == 2)
    assert loser[2].count("\n") == 1 and f"in use by pid {winner[0]}" in loser[2]
    assert judge_state(out) == world.new
    assert leftovers(out) == []


def test_evaluate_publish_and_train_are_refused_while_a_judge_is_locked(world: World, tmp_path: Path) -> None:
    judge = world.copy(world.reference, tmp_path / "judge")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time\nfrom dataigm.io import folder_lock\n"
         f"with folder_lock({str(judge)!r}):\n    print('locked', flush=True)\n    time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        for command in (("evaluate", "--judge", judge, "--data", world.data),
                        ("publish", "judge", judge, "--repo-id", "org/j", "--dry-run"),
                        ("train", "--data", world.data, "--concept", CONCEPT, "--out", judge, "--preset",
                         world.preset, "--overwrite")):
            code, _, err = _main(*command)
            assert one_line_error(code, err, f"in use by pid {holder.pid}"), (command, err)
    finally:
        holder.kill()
        holder.wait()
    assert judge_state(judge) == world.new and not (judge / "eval").exists()


def test_train_refuses_a_folder_that_is_not_a_judge_and_leaves_it_unchanged(world: World, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "README.md").write_text("# my notes\n")
    (mine / "config.json").write_text('{"my": "settings"}\n')
    before = hf.tree_hash(mine)
    for extra in ((), ("--overwrite",)):
        code, _, err = _main("train", "--data", world.data, "--concept", CONCEPT, "--out", mine,
                             "--preset", world.preset, *extra)
        assert one_line_error(code, err, "not empty and not a dataigm judge"), err
    assert hf.tree_hash(mine) == before and leftovers(mine) == []


def test_train_replaces_a_judge_only_with_overwrite(world: World, tmp_path: Path) -> None:
    judge = world.copy(world.old_judge, tmp_path / "judge")
    args = ("train", "--data", world.data, "--concept", CONCEPT, "--out", judge, "--preset", world.preset)
    code, _, err = _main(*args)
    assert one_line_error(code, err, "already holds a dataigm judge", "--overwrite"), err
    assert judge_state(judge) == world.old
    assert _main(*args, "--overwrite")[0] == 0
    replaced = judge_state(judge)
    assert replaced is not None and replaced != world.old and leftovers(judge) == []


@pytest.mark.slow
def test_kill_9_at_random_moments_leaves_the_old_or_the_new_judge_never_a_mix(world: World,
                                                                             tmp_path: Path) -> None:
    rng = random.Random(10)
    interrupted, seen = 0, []
    # Moments are milestones of the run plus a random delay (so the kills land whatever the
    # machine's load): just after the weights appear (a kill there used to leave half a judge),
    # just after a retrain's new metrics.json (which used to sit next to the old weights), and
    # when the marker is written right before the swap. Mid-fit: the Ctrl-C test below.
    trials = [("fresh", None, "model.safetensors"), ("retrain", world.old_judge, "metrics.json"),
              ("retrain", world.old_judge, MARKER)]
    for i, (kind, start_from, milestone) in enumerate(trials):
        judge = tmp_path / f"{kind}{i}"
        if start_from is not None:
            world.copy(start_from, judge)
        proc = subprocess.Popen(world.train_cmd(judge, "--overwrite"), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        wait_for(judge.parent / f".{judge.name}.tmp-train" / milestone, proc, poll=0.002)
        time.sleep(rng.uniform(0.0, 0.05))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            interrupted += 1
        err = proc.communicate(timeout=60)[1]
        seen.append((kind, milestone, proc.returncode, err.decode()[-300:]))
        allowed = [world.new, None if start_from is None else world.old]
        assert judge_state(judge) in allowed, seen[-1]
    # The next run sweeps what the killed one left and finishes the new judge.
    assert subprocess.run(world.train_cmd(judge, "--overwrite"), capture_output=True, timeout=300).returncode == 0
    assert judge_state(judge) == world.new and leftovers(judge) == []
    assert interrupted >= 2, seen  # the kills really landed mid-run


def test_the_next_train_sweeps_what_a_killed_one_left(world: World, tmp_path: Path) -> None:
    judge = world.copy(world.old_judge, tmp_path / "judge")
    staged = tmp_path / ".judge.tmp-train"  # a killed train's staging folder (a half judge)
    shutil.copytree(world.reference, staged)
    (staged / MARKER).unlink()
    (tmp_path / ".judge.tmp-x1").write_bytes(b"half")
    (judge / ".export-abc").mkdir()  # what versions before the marker left inside the folder
    (judge / ".config.json.x.tmp").write_text("{")
    code, _, err = _main("train", "--data", world.data, "--concept", CONCEPT, "--out", judge, "--preset",
                         world.preset)
    assert one_line_error(code, err, "already holds a dataigm judge")  # refused, but swept first
    assert leftovers(judge) == [] and not list(judge.glob(".export-*")) and not list(judge.glob(".*.tmp"))
    assert judge_state(judge) == world.old


def test_export_sweeps_what_a_killed_export_left(tmp_path: Path) -> None:
    from runfixtures import build_run

    from dataigm.io import sweep_folder_leftovers

    run = build_run(tmp_path / "run", concepts=("object_church",), n_pairs=6, n_web=4, n_real=4)
    assert _main("export", run, "--no-contact-sheets", "--quiet")[0] == 0
    dataset = run / "dataset"
    first = hf.tree_hash(dataset)
    # Killed between its two renames: the earlier export put aside, the new one still staged.
    os.rename(dataset, run / ".dataset.old-k1")
    shutil.copytree(run / ".dataset.old-k1", run / ".dataset.tmp-k2")
    (run / ".dataset.tmp-k3").mkdir()
    assert sweep_folder_leftovers(dataset) == 2
    assert hf.tree_hash(dataset) == first and leftovers(dataset) == []  # the earlier export is back
    (run / ".dataset.tmp-k4").mkdir()
    (run / ".dataset.old-k5").mkdir()
    code, _, err = _main("export", run, "--no-contact-sheets", "--quiet")
    assert code == 0, err
    assert leftovers(dataset) == [] and hf.tree_hash(dataset) == first


# ----------------------------------------------------------------------------- damaged judges


def _reseal(folder: Path) -> None:
    """Write the marker over the damaged files: a judge folder another tool wrote, whose
    content is wrong although its marker matches."""
    JudgeFolder(folder).seal()


def _edit_config(folder: Path, edit) -> None:  # type: ignore[no-untyped-def]
    cfg = json.loads((folder / "config.json").read_text())
    edit(cfg)
    (folder / "config.json").write_text(json.dumps(cfg))


def _edit_weights(folder: Path, edit) -> None:  # type: ignore[no-untyped-def]
    from safetensors.torch import load_file, save_file

    state = load_file(str(folder / "model.safetensors"))
    edit(state)
    save_file(state, str(folder / "model.safetensors"))


def _first(state: dict, suffix: str) -> str:
    return next(k for k in sorted(state) if k.endswith(suffix))


def _truncate(folder: Path) -> None:
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])


DAMAGES = {
    # case: (damage, reseal, what the one line says)
    "truncated_weights": (_truncate, True, "not a readable safetensors file"),
    "zero_byte_weights": (lambda f: (f / "model.safetensors").write_bytes(b""), True, "not a readable safetensors"),
    "garbage_weights": (lambda f: (f / "model.safetensors").write_bytes(os.urandom(4096)), True,
                        "not a readable safetensors file"),
    "shape_mismatch": (lambda f: _edit_weights(f, lambda s: s.__setitem__(_first(s, "fc.weight"), torch.zeros(3, 7))),
                       True, "of the wrong shape"),
    "extra_key": (lambda f: _edit_weights(f, lambda s: s.__setitem__("extra.weight", torch.zeros(2))), True,
                  "1 unexpected (e.g. 'extra.weight')"),
    "unknown_architecture": (lambda f: _edit_config(f, lambda c: c.__setitem__("architecture", "no_such_net")),
                             True, "architecture: not a timm model"),
    "bad_model_args": (lambda f: _edit_config(f, lambda c: c.__setitem__("model_args", {"no_such_arg": 3})), True,
                       "cannot build 'test_resnet' from model_args"),
    "threshold_high": (lambda f: _edit_config(f, lambda c: c["dataigm"].__setitem__("threshold", "high")), True,
                       "dataigm.threshold: must be a number in [0, 1]"),
    "nan_weights": (lambda f: _edit_weights(f, lambda s: s[_first(s, "fc.bias")].fill_(float("nan"))), True,
                    "holds NaN or infinite values"),
    "nan_outputs": (lambda f: _edit_weights(f, lambda s: s[_first(s, "running_var")].fill_(-1.0)), True,
                    "outputs NaN or infinite scores"),
    "edited_after_sealing": (lambda f: _edit_config(f, lambda c: c["dataigm"].__setitem__("threshold", 0.9)), False,
                             "config.json: damaged or changed since the judge was written"),
    "truncated_after_sealing": (_truncate, False, "model.safetensors: damaged or changed"),
    "no_marker": (lambda f: (f / MARKER).unlink(), False, "not a finished dataigm judge"),
}


@pytest.mark.parametrize("case", sorted(DAMAGES))
def test_damaged_judge_is_one_line_exit_2_in_judge_evaluate_and_publish(world: World, tmp_path: Path,
                                                                        case: str) -> None:
    damage, reseal, says = DAMAGES[case]
    judge = world.copy(world.reference, tmp_path / "judge")
    damage(judge)
    if reseal:
        _reseal(judge)
    report = tmp_path / "report"
    for command in (("judge", "--judge", judge, "--images", world.images, "--out", report),
                    ("evaluate", "--judge", judge, "--data", world.data, "--out", tmp_path / "eval"),
                    ("publish", "judge", judge, "--repo-id", "org/j", "--dry-run")):
        code, out, err = _main(*command)  # publish checks the folder before any request
        assert one_line_error(code, err, says), (command[0], err)
        assert "flagged" not in out and "share" not in out and "accuracy" not in out  # never a score
    assert not report.exists() and not (tmp_path / "eval").exists()


def test_nan_scores_are_an_error_never_zero_flagged(world: World, monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    from dataigm.judging import JUDGES, JudgePrediction

    class NanJudge:
        name, identity, concept, threshold, label_names = "nan", "nan", CONCEPT, 0.5, ["other", "square"]

        def predict(self, images, batch_size=32):  # type: ignore[no-untyped-def]
            p = np.full(len(images), np.nan)
            return JudgePrediction(p, p >= 0.5, ["other"] * len(images))

    monkeypatch.setitem(JUDGES._targets, "nanjudge", lambda arg, **options: NanJudge())
    code, out, err = _main("judge", "--judge", "nanjudge", "--images", world.images, "--out", tmp_path / "r")
    assert one_line_error(code, err, "nan: 12 of 12 scores are NaN"), err
    assert "flagged" not in out and not (tmp_path / "r").exists()


def test_clip_folder_with_only_pickled_weights_is_refused_without_reading_it(world: World, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    clip = build_tiny_clip(tmp_path / "clip")
    (clip / "model.safetensors").unlink()
    sentinel = tmp_path / "unpickled"

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (f"touch {sentinel}",))

    import pickle

    (clip / "pytorch_model.bin").write_bytes(pickle.dumps(Payload()))
    loads: list[object] = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(a) or pytest.fail("torch.load was called"))
    code, out, err = _main("judge", "--judge", f"clip:{clip}", "--concept", "object_church", "--images",
                           world.images, "--out", tmp_path / "r")
    assert one_line_error(code, err, "never from pickle files"), err
    assert loads == [] and not sentinel.exists()


def test_hf_hub_judge_is_accepted_through_lfs_and_refused_in_one_line(world: World, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     loopback_only: list[str]) -> None:
    from dataigm.publish import RetryPolicy, publish_judge
    from dataigm.testing.hub_server import LocalHubServer, TokenInfo

    judge = world.copy(world.reference, tmp_path / "judge")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with LocalHubServer(root=tmp_path / "hub", tokens={TOKEN: TokenInfo("alice")}) as hub:
        publish_judge(judge, "org/square-judge", endpoint=hub.url, retry=RetryPolicy(attempts=2, base_delay=0.01))
        assert set(hub.repo_lfs_files("org/square-judge")) == {"model.safetensors", "roc.png", "reliability.png"}
        got = hf.run_client(f'''
            import contextlib, io, json
            from dataigm.cli import main
            for name, ref in (("hub", "hf-hub:org/square-judge"), ("missing", "hf-hub:org/missing"),
                              ("bad_id", "hf-hub:org/a/b")):
                err = io.StringIO()
                with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                    code = main(["judge", "--judge", ref, "--images", "{world.images}", "--out",
                                 "{tmp_path}/scores-" + name])
                RESULT[name] = [code, err.getvalue()]
            RESULT["summary"] = json.load(open("{tmp_path}/scores-hub/summary.json"))
        ''', hub.client_env(tmp_path / "hf_home"))
        assert hub.seen("GET", r"^/__lfs/objects/[0-9a-f]{64}$")  # the weights came down through LFS
    assert got["hub"][0] == 0, got["hub"][1]
    assert _main("judge", "--judge", judge, "--images", world.images, "--out", tmp_path / "local")[0] == 0
    local = json.loads((tmp_path / "local" / "summary.json").read_text())
    assert got["summary"]["overall"] == local["overall"] and got["summary"]["per_method"] == local["per_method"]
    assert one_line_error(*got["missing"], "hf-hub:org/missing: cannot download judge")
    assert one_line_error(*got["bad_id"], "not a judge folder, hub id")


# ----------------------------------------------------------------------------- values checked at load time


@pytest.mark.parametrize("revision", ["../../x", "main/../x", "a b", "dev\x07"])
def test_publish_revision_must_be_a_branch_name(world: World, revision: str) -> None:
    code, _, err = _main("publish", "judge", world.reference, "--repo-id", "org/j", "--revision", revision,
                         "--dry-run")
    assert one_line_error(code, err, "--revision: ", "is not a valid branch name"), err


def test_template_with_a_stray_brace_is_caught_by_taxonomy_before_plan(tmp_path: Path) -> None:
    from tests.test_taxonomy import VALID

    concept = tmp_path / "lamp.yaml"
    concept.write_text(VALID.replace('"a photo of a {concept} {scene}"', '"a photo of a {concept {scene}"'))
    (tmp_path / "p.yaml").write_text(f"name: p\nconcepts: [{concept}]\ngeneration: {{generator: toyworld}}\n")
    for command in (("taxonomy", concept), ("plan", "--preset", tmp_path / "p.yaml")):
        code, _, err = _main(*command)
        assert one_line_error(code, err, "lamp.yaml", "templates[0]: unbalanced braces"), (command, err)


def test_review_csv_saved_with_a_bom_is_accepted(tmp_path: Path) -> None:
    import pyarrow.parquet as pq
    from curation_fixtures import build_run

    run = tmp_path / "run"
    build_run(run)
    review = tmp_path / "review.csv"
    review.write_text("\ufeffid,action,label\nreal-d4,drop,\n", encoding="utf-8")  # as spreadsheets save it
    code, _, err = _main("curate", run, "--review", review, "--set", "judge_agreement.enabled=false", "--quiet")
    assert code == 0, err
    dropped = {r["id"]: r for r in pq.read_table(run / "curation" / "dropped.parquet").to_pylist()}
    assert dropped["real-d4"]["reason"] == "review:drop"


def test_empty_out_is_refused_and_writes_nothing(world: World, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for command, says in ((("generate", "--out", ""), "--out: the RUN folder must not be empty"),
                          (("build", "--out", ""), "--out: the RUN folder must not be empty"),
                          (("train", "--data", world.data, "--concept", CONCEPT, "--out", "", "--preset",
                            world.preset), "out: missing")):
        code, _, err = _main(*command)
        assert one_line_error(code, err, says), (command, err)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("epochs", ["0", "-3"])
def test_max_epochs_below_one_is_refused_and_exports_nothing(world: World, tmp_path: Path, epochs: str) -> None:
    code, _, err = _main("train", "--data", world.data, "--concept", CONCEPT, "--out", tmp_path / "j",
                         "--preset", world.preset, "--max-epochs", epochs)
    assert one_line_error(code, err, "optim.max_epochs: must be at least 1"), err
    assert list(tmp_path.iterdir()) == []


def test_deeply_nested_judge_preset_is_one_line(world: World, tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("model: " + "[" * 10_000 + "]" * 10_000 + "\n")
    code, _, err = _main("train", "--data", world.data, "--concept", CONCEPT, "--out", tmp_path / "j",
                         "--preset", deep)
    assert one_line_error(code, err, "deep.yaml", "nested too deeply"), err
    assert not (tmp_path / "j").exists()


# ----------------------------------------------------------------------------- Ctrl-C


def test_ctrl_c_during_training_is_one_line_exit_130_and_keeps_the_old_judge(world: World,
                                                                             tmp_path: Path) -> None:
    judge = world.copy(world.old_judge, tmp_path / "judge")
    proc = subprocess.Popen(world.train_cmd(judge, "--overwrite", "--max-epochs", "500", "--set",
                                            "optim.patience=500"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(tmp_path / ".judge.tmp-train" / "training" / "logs", proc)  # Lightning is fitting
    assert proc.poll() is None
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert err.splitlines()[-1] == INTERRUPTED and "Traceback" not in err and "Detected KeyboardInterrupt" not in err
    assert judge_state(judge) == world.old and leftovers(judge) == []


# ----------------------------------------------------------------------------- publish


def test_publish_judge_uploads_the_judge_only_and_logs_only_when_asked(world: World, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      loopback_only: list[str]) -> None:
    from dataigm.publish import RetryPolicy, publish_judge
    from dataigm.testing.hub_server import LocalHubServer, TokenInfo

    judge = world.copy(world.reference, tmp_path / "judge")
    assert _main("evaluate", "--judge", judge, "--data", world.data)[0] == 0  # writes judge/eval/
    (judge / "pytorch_model.bin").write_bytes(b"\x80\x04K\x01.")  # a stray file of the user's
    train_config = (judge / "training" / "train_config.json").read_text()
    assert str(world.data) in train_config  # the local record keeps the local paths
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    quick = RetryPolicy(attempts=2, base_delay=0.01)
    with LocalHubServer(root=tmp_path / "hub", tokens={TOKEN: TokenInfo("alice")}) as hub:
        publish_judge(judge, "org/j", endpoint=hub.url, retry=quick)
        assert set(hub.repo_files("org/j")) == {".gitattributes", MARKER, *JUDGE_FILES}
        with_logs = publish_judge(judge, "org/j", endpoint=hub.url, retry=quick, training_logs=True)
        logs = {p for p in hub.repo_files("org/j") if p.startswith("training/")}
        assert "training/train_config.json" in logs and any(p.endswith("metrics.csv") for p in logs)
        assert set(with_logs.files_uploaded) == {MARKER, *JUDGE_FILES} | logs
        for path in logs:
            data = hub.read_file("org/j", path)
            for local in (tmp_path, world.root, Path.home()):
                assert str(local).encode() not in data, (path, local)
        record = json.loads(hub.read_file("org/j", "training/train_config.json"))
        assert record["config"]["dataset"] == world.data.name and record["config"]["out"] == world.reference.name
        again = publish_judge(judge, "org/j", endpoint=hub.url, retry=quick)  # logs not asked: removed
        assert sorted(again.files_deleted) == sorted(logs)
        assert set(hub.repo_files("org/j")) == {".gitattributes", MARKER, *JUDGE_FILES}
