"""`datasets` keys its cache of a local folder on the folder name, README and file names, not
on the data. dataigm must never hand back another folder's (or an older export's) rows."""

from __future__ import annotations

from pathlib import Path

from judgefixtures import build_dataset


def test_two_folders_with_the_same_layout_do_not_share_a_cache_entry(tmp_path: Path) -> None:
    from dataigm.detectors.data import load_concept_dataset

    first = build_dataset(tmp_path / "a" / "ds", n_per_split={"train": 10, "validation": 4, "test": 30})
    second = build_dataset(tmp_path / "b" / "ds", n_per_split={"train": 10, "validation": 4, "test": 12})
    assert (first / "README.md").read_text() == (second / "README.md").read_text()
    assert len(load_concept_dataset(str(first), "object_square")["test"]) == 30
    assert len(load_concept_dataset(str(second), "object_square")["test"]) == 12
    # Rewritten in place: the new rows, not the cached old ones.
    build_dataset(first, n_per_split={"train": 10, "validation": 4, "test": 18}, seed=5)
    assert len(load_concept_dataset(str(first), "object_square")["test"]) == 18


def test_export_card_carries_a_fingerprint_of_the_data(tmp_path: Path) -> None:
    import yaml

    from dataigm.export import data_fingerprint, export_dataset
    from runfixtures import build_run

    run = build_run(tmp_path / "run")
    report = export_dataset(run, run / "dataset", progress=False)
    header = yaml.safe_load((run / "dataset" / "README.md").read_text().split("---")[1])
    assert header["dataigm_fingerprint"] == report.fingerprint
    assert report.fingerprint == data_fingerprint(run / "dataset", report.files)
