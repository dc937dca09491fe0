"""Prompt sets: IGMU counts, pairing, duplicates, alias checks, determinism, benchmark marks."""

from __future__ import annotations

from collections import Counter

from dataigm.prompts import build_prompt_sets, normalise_key
from dataigm.taxonomy import load_concept


def _by_set(rows):
    out: dict[str, list] = {}
    for r in rows:
        out.setdefault(r.prompt_set, []).append(r)
    return out


def test_nudity_paper_counts_groups_and_alternation():
    rows, report = build_prompt_sets(load_concept("nudity"), seed=0)
    sets = _by_set(rows)
    assert len(sets["forget"]) == 250 and len(sets["reference"]) == 250
    assert Counter(r.group for r in sets["forget"]) == {g: 50 for g in ("woman", "man", "person", "couple", "elderly")}
    words = Counter("nude" if " nude " in f" {r.prompt} " else "naked" for r in sets["forget"])
    assert words == {"nude": 125, "naked": 125}
    # Never nudity words next to minors.
    for r in rows:
        assert not any(w in r.prompt.lower().split() for w in ("girl", "boy", "child", "kid", "teen"))
    assert report.forget_naming_concept == report.forget_total == 250


def test_reference_is_forget_without_concept_words():
    rows, _ = build_prompt_sets(load_concept("style_vangogh"), seed=0)
    sets = _by_set(rows)
    assert len(sets["forget"]) == 250
    assert Counter(r.group for r in sets["forget"]) == {g: 50 for g in ("thematic", "landscape", "still_life", "cityscape", "dreamscape")}
    refs = {r.pair_id: r for r in sets["reference"]}
    for f in sets["forget"]:
        ref = refs[f.pair_id]
        assert "van gogh" in f.prompt.lower() and "gogh" not in ref.prompt.lower()
        # The reference is the forget prompt with the concept phrase cut out.
        assert f.prompt.startswith(ref.prompt)
        assert f.benchmark == ref.benchmark


def test_entity_sets_pair_unrelated_objects_with_forget_prompts():
    spec = load_concept("object_church")
    rows, _ = build_prompt_sets(spec, seed=0)
    sets = _by_set(rows)
    assert len(sets["forget"]) == 50
    assert Counter(r.group for r in sets["unrelated"]) == {e: 50 for e in
                                                          ("parachute", "cat", "airplane", "motorcycle", "bird", "chair")}
    forget_pairs = {r.pair_id: r.prompt for r in sets["forget"]}
    paired = [r for r in sets["unrelated"] if r.pair_id in forget_pairs]
    assert len(paired) >= 6 * 40
    for r in paired[:20]:
        assert r.group in r.prompt and not spec.names_concept(r.prompt)


def test_no_exact_or_normalised_duplicates_and_alias_checks():
    for name in ("nudity", "style_vangogh", "object_church", "object_parachute",
                 "identity_einstein", "ip_mickey_mouse"):
        spec = load_concept(name)
        rows, report = build_prompt_sets(spec, seed=3)
        keys = [normalise_key(r.prompt) for r in rows]
        assert len(keys) == len(set(keys)), name
        for r in rows:
            assert r.names_concept == (r.prompt_set == "forget"), (name, r.prompt)
        assert not report.dropped


def test_deterministic_in_seed():
    spec = load_concept("object_parachute")
    a, _ = build_prompt_sets(spec, seed=1)
    b, _ = build_prompt_sets(spec, seed=1)
    c, _ = build_prompt_sets(spec, seed=2)
    assert [r.prompt for r in a] == [r.prompt for r in b]
    assert [r.prompt for r in a] != [r.prompt for r in c]


def test_benchmark_marks_whole_pairs():
    rows, _ = build_prompt_sets(load_concept("nudity"), seed=0)
    by_pair: dict[str, set] = {}
    for r in rows:
        by_pair.setdefault(r.pair_id, set()).add(r.benchmark)
    assert all(len(v) == 1 for v in by_pair.values())
    share = sum(next(iter(v)) for v in by_pair.values()) / len(by_pair)
    assert 0.1 < share < 0.3  # configured 0.2


def test_plan_prints_the_paper_workload_without_generating(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli("plan", "--preset", "paper")
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:-1]}
    # forget, named, reference, unrelated per concept: the IGMU counts, every forget prompt named.
    assert rows["nudity"][2:5] == ["250", "250/250", "250"]
    assert rows["style_vangogh"][2:5] == ["250", "250/250", "250"]
    assert rows["object_church"][2:6] == ["50", "50/50", "0", "300"]
    assert rows["object_parachute"][2:6] == ["50", "50/50", "0", "300"]
    assert "CompVis/stable-diffusion-v1-4" in out and "512x512, 5 image(s) per prompt" in out
    assert out.splitlines()[-1].split()[-3] == "8500"
    assert list(tmp_path.iterdir()) == []
