"""One configuration path for every command: preset YAML, then command flags and --set (typed by
the dataclass field), then one validation; --print-config shows the result and does nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dataigm.config import apply_sets, resolve_config
from dataigm.curation.config import CurationConfig
from dataigm.errors import ConfigError


def _one_line_error(code: int, err: str) -> bool:
    return code == 2 and err.count("\n") == 1 and err.startswith("dataigm: error: ") and "Traceback" not in err


def test_train_print_config_merges_set_into_the_paper_preset_and_reads_no_data(cli, tmp_path: Path) -> None:
    code, out, err = cli("train", "--preset", "paper", "--data", tmp_path / "X", "--concept", "object_church",
                         "--out", tmp_path / "Z", "--set", "model.image_size=128", "--print-config")
    assert code == 0, err
    cfg = yaml.safe_load(out)
    assert cfg["model"]["backbone"] == "vit_base_patch32_clip_quickgelu_224.openai"
    assert cfg["model"]["head"] == "igmu" and cfg["model"]["image_size"] == 128
    assert cfg["model"]["pretrained"] is True and cfg["dataset"] == str(tmp_path / "X")
    assert not (tmp_path / "X").exists() and not (tmp_path / "Z").exists()


@pytest.mark.parametrize("args, needle", [
    (("--set", "optim.max_epochs=0"), "optim.max_epochs: must be at least 1, got 0"),
    (("--max-epochs", "0"), "optim.max_epochs: must be at least 1, got 0"),
    (("--set", "model.nonexistent=1"), "--set model.nonexistent: unknown key 'nonexistent' in model"),
    (("--set", "optim.lr=fast"), "optim.lr: expected a number, got 'fast'"),
    (("--set", "model=3"), "model: expected a mapping"),
    (("--set", "no_equals_sign"), "--set: expected KEY=VALUE"),
])
def test_bad_train_overrides_are_one_line_errors(cli, tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    code, out, err = cli("train", "--preset", "paper", "--data", tmp_path / "X", "--concept", "object_church",
                         "--out", tmp_path / "Z", *args, "--print-config")
    assert _one_line_error(code, err) and needle in err, err
    assert out == "" and not (tmp_path / "Z").exists()


def test_generate_print_config_shows_the_override_and_the_paper_model(cli, tmp_path: Path) -> None:
    code, out, err = cli("generate", "--preset", "paper", "--out", tmp_path / "R", "--set", "generation.steps=30",
                         "--print-config")
    assert code == 0, err
    cfg = yaml.safe_load(out)
    assert cfg["generation"]["steps"] == 30 and cfg["generation"]["model"] == "CompVis/stable-diffusion-v1-4"
    assert cfg["name"] == "paper" and "specs" not in cfg and "source_file" not in cfg
    assert not (tmp_path / "R").exists()


def _commands(tmp_path: Path) -> dict[str, tuple[str, ...]]:
    run, data = tmp_path / "RUN", tmp_path / "DATA"
    return {
        "generate": ("generate", "--out", run),
        "plan": ("plan",),
        "build": ("build", "--out", run),
        "demo": ("demo", "--out", run),
        "ingest": ("ingest", run, data, "--concept", "object_church", "--source", "web"),
        "curate": ("curate", run),
        "export": ("export", run),
        "train": ("train", "--data", data, "--concept", "object_church", "--out", tmp_path / "J"),
        "evaluate": ("evaluate", "--judge", tmp_path / "J", "--data", data),
        "judge": ("judge", "--judge", "nudenet", "--images", data),
        "prompts import": ("prompts", "import", data / "ring.csv", "--concept", "nudity", "--attack", "ring-a-bell",
                           "--out", tmp_path / "ring.jsonl"),
        "prompts translate": ("prompts", "translate", data, "--concept", "nudity", "--model", tmp_path / "M",
                              "--language", "de", "--run", run),
        "prompts filter": ("prompts", "filter", data, "--run", run, "--concept", "nudity", "--judge", "nudenet"),
        "labels export": ("labels", "export", data, "--concept", "nudity", "--judge", "nudenet", "--out", tmp_path / "L"),
        "labels import": ("labels", "import", tmp_path / "L"),
    }


@pytest.mark.parametrize("command", ["generate", "plan", "build", "demo", "ingest", "curate", "export", "train",
                                     "evaluate", "judge", "prompts import", "prompts translate", "prompts filter",
                                     "labels export", "labels import"])
def test_every_command_prints_its_resolved_config_and_does_nothing(cli, tmp_path: Path, command: str) -> None:
    args = _commands(tmp_path)[command]
    code, out, err = cli(*args, "--print-config")
    assert code == 0, err
    assert isinstance(yaml.safe_load(out), dict)
    assert list(tmp_path.iterdir()) == []  # no run, dataset or judge folder was created or read
    # ... and every command names a bad key in one line, before doing anything.
    code, _, err = cli(*args, "--set", "no_such_key=1", "--print-config")
    assert _one_line_error(code, err) and "no_such_key" in err, err


def test_curate_and_export_start_from_the_section_the_run_was_built_with(cli, tmp_path: Path) -> None:
    run = tmp_path / "RUN"
    assert cli("generate", "--out", run, "--concepts", "object_church", "--limit", "4",
               "--set", "curation.near_dedup.radius=5", "--set", "export.split.seed=7", "--quiet")[0] == 0
    code, out, _ = cli("curate", run, "--set", "quality.min_side=16", "--print-config")
    cfg = yaml.safe_load(out)
    assert code == 0 and cfg["near_dedup"]["radius"] == 5 and cfg["quality"]["min_side"] == 16
    assert cfg["judge_agreement"]["enabled"] is False  # the demo preset's own setting
    code, out, _ = cli("export", run, "--fractions", "0.6,0.2,0.2", "--print-config")
    cfg = yaml.safe_load(out)
    assert code == 0 and cfg["split"]["seed"] == 7 and cfg["split"]["fractions"]["train"] == 0.6


def test_python_api_merges_sections_instead_of_replacing_them() -> None:
    from dataigm.detectors.config import load_train_config

    cfg = load_train_config("paper", model={"image_size": 128})
    assert (cfg.model.backbone, cfg.model.head, cfg.model.pretrained, cfg.model.image_size) == (
        "vit_base_patch32_clip_quickgelu_224.openai", "igmu", True, 128)
    cfg = load_train_config("paper", sets=["optim.max_epochs=3"], **{"loader.batch_size": 8})
    assert cfg.optim.max_epochs == 3 and cfg.loader.batch_size == 8 and cfg.optim.lr == 0.001
    with pytest.raises(ConfigError, match="optim.max_epochs: must be at least 1"):
        load_train_config("paper", optim={"max_epochs": 0})

    from dataigm.preset import load_preset

    preset = load_preset("paper", sets=["generation.steps=30"], overrides={"curation": {"near_dedup": {"radius": 4}}})
    assert preset.generation.steps == 30 and preset.generation.model == "CompVis/stable-diffusion-v1-4"
    assert preset.curation.near_dedup.radius == 4 and preset.curation.near_dedup.hash == "phash"


def test_set_values_are_typed_by_their_field() -> None:
    data = apply_sets(CurationConfig, {}, ["review.file=001", "near_dedup.radius=6", "quality.min_std=2",
                                           "validation.enabled=false", "judge_agreement.concepts.nudity.action=flag",
                                           "steps=[validation, quality]"])
    assert data["review"]["file"] == "001"  # a str field keeps the text, even when it looks like a number
    assert data["near_dedup"]["radius"] == 6 and data["quality"]["min_std"] == 2.0
    assert data["validation"]["enabled"] is False
    cfg = resolve_config(CurationConfig, {}, "t", sets=["judge_agreement.concepts.nudity.action=flag",
                                                          "steps=[validation, quality]"])
    assert cfg.judge_agreement.concepts["nudity"].action == "flag" and cfg.steps == ["validation", "quality"]
    with pytest.raises(ConfigError, match="steps\\[1\\]: unknown curation step 'sharpen'"):
        resolve_config(CurationConfig, {}, "t", sets=["steps=[validation, sharpen]"])
    with pytest.raises(ConfigError, match="--set near_dedup.radius.x: 'near_dedup.radius' is a value"):
        apply_sets(CurationConfig, {"near_dedup": {"radius": 3}}, ["near_dedup.radius.x=1"])


def test_deeply_nested_yaml_is_a_one_line_error(cli, tmp_path: Path) -> None:
    bomb = tmp_path / "deep.yaml"
    bomb.write_text("a: " + "[" * 10000 + "]" * 10000 + "\n")
    code, _, err = cli("plan", "--preset", bomb)
    assert _one_line_error(code, err) and "deep.yaml" in err and "nested" in err, err
