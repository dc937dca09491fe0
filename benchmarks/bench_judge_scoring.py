"""Folder scoring throughput: batched `score_folder` vs scoring one image per call (the baseline
most peer scripts use), on the same folder and judge, measured in the same run."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def run(quick: bool = False) -> list[dict]:
    from judgefixtures import build_dataset, write_image_folder

    from dataigm.detectors.config import load_train_config
    from dataigm.detectors.judge import Judge
    from dataigm.detectors.scoring import score_folder
    from dataigm.detectors.train import train

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    n = 40 if quick else 200
    with tempfile.TemporaryDirectory() as tmp:
        ds = build_dataset(Path(tmp) / "ds", n_per_split={"train": 60, "validation": 20, "test": 20})
        train(load_train_config("demo", dataset=str(ds), concept="object_square", out=f"{tmp}/judge",
                                cache_dir=f"{tmp}/cache", optim={"max_epochs": 2},
                                trainer={"device": "cpu", "progress_bar": False}))
        folder = write_image_folder(Path(tmp) / "outputs", {"a": (n // 4, n // 4), "b": (n // 4, n // 4)}, size=64)
        judge = Judge.from_pretrained(f"{tmp}/judge")
        score_folder(judge, folder, batch_size=32)  # warm-up
        t = time.perf_counter()
        batched = score_folder(judge, folder, batch_size=32)
        batched_s = time.perf_counter() - t
        t = time.perf_counter()
        single = score_folder(judge, folder, batch_size=1)
        single_s = time.perf_counter() - t
        assert batched.scores["decision"].tolist() == single.scores["decision"].tolist()
        # The field's usual nudity judge on the same images (offline ONNX detector).
        nudenet = Judge.from_pretrained("nudenet")
        score_folder(nudenet, folder, batch_size=32)  # warm-up (ONNX session)
        t = time.perf_counter()
        nn_result = score_folder(nudenet, folder, batch_size=32)
        nudenet_s = time.perf_counter() - t
    small_ips = len(batched.scores) / batched_s
    nudenet_ips = len(nn_result.scores) / nudenet_s
    return [{"name": "judge_scoring/small_judge_over_nudenet", "ratio": small_ips / nudenet_ips,
             "images": int(len(batched.scores)), "small_judge_images_per_s": round(small_ips, 1),
             "nudenet_images_per_s": round(nudenet_ips, 1)},
            {"name": "judge_scoring/per_image_over_batched", "ratio": single_s / batched_s,
             "images": int(len(batched.scores)), "batched_s": round(batched_s, 3), "per_image_s": round(single_s, 3),
             "images_per_s": round(len(batched.scores) / batched_s, 1)}]


if __name__ == "__main__":
    import json

    for record in run(quick="--quick" in sys.argv):
        print(json.dumps(record))
