"""The image folders a scorecard reads, scored without renaming anything.

Recognised layouts (ROOT is the folder given to `dataigm scorecard`):

1. `dataigm sample` output: ROOT/<method>/ with `sample.done`, `manifest.parquet` and
   `<prompt_set>/<prompt_id>_<k>.png`. Prompts, sets, base ids and seeds come from the manifest.
2. Set first (public benchmarks, IGMU): ROOT/<set>/<method>/<file>, where <set> is a forget
   folder (forget, target, erase, unlearn, nsfw), a reference folder (reference, ref) or an
   unrelated folder (unrelated, other, retain, preserve); any other folder name is a prompt set of
   its own (an attack set). Object tasks may nest one folder per unrelated category:
   ROOT/unrelated/<method>/<category>/<file>.
3. Method first: ROOT/<method>/<set>/<file> (sample's layout without its manifests).
4. Flat: ROOT/<method>/<file> (what `dataigm judge` scores): every image is a forget image.

In 2-4 the same relative file name in two method folders means the same prompt and seed, and a
forget file and a reference file with the same name are a pair (the reference prompt of that
forget prompt, same seed). A file stem `<base>_<k>` or `<base>-<k>` is image k of prompt <base>;
prompt texts come from an optional prompt file (`--prompts`) whose `prompt_id` is <base>.
Hidden files and folders are ignored.

Every image carries its prompt's provenance (a dict: attack, language, neighbour, source,
licence, ...): in layout 1 from the method folder's prompts.parquet, in 2-4 from the prompt
file's other columns; a category folder under a `neighbour` set names the neighbour.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dataigm.errors import InputError
from dataigm.run import Run

SET_ALIASES: dict[str, tuple[str, ...]] = {
    "forget": ("forget", "target", "targets", "erase", "erased", "unlearn", "nsfw"),
    "reference": ("reference", "references", "ref", "refs"),
    "unrelated": ("unrelated", "other", "others", "retain", "preserve", "preservation", "non_target"),
}
_SET_OF = {alias: name for name, aliases in SET_ALIASES.items() for alias in aliases}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
_INDEXED = re.compile(r"^(?P<base>.+?)[_-](?P<k>\d+)$")
COLUMNS = ("method", "concept", "prompt_set", "key", "pair_key", "base", "cluster", "image_index", "category",
           "prompt", "prompt_id", "seed", "path", "rel", "provenance")


@dataclass
class ImageTable:
    """Every image of every method: one row each (COLUMNS)."""

    root: Path
    layout: str
    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def methods(self) -> list[str]:
        return sorted(self.frame["method"].unique())

    def select(self, method: str, concept: str, prompt_set: str) -> pd.DataFrame:
        f = self.frame
        return f[(f["method"] == method) & (f["concept"] == concept) & (f["prompt_set"] == prompt_set)]

    def prompt_sets(self, concept: str) -> list[str]:
        return sorted(self.frame.loc[self.frame["concept"] == concept, "prompt_set"].unique())

    def set_info(self, concept: str, prompt_set: str) -> dict[str, str]:
        """What a prompt set's prompts say about themselves, for its scorecard rows: their
        attack and language (several values joined with ',')."""
        f = self.frame
        prov = f.loc[(f["concept"] == concept) & (f["prompt_set"] == prompt_set), "provenance"]
        out = {}
        for key in ("attack", "language"):
            values = sorted({str(p[key]) for p in prov if isinstance(p, dict) and p.get(key)})
            out[key] = ",".join(values)
        return out


def _visible_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def set_name(folder_name: str) -> str:
    return _SET_OF.get(folder_name.lower(), folder_name.lower())


def discover(root: str | Path, concept: str, prompt_texts: dict[str, dict[str, Any]] | None = None) -> ImageTable:
    """The images under ROOT in any recognised layout, for one concept (layouts 2-4) or the
    concepts the manifests name (layout 1)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: image folder not found")
    children = _visible_dirs(root)
    if any(Run(c).sample_marker.exists() for c in children):
        table = _sample_layout(root, children)
    elif any(c.name.lower() in _SET_OF for c in children):
        table = _public_layout(root, concept, [(set_name(c.name), m) for c in children for m in _visible_dirs(c)],
                               "set first")
    elif any(g.name.lower() in _SET_OF for c in children for g in _visible_dirs(c)):
        table = _public_layout(root, concept, [(set_name(g.name), g) for c in children for g in _visible_dirs(c)],
                               "method first", method_outside=True)
    else:
        table = _public_layout(root, concept, [("forget", c) for c in children], "flat")
    if table.frame.empty:
        raise InputError(f"{root}: no images found in a recognised layout (see README, 'Scoring an unlearned model')")
    if prompt_texts:
        f = table.frame
        prompts, provenance = f["prompt"].tolist(), f["provenance"].tolist()
        for i, (prompt_set, prompt_id) in enumerate(zip(f["prompt_set"], f["prompt_id"])):
            info = prompt_texts.get(f"{prompt_set}/{prompt_id}") or prompt_texts.get(prompt_id)   # "set/id" first
            if info and not isinstance(prompts[i], str):
                prompts[i] = info["prompt"]
                provenance[i] = {**info["provenance"], **provenance[i]}
        f["prompt"], f["provenance"] = prompts, provenance
    return table


def _sample_layout(root: Path, children: list[Path]) -> ImageTable:
    import pyarrow.parquet as pq

    frames, notes = [], []
    for child in children:
        run = Run(child)
        if not run.sample_marker.exists():
            notes.append(f"{child.name}: no sample.done (unfinished sample?), left out")
            continue
        rows = pq.read_table(run.manifest_path, columns=["concept", "prompt_set", "prompt_id", "pair_id",
                                                        "image_index", "prompt", "seed", "path"]).to_pandas()
        rows["method"] = child.name
        rows["key"] = rows["prompt_id"] + "#" + rows["image_index"].astype(str)
        rows["pair_key"] = rows["pair_id"] + "#" + rows["image_index"].astype(str)
        rows["base"] = rows["pair_id"]
        rows["cluster"] = rows["prompt_id"]   # the bootstrap unit: one prompt with all its seeds
        rows["category"] = ""
        rows["rel"] = child.name + "/" + rows["path"]
        rows["path"] = [str(child / p) for p in rows["path"]]
        provenance = {}
        if run.prompts_path.exists():
            for r in pq.read_table(run.prompts_path, columns=["prompt_id", "provenance"]).to_pylist():
                provenance[r["prompt_id"]] = json.loads(r["provenance"]) if r["provenance"] else {}
        rows["provenance"] = [provenance.get(pid, {}) for pid in rows["prompt_id"]]
        frames.append(rows.drop(columns=["pair_id"]))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(COLUMNS))
    return ImageTable(root, "dataigm sample", frame[list(COLUMNS)], notes)


def _public_layout(root: Path, concept: str, folders: list[tuple[str, Path]], layout: str,
                   method_outside: bool = False) -> ImageTable:
    rows: list[dict[str, Any]] = []
    for prompt_set, folder in folders:
        method = folder.parent.name if method_outside else folder.name
        for path in _images_under(folder):
            rel_in_method = path.relative_to(folder)
            stem_key = rel_in_method.with_suffix("").as_posix()
            match = _INDEXED.match(rel_in_method.stem)
            base_stem, k = (match.group("base"), int(match.group("k"))) if match else (rel_in_method.stem, 0)
            category = rel_in_method.parts[0] if len(rel_in_method.parts) > 1 else ""
            rows.append({"method": method, "concept": concept, "prompt_set": prompt_set, "key": stem_key,
                         # a forget file pairs with the reference file of the same name
                         "pair_key": stem_key, "base": (f"{category}/" if category else "") + base_stem,
                         "cluster": f"{prompt_set}/{category}/{base_stem}",
                         "image_index": k, "category": category, "prompt": None, "prompt_id": base_stem,
                         "seed": None, "path": str(path), "rel": path.relative_to(root).as_posix(),
                         # a neighbour set's category folder names the neighbour
                         "provenance": {"neighbour": category} if category and prompt_set == "neighbour" else {}})
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    return ImageTable(root, layout, frame)


def read_prompt_texts(path: str | Path) -> dict[str, dict[str, Any]]:
    """Prompt text and provenance (the file's other columns) by prompt id (a file stem without
    its image index), and by "set/id" where the file names a prompt_set (forget and unrelated
    files may reuse one numbering), from a prompt file in any of dataigm.evaluation.prompts'
    formats."""
    from dataigm.evaluation.prompts import file_rows

    known = {"prompt", "prompt_id", "id", "case_number", "prompt_set"}
    out = {}
    for i, row in enumerate(file_rows(Path(path))):
        prompt = str(row.get("prompt") or "").strip()
        pid = str(row.get("prompt_id") or row.get("id") or row.get("case_number") or i)
        if not prompt:
            continue
        set_name_given = row.get("prompt_set")
        provenance = {k: v for k, v in row.items() if k not in known and v not in (None, "")}
        out[f"{set_name(str(set_name_given))}/{pid}" if set_name_given else pid] = {
            "prompt": prompt, "provenance": provenance}
    return out
