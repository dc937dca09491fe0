"""A non-editable install carries everything the commands need (templates, presets, concepts,
the tiny vocabulary): build the wheel, install it into its own folder, run from outside the repo."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_install_runs_outside_the_repo(tmp_path: Path) -> None:
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(REPO)], check=True, capture_output=True, timeout=300)
    wheel = next(wheels.glob("dataigm-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, capture_output=True, timeout=300)
    # The installed copy comes first; the repo is not on the path (cwd is elsewhere).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(target)
    work = tmp_path / "elsewhere"
    work.mkdir()

    def dataigm(*args: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "dataigm", *args], cwd=work, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    # One installed import name: nothing but dataigm (and its dist-info) at the top level, so no
    # other distribution's `detectors`, `pipelines` or `cards` is overwritten, or overwrites ours.
    with zipfile.ZipFile(wheel) as zf:
        top = {name.split("/", 1)[0] for name in zf.namelist()}
        listed = {name for name in zf.namelist() if name.endswith("__init__.py")}
    assert {t for t in top if not t.endswith(".dist-info")} == {"dataigm"}
    # Every package folder of the repository is in the wheel (pyproject lists them by hand).
    for folder, installed in (("dataigm", "dataigm"), ("detectors", "dataigm/detectors"),
                              ("pipelines", "dataigm/pipelines"), ("cards", "dataigm/cards")):
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.relative_to(REPO / folder).as_posix()
            assert f"{installed}/{rel}" in listed, f"{folder}/{rel} is not in the wheel: list it in pyproject"
    where = subprocess.run([sys.executable, "-c", "import dataigm, dataigm.cards, dataigm.pipelines, "
                            "dataigm.detectors; print(dataigm.__file__, dataigm.cards.__file__, "
                            "dataigm.pipelines.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    assert str(REPO) not in where and str(target) in where
    assert "van_gogh" in dataigm("taxonomy")
    assert "object_church" in dataigm("plan", "--preset", "paper")
    dataigm("generate", "--preset", "demo", "--out", "run", "--concepts", "object_church", "--limit", "30",
            "--quiet")
    out = dataigm("export", "run", "--to", "run/dataset")
    assert "object_church" in out and (work / "run" / "dataset" / "README.md").read_text().startswith("---")
