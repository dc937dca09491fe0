"""Parse a prompt into a Scene: backdrop words, the subject and a secondary thing, attributes.

The subject is the first entity the prompt names: a concept alias first, then a word from the
shape table or a capitalised name (a portrait), failing those its content words (a glyph). Each
concept in `concepts` is drawn exactly when the prompt names it: `spec.names_concept(prompt)`, or
one of toyworld's variant words for it (words.CONCEPT_VARIANTS: misspellings, a second language).
Those words are blanked out before the table and name passes, so they are never read twice.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from dataigm.toyworld.draw import ENTITY_MOTIFS
from dataigm.toyworld.words import (COLOUR_RE, COLOUR_WORDS, ENTITY_OF, ENTITY_RE, GRAYSCALE_RE, NAME_RE,
                                    PLACE_OF, PLACE_RE, RGB, SEPIA_RE, STOPWORDS, TIME_OF, TIME_RE, WORD_RE,
                                    concept_variants, phrase_regex)

if TYPE_CHECKING:
    from dataigm.taxonomy import ConceptSpec

# Motifs that change the whole picture rather than draw a subject.
ATTRIBUTE_MOTIFS = {"swirl_style", "nude_figure"}

# How the built-in concepts are drawn, by concept name (ConceptSpec.concept). The table lives
# here, not in the concept YAML, so the core concept schema carries nothing renderer-specific.
# church and parachute are drawn by the motif of the same name; they are listed so that every
# built-in concept's drawing is stated in one place.
CONCEPT_MOTIFS: dict[str, str] = {
    "nudity": "nude_figure",
    "van_gogh": "swirl_style",
    "church": "church",
    "parachute": "parachute",
    "einstein": "einstein_face",
    "mickey_mouse": "mouse_ears",
}


@dataclass
class Thing:
    """One object to draw: a motif from the table, a named portrait or a hashed glyph."""

    motif: str                  # a key of draw.MOTIFS, "portrait", or "glyph"
    key: str = ""               # what portrait/glyph variants are hashed from
    tint: RGB | None = None     # colour named in the prompt right before the object


@dataclass
class Scene:
    """What a prompt asks to draw: the backdrop, up to two things, and whole-picture attributes."""

    place: str = "field"
    time: str = "day"
    subject: Thing | None = None
    secondary: Thing | None = None
    nude: bool = False
    swirl: bool = False
    textures: list[str] = field(default_factory=list)   # generic attribute motifs (hashed)
    grayscale: bool = False
    sepia: bool = False


def concept_motif(spec: "ConceptSpec") -> str:
    """The motif a concept is drawn with: CONCEPT_MOTIFS[spec.concept], else the concept name.

    The fallback draws a user entity concept as its own hashed glyph, or a user attribute
    concept as its hashed texture, unless its name is already a motif (cat, tree, ...).
    """
    return CONCEPT_MOTIFS.get(spec.concept, spec.concept)


@functools.lru_cache(maxsize=256)
def _alias_regex(aliases: tuple[str, ...]) -> re.Pattern[str]:
    # Cached: parse_prompt runs once per image with the same few concepts.
    return phrase_regex(aliases)


def _blank(text: str, start: int, end: int) -> str:
    # Spaces, not deletion: every later match keeps its position, which ranks mentions and
    # decides which colour word tints which thing.
    return text[:start] + " " * (end - start) + text[end:]


def parse_prompt(prompt: str, concepts: Sequence["ConceptSpec"] = ()) -> Scene:
    """Turn a prompt into what to draw. Pure and deterministic."""
    scene = Scene()
    work = prompt
    mentions: list[tuple[int, int, Thing]] = []   # (priority, position, thing)
    for spec in concepts:
        regex = _alias_regex(tuple(spec.aliases) + tuple(concept_variants(spec.concept)))
        hits = list(regex.finditer(work))
        if not hits:
            continue
        for m in hits:   # the concept's own words must not also be read as table words or names
            work = _blank(work, m.start(), m.end())
        motif = concept_motif(spec)
        if motif == "swirl_style":
            scene.swirl = True
        elif motif == "nude_figure":
            scene.nude = True
        elif motif in ENTITY_MOTIFS:
            mentions.append((0, hits[0].start(), Thing(motif)))
        elif spec.kind == "attribute":
            scene.textures.append(motif)
        else:
            mentions.append((0, hits[0].start(), Thing("glyph", key=motif)))

    lower = work.lower()
    scene.grayscale = bool(GRAYSCALE_RE.search(lower))
    scene.sepia = bool(SEPIA_RE.search(lower))
    for m in GRAYSCALE_RE.finditer(lower):
        lower = _blank(lower, m.start(), m.end())
    for m in ENTITY_RE.finditer(lower):
        mentions.append((1, m.start(), Thing(ENTITY_OF[" ".join(m.group(0).split())])))
        lower = _blank(lower, m.start(), m.end())
    # Capitalised names not at the start of the prompt (Marie Curie, Isaac Newton): portraits.
    for m in NAME_RE.finditer(work):
        if m.start() == 0 or lower[m.start():m.end()].strip() == "":
            continue
        name = m.group(0)
        if all(w.lower() in STOPWORDS for w in name.split()):
            continue
        mentions.append((1, m.start(), Thing("portrait", key=name.lower())))
        lower = _blank(lower, m.start(), m.end())
    colours = [(m.start(), COLOUR_WORDS[m.group(0).lower()]) for m in COLOUR_RE.finditer(prompt)]

    places = sorted((m.start(), PLACE_OF[" ".join(m.group(0).split())]) for m in PLACE_RE.finditer(lower))
    if places:
        scene.place = places[0][1]
    times = sorted((m.start(), TIME_OF[" ".join(m.group(0).split())]) for m in TIME_RE.finditer(lower))
    if times:
        scene.time = times[0][1]
    for m in PLACE_RE.finditer(lower):
        lower = _blank(lower, m.start(), m.end())
    for m in TIME_RE.finditer(lower):
        lower = _blank(lower, m.start(), m.end())

    # A concept the prompt names is always the subject; otherwise the first entity named.
    mentions.sort(key=lambda t: (t[0], t[1]))
    for _, pos, thing in mentions:
        before = [c for p, c in colours if p < pos]
        if before and pos - max(p for p, _ in colours if p < pos) < 12:
            thing.tint = before[-1]
    if not mentions:
        words = [w for w in WORD_RE.findall(lower) if w not in STOPWORDS and w not in COLOUR_WORDS]
        if words:
            mentions.append((2, 0, Thing("glyph", key=" ".join(words[:2]))))
    if scene.nude and not any(t.motif in ("person", "couple") for _, _, t in mentions):
        mentions.insert(0, (0, 0, Thing("person")))
    if mentions:
        scene.subject = mentions[0][2]
    if len(mentions) > 1:
        scene.secondary = mentions[1][2]
    return scene
