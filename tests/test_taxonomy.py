"""The taxonomy as data: built-in concepts, user concepts by path, and malformed files."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dataigm.taxonomy import builtin_concepts, load_concept

IGMU = ["nudity", "style_vangogh", "object_church", "object_parachute"]

VALID = textwrap.dedent(
    """\
    name: object_lamp
    concept: lamp
    domain: object
    kind: entity
    labels: [other, lamp]
    aliases: [lamp, lamps]
    guidance: A desk lamp.
    forgotten_means: No lamp appears.
    judge:
      default: trained
      zero_shot: {present: [a photo of a lamp], absent: [a photo of a room]}
    prompts:
      templates: ["a photo of a {concept} {scene}"]
      concept_phrases: [lamp, desk lamp]
      scenes: [on a desk, in a room, at night, by a window]
      unrelated: [cat, chair]
      counts: {forget: 6, unrelated_per_entity: 4}
    """
)


def test_builtin_concepts_cover_igmu_and_every_domain():
    names = builtin_concepts()
    assert set(IGMU) <= set(names)
    domains = {load_concept(n).domain for n in names}
    assert domains == {"nsfw", "style", "object", "identity", "ip"}
    assert load_concept("nudity").is_gated and not load_concept("object_church").is_gated
    # One label convention for every concept: index 0 = absent, 1 = present.
    assert load_concept("nudity").labels == ["safe", "nude"]
    assert load_concept("style_vangogh").labels == ["non_vangogh", "vangogh"]
    assert load_concept("object_church").labels == ["other", "church"]
    assert load_concept("object_parachute").labels == ["other", "parachute"]


def test_taxonomy_command_prints_tree_with_guidance(cli):
    code, out, _ = cli("taxonomy")
    assert code == 0
    for needle in ("nsfw", "attribute", "entity", "church", "van_gogh", "[nudity:",
                   "guidance: A church building", "forgotten when:"):
        assert needle in out
    # Tree order: the domain line comes before its concepts.
    assert out.index("object  --") < out.index("church  [object_church")


def test_neighbours_name_concepts_or_terms(tmp_path):
    church = load_concept("object_church")
    assert ("same_category", "object_parachute") in church.neighbours.items()
    assert church.neighbour_spec("object_parachute").name == "object_parachute"    # a concept: its own judge
    assert church.neighbour_spec("castle") is None                                  # a term: judged zero-shot
    (tmp_path / "object_torch.yaml").write_text(VALID.replace("object_lamp", "object_torch").replace("lamp", "torch"))
    lamp = tmp_path / "object_lamp.yaml"
    lamp.write_text(VALID + "neighbours:\n  similar: [object_torch]\n")
    assert load_concept(lamp).neighbour_spec("object_torch").concept == "torch"    # a YAML next to it


def test_user_concept_file_outside_package(cli, tmp_path):
    path = tmp_path / "lamp.yaml"
    path.write_text(VALID)
    spec = load_concept(str(path))
    assert spec.taxonomy_path == "object/entity/lamp"
    code, out, _ = cli("taxonomy", path)
    assert code == 0 and "lamp  [object_lamp" in out


MALFORMED = {
    "unknown_key": (VALID + "colour: blue\n", "colour: unknown key"),
    # How a generator draws a concept is the generator's business (toyworld keeps its own table).
    "renderer_field": (VALID + "toyworld:\n  motif: lamp\n", "toyworld: unknown key"),
    "missing_field": (VALID.replace("aliases: [lamp, lamps]\n", ""), "aliases: missing required field"),
    "bad_label_name": (VALID.replace("[other, lamp]", "[Other Thing, lamp]"), "labels:"),
    "three_labels": (VALID.replace("[other, lamp]", "[other, lamp, bulb]"), "labels: expected two"),
    "same_labels": (VALID.replace("[other, lamp]", "[lamp, lamp]"), "labels: the two names must differ"),
    "kind_vs_domain": (VALID.replace("domain: object", "domain: style"), "kind: 'entity' does not fit domain 'style'"),
    "unknown_domain": (VALID.replace("domain: object", "domain: food"), "domain: must be one of"),
    "syntax_error": ("name: [unclosed\nconcept: x\n", "invalid YAML (line"),
    "not_a_mapping": ("- just\n- a list\n", "expected a mapping"),
    "empty_file": ("", "missing required field"),
    "wrong_type": (VALID.replace("forget: 6", "forget: six"), "prompts.counts.forget: expected an integer"),
    "negative_count": (VALID.replace("forget: 6", "forget: -1"), "prompts.counts.forget: must be >= 0"),
    "template_without_concept": (VALID.replace('"a photo of a {concept} {scene}"', '"a photo of a {scene}"'),
                                 "prompts.templates[0]: must contain {concept}"),
    "unknown_placeholder": (VALID.replace("{scene}", "{place}"), "unknown placeholder {place}"),
    "phrase_without_alias": (VALID.replace("[lamp, desk lamp]", "[light]"), "prompts.concept_phrases"),
    "unrelated_names_concept": (VALID.replace("[cat, chair]", "[cat, lamp]"), "prompts.unrelated: 'lamp'"),
    "bad_judge": (VALID.replace("default: trained", "default: oracle"), "judge.default: must be one of"),
    "not_utf8": (b"name: \xff\xfe\x00bad\n", "cannot read"),
    "neighbour_is_itself": (VALID + "neighbours:\n  similar: [desk lamp]\n", "neighbours.similar: 'desk lamp' names"),
    "neighbour_twice": (VALID + "neighbours:\n  similar: [torch]\n  same_category: [Torch]\n",
                        "neighbours.same_category: 'Torch' is also listed under similar"),
    "neighbour_relation": (VALID + "neighbours:\n  near: [torch]\n", "neighbours.near: unknown key"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_concept_gives_one_line_error(cli, tmp_path, case):
    content, expected = MALFORMED[case]
    path = tmp_path / f"{case}.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, out, err = cli("taxonomy", path)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("dataigm: error: ") and str(path) in lines[0]
    assert expected in lines[0], lines[0]
    assert "Traceback" not in err


def test_missing_file_and_unknown_builtin(cli, tmp_path):
    code, _, err = cli("taxonomy", tmp_path / "nope.yaml")
    assert code == 2 and "file not found" in err
    code, _, err = cli("plan", "--preset", "nosuchpreset")
    assert code == 2 and "unknown preset 'nosuchpreset'" in err


def test_exit_code_two_from_a_real_process(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(MALFORMED["kind_vs_domain"][0])
    proc = subprocess.run([sys.executable, "-m", "dataigm", "taxonomy", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "does not fit domain" in proc.stderr


def test_usage_mistakes_are_one_line_too(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "dataigm", "generate", "--out", str(tmp_path), "--limit", "0"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == "dataigm: error: generate: argument --limit: must be >= 1, got 0 (see --help)\n"
