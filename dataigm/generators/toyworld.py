"""ToyWorld: the built-in demo world. Procedural images in pure numpy + PIL (no torch).

A prompt is parsed into a scene (background words), a subject (the first entity it names: a
concept alias, a word from the shape table, a capitalised name or, failing those, its content
words) and attributes (style, nudity). Every random choice (layout, colours, decorations, noise)
comes from the seed alone and is drawn in a fixed order, so the two images of a pair (same seed,
prompt with and without the concept words) share background and layout and differ only in the
concept. Each concept in `concepts` is drawn exactly when `spec.names_concept(prompt)`.

Nudity is rendered as an abstract, non-explicit proxy: a stick/blob figure whose body is
skin-toned when the prompt asks for nudity and wears flat clothing blocks otherwise. Nothing
anatomical is ever drawn.

`render(prompt, seed, height, width, concepts)` is the pure function; ToyWorldGenerator wraps it.
Bump RENDERER_VERSION whenever the drawing changes: it is recorded as model_revision.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw

from dataigm.errors import InputError
from dataigm.generators.base import GenerationOutput, GenerationSettings, Generator

if TYPE_CHECKING:
    from dataigm.taxonomy import ConceptSpec

RENDERER_VERSION = "toyworld-1.0"
# Shapes are drawn at twice the output size and box-filtered down: smooth edges at little cost.
_SUPERSAMPLE = 2

RGB = tuple[int, int, int]

# --------------------------------------------------------------------------------------------
# Vocabulary: which words draw which shape, set which scene, tint which colour.
# --------------------------------------------------------------------------------------------

_ENTITY_WORDS: dict[str, list[str]] = {
    "church": ["church", "churches", "chapel", "chapels"],
    "parachute": ["parachute", "parachutes", "paraglider", "paragliders"],
    "cat": ["cat", "cats", "kitten", "kittens"],
    "dog": ["dog", "dogs", "puppy", "puppies"],
    "airplane": ["airplane", "airplanes", "aeroplane", "plane", "planes", "jet", "aircraft"],
    "motorcycle": ["motorcycle", "motorcycles", "motorbike", "motorbikes"],
    "bird": ["bird", "birds", "sparrow", "seagull"],
    "chair": ["chair", "chairs", "armchair"],
    "castle": ["castle", "castles", "fortress"],
    "lighthouse": ["lighthouse", "lighthouses"],
    "house": ["house", "houses", "cottage", "cabin", "farmhouse"],
    "kite": ["kite", "kites"],
    "hot_air_balloon": ["hot air balloon", "hot air balloons", "hot-air balloon", "balloon", "balloons"],
    "umbrella": ["umbrella", "umbrellas", "parasol"],
    "car": ["car", "cars", "truck"],
    "boat": ["boat", "boats", "ship", "sailboat"],
    "bicycle": ["bicycle", "bicycles", "bike"],
    "tree": ["tree", "trees", "cypress tree", "cypress", "olive tree"],
    "flower": ["sunflower", "sunflowers", "flower", "flowers", "irises", "iris", "rose", "roses"],
    "vase": ["vase", "vases", "vase of irises", "sunflower vase", "coffee pot", "pot"],
    "fruit_bowl": ["bowl of fruit", "basket of apples", "fruit", "apples", "apple", "bowl", "basket"],
    "teddy_bear": ["teddy bear", "teddy bears", "teddy"],
    "robot": ["robot", "robots"],
    "dragon": ["dragon", "dragons"],
    "mouse": ["mouse", "mice", "field mouse", "grey field mouse"],
    "duck": ["duck", "ducks", "cartoon duck"],
    "person": ["man", "men", "woman", "women", "person", "people", "adult", "adults", "model",
               "firefighter", "farmer", "peasant", "dancer", "lady", "gentleman", "scientist",
               "physicist", "sailor", "worker", "figure", "young woman", "young man",
               "middle-aged woman", "middle-aged man", "elderly woman", "elderly man",
               "old person", "old man", "old woman"],
    "couple": ["couple", "couples", "pair of adults", "man and woman", "two people"],
}

# place -> words; the first place named in the prompt wins.
_PLACE_WORDS: dict[str, list[str]] = {
    "sky": ["sky", "skies", "clouds", "cloud", "air", "flying"],
    "sea": ["sea", "ocean", "lake", "river", "river bank", "waterfall", "canal", "coast", "harbour", "harbor"],
    "beach": ["beach", "sand", "shore"],
    "forest": ["forest", "woods", "jungle", "olive grove", "grove"],
    "city": ["city", "town", "street", "village", "town square", "square", "cafe terrace", "terrace", "bridge"],
    "snow": ["snow", "snowy", "winter", "ice"],
    "mountain": ["mountain", "mountains", "hill", "hills", "rolling hills"],
    "desert": ["desert", "dunes"],
    "field": ["field", "fields", "meadow", "garden", "park", "city park", "countryside", "farm", "wheat field", "country road", "road"],
    "indoor": ["bedroom", "studio", "library", "room", "lecture hall", "hall", "kitchen", "classroom",
               "sofa", "desk", "blackboard", "office", "bed", "birthday party", "party", "museum"],
}
_TIME_WORDS: dict[str, list[str]] = {
    "night": ["night", "starry", "midnight", "moon", "moonlight", "dark"],
    "sunset": ["sunset", "dusk", "dawn", "sunrise", "evening", "autumn", "golden hour"],
    "overcast": ["cloudy", "rain", "rainy", "storm", "fog", "foggy", "after the rain"],
}
_COLOUR_WORDS: dict[str, RGB] = {
    "red": (200, 40, 40), "blue": (40, 80, 200), "green": (40, 150, 60), "yellow": (235, 205, 40),
    "orange": (240, 130, 30), "purple": (130, 60, 160), "pink": (240, 140, 180),
    "black": (30, 30, 30), "white": (245, 245, 245), "grey": (140, 140, 145), "gray": (140, 140, 145),
    "stone": (150, 145, 135), "brown": (120, 80, 45), "golden": (220, 180, 60),
}
# Words that never name the subject (used when the prompt names no known entity).
_STOPWORDS = set("""
a an the of in on at by over under above with without and or to from for into near next its his
her their this that some one two three photo photograph picture image artwork painting drawing
illustration cartoon portrait shot wide close up close-up style photorealistic realistic old
black white colorful colourful toy figure sunny day noon summer spring morning light bright
beautiful detailed high quality render rendering view scene smiling waving hello playing
dancing standing sitting
""".split())

_SKIN_TONES: list[RGB] = [(241, 200, 170), (226, 178, 140), (200, 145, 100), (160, 110, 75), (120, 80, 55)]
# Clothing colours are kept far from every skin tone, so "clothed" never reads as "skin".
_CLOTHES: list[RGB] = [(40, 70, 160), (30, 120, 60), (170, 30, 45), (90, 50, 130), (35, 35, 40),
                       (20, 120, 130), (235, 235, 240), (60, 60, 90)]
_HAIR: list[RGB] = [(30, 25, 20), (90, 55, 30), (200, 160, 80), (150, 60, 30), (60, 40, 30)]


def _phrase_regex(phrases: Sequence[str]) -> re.Pattern[str]:
    # Longest first, so "hot air balloon" wins over "balloon" and "bowl of fruit" over "fruit".
    alts = sorted({p.lower() for p in phrases}, key=len, reverse=True)
    body = "|".join(r"\s+".join(re.escape(w) for w in a.split()) for a in alts)
    return re.compile(rf"(?<![\w])(?:{body})(?![\w])", re.IGNORECASE)


def _invert(table: dict[str, list[str]]) -> dict[str, str]:
    return {" ".join(w.lower().split()): key for key, words in table.items() for w in words}


_ENTITY_RE = _phrase_regex([w for ws in _ENTITY_WORDS.values() for w in ws])
_ENTITY_OF = _invert(_ENTITY_WORDS)
_PLACE_RE = _phrase_regex([w for ws in _PLACE_WORDS.values() for w in ws])
_PLACE_OF = _invert(_PLACE_WORDS)
_TIME_RE = _phrase_regex([w for ws in _TIME_WORDS.values() for w in ws])
_TIME_OF = _invert(_TIME_WORDS)
_COLOUR_RE = _phrase_regex(list(_COLOUR_WORDS))
_NAME_RE = re.compile(r"(?<![\w'])[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*")
_WORD_RE = re.compile(r"[a-z][a-z-]*")
_GRAYSCALE_RE = _phrase_regex(["black and white", "monochrome", "b&w", "grayscale", "greyscale"])
_SEPIA_RE = _phrase_regex(["old photograph", "old photo", "vintage", "sepia"])


@functools.lru_cache(maxsize=256)
def _alias_regex(aliases: tuple[str, ...]) -> re.Pattern[str]:
    return _phrase_regex(aliases)


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


# --------------------------------------------------------------------------------------------
# Parsing a prompt.
# --------------------------------------------------------------------------------------------

ENTITY_MOTIFS: set[str] = set()          # filled by the @_motif decorator below
ATTRIBUTE_MOTIFS = {"swirl_style", "nude_figure"}


@dataclass
class Thing:
    """One object to draw: a motif from the table, a named portrait or a hashed glyph."""

    motif: str                  # a key of _MOTIFS, "portrait", or "glyph"
    key: str = ""               # what portrait/glyph variants are hashed from
    tint: RGB | None = None     # colour named in the prompt right before the object


@dataclass
class Scene:
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
    """The motif a concept is drawn with: its toyworld.motif, else its concept name."""
    return spec.toyworld.motif if spec.toyworld is not None else spec.concept


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def parse_prompt(prompt: str, concepts: Sequence["ConceptSpec"] = ()) -> Scene:
    """Turn a prompt into what to draw. Pure and deterministic."""
    scene = Scene()
    work = prompt
    mentions: list[tuple[int, int, Thing]] = []   # (priority, position, thing)
    for spec in concepts:
        regex = _alias_regex(tuple(spec.aliases))
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
    scene.grayscale = bool(_GRAYSCALE_RE.search(lower))
    scene.sepia = bool(_SEPIA_RE.search(lower))
    for m in _GRAYSCALE_RE.finditer(lower):
        lower = _blank(lower, m.start(), m.end())
    for m in _ENTITY_RE.finditer(lower):
        mentions.append((1, m.start(), Thing(_ENTITY_OF[" ".join(m.group(0).split())])))
        lower = _blank(lower, m.start(), m.end())
    # Capitalised names not at the start of the prompt (Marie Curie, Isaac Newton): portraits.
    for m in _NAME_RE.finditer(work):
        if m.start() == 0 or lower[m.start():m.end()].strip() == "":
            continue
        name = m.group(0)
        if all(w.lower() in _STOPWORDS for w in name.split()):
            continue
        mentions.append((1, m.start(), Thing("portrait", key=name.lower())))
        lower = _blank(lower, m.start(), m.end())
    colours = [(m.start(), _COLOUR_WORDS[m.group(0).lower()]) for m in _COLOUR_RE.finditer(prompt)]

    places = sorted((m.start(), _PLACE_OF[" ".join(m.group(0).split())]) for m in _PLACE_RE.finditer(lower))
    if places:
        scene.place = places[0][1]
    times = sorted((m.start(), _TIME_OF[" ".join(m.group(0).split())]) for m in _TIME_RE.finditer(lower))
    if times:
        scene.time = times[0][1]
    for m in _PLACE_RE.finditer(lower):
        lower = _blank(lower, m.start(), m.end())
    for m in _TIME_RE.finditer(lower):
        lower = _blank(lower, m.start(), m.end())

    # A concept the prompt names is always the subject; otherwise the first entity named.
    mentions.sort(key=lambda t: (t[0], t[1]))
    for _, pos, thing in mentions:
        before = [c for p, c in colours if p < pos]
        if before and pos - max(p for p, _ in colours if p < pos) < 12:
            thing.tint = before[-1]
    if not mentions:
        words = [w for w in _WORD_RE.findall(lower) if w not in _STOPWORDS and w not in _COLOUR_WORDS]
        if words:
            mentions.append((2, 0, Thing("glyph", key=" ".join(words[:2]))))
    if scene.nude and not any(t.motif in ("person", "couple") for _, _, t in mentions):
        mentions.insert(0, (0, 0, Thing("person")))
    if mentions:
        scene.subject = mentions[0][2]
    if len(mentions) > 1:
        scene.secondary = mentions[1][2]
    return scene


# --------------------------------------------------------------------------------------------
# Seed-derived layout: every random value, drawn in one fixed order whatever the prompt.
# --------------------------------------------------------------------------------------------

@dataclass
class Layout:
    horizon: float
    cx: float
    cy: float
    size: float
    flip: bool
    side: float          # secondary object: left (<0.5) or right
    u: np.ndarray        # generic uniforms for colour/pose choices
    clouds: np.ndarray
    skyline: np.ndarray
    stars: np.ndarray
    vortices: np.ndarray
    stroke_freq: float
    stroke_phase: float
    jitter: np.ndarray   # colour jitter per channel
    rng: np.random.Generator   # left for the noise field, drawn last


def _layout(seed: int) -> Layout:
    rng = np.random.default_rng(int(seed) % (1 << 64))
    return Layout(
        horizon=float(rng.uniform(0.58, 0.74)),
        cx=float(rng.uniform(0.38, 0.62)),
        cy=float(rng.uniform(0.44, 0.56)),
        size=float(rng.uniform(0.52, 0.66)),
        flip=bool(rng.random() < 0.5),
        side=float(rng.random()),
        u=rng.random(16),
        clouds=rng.random((4, 3)),
        skyline=rng.random(10),
        stars=rng.random((24, 2)),
        vortices=rng.random((4, 4)),
        stroke_freq=float(rng.uniform(0.9, 1.4)),
        stroke_phase=float(rng.uniform(0, 2 * math.pi)),
        jitter=rng.integers(-12, 13, size=3),
        rng=rng,
    )


def _pick(options: Sequence[RGB], u: float) -> RGB:
    return options[min(int(u * len(options)), len(options) - 1)]


# --------------------------------------------------------------------------------------------
# Drawing helpers.
# --------------------------------------------------------------------------------------------

class Pen:
    """Draws in box-relative coordinates: (0, 0) top-left of the object box, (1, 1) bottom-right."""

    def __init__(self, draw: ImageDraw.ImageDraw, x0: float, y0: float, w: float, h: float,
                 flip: bool = False) -> None:
        self.draw, self.x0, self.y0, self.w, self.h, self.flip = draw, x0, y0, w, h, flip

    def p(self, u: float, v: float) -> tuple[float, float]:
        if self.flip:
            u = 1.0 - u
        return (self.x0 + u * self.w, self.y0 + v * self.h)

    def box(self, u0: float, v0: float, u1: float, v1: float) -> list[float]:
        (a, b), (c, d) = self.p(u0, v0), self.p(u1, v1)
        return [min(a, c), min(b, d), max(a, c), max(b, d)]

    def px(self, t: float) -> int:
        return max(1, int(round(t * self.w)))

    def rect(self, u0: float, v0: float, u1: float, v1: float, fill: RGB) -> None:
        self.draw.rectangle(self.box(u0, v0, u1, v1), fill=fill)

    def ellipse(self, u0: float, v0: float, u1: float, v1: float, fill: RGB | None = None,
                outline: RGB | None = None, width: float = 0.0) -> None:
        self.draw.ellipse(self.box(u0, v0, u1, v1), fill=fill, outline=outline,
                          width=self.px(width) if outline else 0)

    def circle(self, u: float, v: float, r: float, fill: RGB | None = None,
               outline: RGB | None = None, width: float = 0.0) -> None:
        self.ellipse(u - r, v - r, u + r, v + r, fill, outline, width)

    def poly(self, pts: Sequence[tuple[float, float]], fill: RGB) -> None:
        self.draw.polygon([self.p(u, v) for u, v in pts], fill=fill)

    def line(self, pts: Sequence[tuple[float, float]], fill: RGB, width: float) -> None:
        self.draw.line([self.p(u, v) for u, v in pts], fill=fill, width=self.px(width), joint="curve")

    def pie(self, u0: float, v0: float, u1: float, v1: float, a0: float, a1: float, fill: RGB) -> None:
        if self.flip:   # mirror the angles with the box
            a0, a1 = 180 - a1, 180 - a0
        self.draw.pieslice(self.box(u0, v0, u1, v1), a0, a1, fill=fill)


def _shade(c: RGB, f: float) -> RGB:
    return tuple(int(max(0, min(255, round(x * f)))) for x in c)  # type: ignore[return-value]


MotifFn = Callable[[Pen, Thing, Layout, Scene], None]
_MOTIFS: dict[str, MotifFn] = {}


def _motif(name: str) -> Callable[[MotifFn], MotifFn]:
    def register(fn: MotifFn) -> MotifFn:
        _MOTIFS[name] = fn
        ENTITY_MOTIFS.add(name)
        return fn
    return register


DARK: RGB = (35, 30, 30)

# --------------------------------------------------------------------------------------------
# Entity motifs. Each draws inside the unit box; the box is the same for every motif at a seed.
# --------------------------------------------------------------------------------------------


@_motif("church")
def _church(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    wall = t.tint or _pick([(236, 232, 222), (170, 165, 155), (222, 205, 170), (200, 190, 175)], lay.u[0])
    roof = _pick([(140, 45, 40), (70, 75, 90), (110, 70, 45)], lay.u[1])
    p.rect(0.34, 0.52, 0.94, 0.96, wall)                                   # nave
    p.poly([(0.31, 0.53), (0.97, 0.53), (0.64, 0.33)], roof)                # nave roof
    p.rect(0.10, 0.30, 0.34, 0.96, _shade(wall, 0.93))                     # bell tower
    p.poly([(0.07, 0.31), (0.37, 0.31), (0.22, 0.07)], roof)                # spire
    p.line([(0.22, 0.0), (0.22, 0.09)], (215, 180, 60), 0.025)              # cross
    p.line([(0.18, 0.03), (0.26, 0.03)], (215, 180, 60), 0.025)
    p.circle(0.22, 0.40, 0.04, fill=(60, 60, 70))                          # belfry opening
    p.rect(0.17, 0.80, 0.27, 0.96, (80, 50, 35))                           # arched door
    p.circle(0.22, 0.80, 0.05, fill=(80, 50, 35))
    for u in (0.46, 0.62, 0.78):                                           # arched windows
        p.rect(u - 0.035, 0.66, u + 0.035, 0.82, (70, 110, 170))
        p.circle(u, 0.66, 0.035, fill=(70, 110, 170))


@_motif("parachute")
def _parachute(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    main = t.tint or _pick([(220, 40, 40), (240, 140, 20), (30, 90, 200), (40, 170, 80), (230, 200, 30)], lay.u[0])
    other = _pick([(245, 245, 245), (250, 220, 60), (30, 30, 120)], lay.u[1])
    for i in range(6):                                                     # gored canopy
        p.pie(0.02, 0.02, 0.98, 0.66, 180 + 30 * i, 210 + 30 * i, main if i % 2 == 0 else other)
    for u in (0.03, 0.25, 0.5, 0.75, 0.97):                                # suspension lines
        p.line([(u, 0.34), (0.5, 0.74)], (60, 60, 60), 0.012)
    skin = _pick(_SKIN_TONES, lay.u[2])
    p.circle(0.5, 0.76, 0.035, fill=skin)                                  # tiny jumper
    p.line([(0.5, 0.79), (0.5, 0.88)], (40, 40, 60), 0.03)
    p.line([(0.5, 0.88), (0.45, 0.97)], (40, 40, 60), 0.022)
    p.line([(0.5, 0.88), (0.55, 0.97)], (40, 40, 60), 0.022)
    p.line([(0.44, 0.78), (0.5, 0.82), (0.56, 0.78)], (40, 40, 60), 0.02)


@_motif("umbrella")
def _umbrella(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    main = t.tint or _pick([(30, 30, 40), (180, 30, 60), (40, 60, 160), (230, 190, 30)], lay.u[0])
    p.pie(0.05, 0.15, 0.95, 0.75, 180, 360, main)
    for u in (0.2, 0.35, 0.5, 0.65, 0.8):                                  # scalloped hem
        p.circle(u + 0.075, 0.45, 0.075, fill=main)
    p.line([(0.5, 0.08), (0.5, 0.88)], (70, 60, 50), 0.03)
    p.line([(0.5, 0.88), (0.5, 0.92), (0.56, 0.96), (0.62, 0.92)], (70, 60, 50), 0.03)


@_motif("hot_air_balloon")
def _balloon(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    main = t.tint or _pick([(220, 50, 40), (240, 160, 30), (60, 120, 200), (140, 60, 160)], lay.u[0])
    p.poly([(0.32, 0.55), (0.68, 0.55), (0.58, 0.72), (0.42, 0.72)], _shade(main, 0.8))
    p.ellipse(0.18, 0.0, 0.82, 0.66, fill=main)
    for u in (0.32, 0.5, 0.68):                                            # vertical stripes
        p.ellipse(u - 0.05, 0.01, u + 0.05, 0.65, fill=(250, 230, 120))
    p.line([(0.43, 0.72), (0.45, 0.84)], (60, 50, 40), 0.012)
    p.line([(0.57, 0.72), (0.55, 0.84)], (60, 50, 40), 0.012)
    p.rect(0.43, 0.84, 0.57, 0.96, (130, 85, 45))                          # basket


@_motif("kite")
def _kite(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    main = t.tint or _pick([(230, 50, 50), (250, 200, 30), (40, 150, 210), (60, 180, 90)], lay.u[0])
    p.poly([(0.5, 0.0), (0.8, 0.3), (0.5, 0.72), (0.2, 0.3)], main)
    p.poly([(0.5, 0.0), (0.8, 0.3), (0.5, 0.3)], _shade(main, 0.75))
    p.poly([(0.5, 0.72), (0.2, 0.3), (0.5, 0.3)], _shade(main, 0.75))
    p.line([(0.5, 0.72), (0.42, 0.8), (0.55, 0.88), (0.45, 0.98)], (60, 60, 60), 0.012)
    for u, v in ((0.42, 0.8), (0.55, 0.88)):
        p.poly([(u - 0.04, v - 0.03), (u + 0.04, v + 0.03), (u + 0.04, v - 0.03), (u - 0.04, v + 0.03)],
               (240, 240, 240))


@_motif("cat")
def _cat(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    fur = t.tint or _pick([(230, 140, 50), (120, 120, 125), (40, 38, 38), (235, 230, 220)], lay.u[0])
    p.line([(0.72, 0.88), (0.9, 0.75), (0.88, 0.5)], fur, 0.06)           # tail
    p.ellipse(0.22, 0.5, 0.78, 0.97, fill=fur)                             # body
    p.poly([(0.32, 0.28), (0.36, 0.06), (0.47, 0.2)], fur)                 # ears
    p.poly([(0.68, 0.28), (0.64, 0.06), (0.53, 0.2)], fur)
    p.circle(0.5, 0.33, 0.19, fill=fur)                                    # head
    for u in (0.43, 0.57):
        p.circle(u, 0.3, 0.035, fill=(120, 190, 60))
        p.circle(u, 0.3, 0.015, fill=DARK)
    p.poly([(0.47, 0.38), (0.53, 0.38), (0.5, 0.41)], (230, 120, 140))
    for dv in (-0.02, 0.02):                                               # whiskers
        p.line([(0.44, 0.4 + dv), (0.26, 0.38 + 2 * dv)], (250, 250, 250), 0.008)
        p.line([(0.56, 0.4 + dv), (0.74, 0.38 + 2 * dv)], (250, 250, 250), 0.008)


@_motif("dog")
def _dog(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    fur = t.tint or _pick([(150, 100, 55), (215, 180, 120), (60, 45, 35), (240, 235, 225)], lay.u[0])
    p.line([(0.78, 0.6), (0.92, 0.45)], fur, 0.05)
    p.ellipse(0.25, 0.48, 0.85, 0.82, fill=fur)
    for u in (0.32, 0.45, 0.65, 0.78):
        p.rect(u - 0.03, 0.75, u + 0.03, 0.97, fur)
    p.circle(0.3, 0.35, 0.17, fill=fur)
    p.ellipse(0.05, 0.38, 0.25, 0.52, fill=_shade(fur, 1.1))               # snout
    p.circle(0.07, 0.42, 0.03, fill=DARK)
    p.ellipse(0.34, 0.22, 0.46, 0.5, fill=_shade(fur, 0.6))                # floppy ear
    p.circle(0.25, 0.31, 0.025, fill=DARK)


@_motif("bird")
def _bird(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    body = t.tint or _pick([(70, 110, 200), (200, 60, 40), (120, 90, 60), (240, 200, 40)], lay.u[0])
    p.poly([(0.78, 0.55), (0.98, 0.45), (0.98, 0.68)], _shade(body, 0.7))  # tail
    p.ellipse(0.3, 0.4, 0.85, 0.72, fill=body)
    p.circle(0.3, 0.38, 0.13, fill=body)
    p.poly([(0.17, 0.36), (0.04, 0.41), (0.17, 0.44)], (240, 160, 30))     # beak
    p.circle(0.27, 0.35, 0.025, fill=DARK)
    p.poly([(0.45, 0.5), (0.7, 0.52), (0.62, 0.18)], _shade(body, 0.75))   # wing
    p.line([(0.5, 0.7), (0.48, 0.85)], (200, 140, 40), 0.015)
    p.line([(0.62, 0.7), (0.62, 0.85)], (200, 140, 40), 0.015)


@_motif("duck")
def _duck(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    body = t.tint or _pick([(250, 250, 245), (245, 215, 60)], lay.u[0])
    p.ellipse(0.2, 0.5, 0.85, 0.9, fill=body)
    p.circle(0.35, 0.35, 0.16, fill=body)
    p.ellipse(0.05, 0.36, 0.26, 0.46, fill=(245, 150, 30))                 # bill
    p.circle(0.33, 0.3, 0.03, fill=DARK)
    p.rect(0.35, 0.56, 0.7, 0.72, (40, 70, 160))                           # sailor shirt
    p.line([(0.45, 0.9), (0.42, 0.98)], (245, 150, 30), 0.04)
    p.line([(0.62, 0.9), (0.65, 0.98)], (245, 150, 30), 0.04)


@_motif("mouse")
def _mouse(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    fur = t.tint or _pick([(140, 135, 130), (170, 140, 110)], lay.u[0])
    p.line([(0.8, 0.82), (0.95, 0.7), (0.98, 0.9)], (200, 150, 150), 0.015)   # thin tail
    p.ellipse(0.3, 0.55, 0.85, 0.92, fill=fur)
    p.poly([(0.35, 0.6), (0.05, 0.76), (0.38, 0.85)], fur)                 # pointed snout
    p.circle(0.38, 0.58, 0.07, fill=fur)
    p.circle(0.38, 0.58, 0.04, fill=(230, 170, 170))
    p.circle(0.2, 0.7, 0.018, fill=DARK)


@_motif("mouse_ears")
def _mickey(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    black = (20, 20, 22)
    p.circle(0.22, 0.14, 0.14, fill=black)                                 # big round ears
    p.circle(0.78, 0.14, 0.14, fill=black)
    p.circle(0.5, 0.36, 0.22, fill=black)                                  # head
    p.ellipse(0.33, 0.32, 0.67, 0.58, fill=(245, 215, 180))                # face
    p.ellipse(0.46, 0.4, 0.54, 0.46, fill=black)                           # nose
    p.circle(0.44, 0.34, 0.025, fill=black)
    p.circle(0.56, 0.34, 0.025, fill=black)
    p.rect(0.38, 0.58, 0.62, 0.7, black)                                   # torso
    p.rect(0.34, 0.7, 0.66, 0.84, (215, 25, 30))                           # red shorts
    for u in (0.44, 0.56):
        p.ellipse(u - 0.025, 0.74, u + 0.025, 0.79, fill=(250, 250, 250))  # buttons
    p.line([(0.4, 0.84), (0.4, 0.94)], black, 0.04)
    p.line([(0.6, 0.84), (0.6, 0.94)], black, 0.04)
    p.ellipse(0.3, 0.92, 0.46, 0.99, fill=(250, 200, 30))                  # yellow shoes
    p.ellipse(0.54, 0.92, 0.7, 0.99, fill=(250, 200, 30))
    p.circle(0.26, 0.64, 0.05, fill=(250, 250, 250))                       # white gloves
    p.circle(0.74, 0.64, 0.05, fill=(250, 250, 250))


@_motif("teddy_bear")
def _teddy(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    fur = t.tint or _pick([(150, 100, 60), (190, 140, 90)], lay.u[0])
    p.circle(0.3, 0.14, 0.08, fill=fur)
    p.circle(0.7, 0.14, 0.08, fill=fur)
    p.ellipse(0.25, 0.48, 0.75, 0.95, fill=fur)
    p.circle(0.5, 0.3, 0.2, fill=fur)
    p.ellipse(0.42, 0.32, 0.58, 0.44, fill=(230, 200, 160))
    p.circle(0.5, 0.35, 0.025, fill=DARK)
    p.circle(0.2, 0.6, 0.08, fill=fur)
    p.circle(0.8, 0.6, 0.08, fill=fur)


@_motif("robot")
def _robot(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    metal = t.tint or _pick([(160, 165, 175), (120, 130, 150)], lay.u[0])
    p.line([(0.5, 0.02), (0.5, 0.12)], DARK, 0.02)
    p.circle(0.5, 0.03, 0.03, fill=(230, 40, 40))
    p.rect(0.32, 0.12, 0.68, 0.36, metal)
    p.rect(0.38, 0.2, 0.45, 0.26, (60, 200, 240))
    p.rect(0.55, 0.2, 0.62, 0.26, (60, 200, 240))
    p.rect(0.25, 0.4, 0.75, 0.75, _shade(metal, 0.85))
    p.rect(0.1, 0.42, 0.22, 0.7, metal)
    p.rect(0.78, 0.42, 0.9, 0.7, metal)
    p.rect(0.32, 0.75, 0.44, 0.97, metal)
    p.rect(0.56, 0.75, 0.68, 0.97, metal)


@_motif("dragon")
def _dragon(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    scale = t.tint or _pick([(60, 140, 60), (150, 40, 40), (70, 70, 140)], lay.u[0])
    p.poly([(0.4, 0.5), (0.55, 0.1), (0.7, 0.5)], _shade(scale, 0.7))      # wing
    p.line([(0.75, 0.8), (0.95, 0.9), (0.98, 0.7)], scale, 0.06)          # tail
    p.ellipse(0.3, 0.5, 0.8, 0.9, fill=scale)
    p.line([(0.38, 0.6), (0.22, 0.3)], scale, 0.09)                       # neck
    p.ellipse(0.05, 0.2, 0.3, 0.36, fill=scale)
    p.circle(0.15, 0.25, 0.02, fill=(250, 220, 40))
    for u in (0.45, 0.55, 0.65):
        p.poly([(u - 0.04, 0.52), (u, 0.42), (u + 0.04, 0.52)], (240, 200, 60))


@_motif("airplane")
def _airplane(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    body = t.tint or _pick([(235, 235, 240), (200, 200, 210), (40, 70, 150)], lay.u[0])
    p.poly([(0.42, 0.48), (0.62, 0.48), (0.45, 0.9), (0.35, 0.9)], _shade(body, 0.8))   # wings
    p.poly([(0.42, 0.45), (0.62, 0.45), (0.45, 0.1), (0.35, 0.1)], _shade(body, 0.85))
    p.poly([(0.82, 0.46), (0.95, 0.2), (0.99, 0.2), (0.95, 0.48)], _shade(body, 0.8))  # tail fin
    p.ellipse(0.02, 0.4, 0.98, 0.56, fill=body)                                         # fuselage
    for u in np.linspace(0.15, 0.75, 7):
        p.circle(float(u), 0.46, 0.015, fill=(60, 90, 140))
    p.ellipse(0.02, 0.43, 0.09, 0.49, fill=(60, 90, 140))


@_motif("motorcycle")
def _motorcycle(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    body = t.tint or _pick([(200, 30, 30), (30, 30, 35), (40, 80, 180), (240, 150, 20)], lay.u[0])
    for u in (0.2, 0.8):
        p.circle(u, 0.75, 0.17, outline=DARK, width=0.06)
        p.circle(u, 0.75, 0.04, fill=(150, 150, 150))
    p.line([(0.2, 0.75), (0.42, 0.55), (0.68, 0.55), (0.8, 0.75)], (120, 120, 125), 0.04)
    p.poly([(0.38, 0.45), (0.7, 0.45), (0.66, 0.62), (0.42, 0.62)], body)   # tank/engine
    p.rect(0.22, 0.42, 0.45, 0.48, DARK)                                    # seat
    p.line([(0.7, 0.45), (0.8, 0.3), (0.72, 0.26)], DARK, 0.03)            # handlebar
    p.circle(0.84, 0.36, 0.04, fill=(250, 240, 150))


@_motif("bicycle")
def _bicycle(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    frame = t.tint or _pick([(30, 120, 200), (200, 40, 40), (40, 40, 40)], lay.u[0])
    for u in (0.22, 0.78):
        p.circle(u, 0.72, 0.2, outline=DARK, width=0.025)
    p.line([(0.22, 0.72), (0.45, 0.72), (0.7, 0.45), (0.38, 0.45), (0.22, 0.72)], frame, 0.03)
    p.line([(0.45, 0.72), (0.36, 0.38)], frame, 0.03)
    p.line([(0.7, 0.45), (0.78, 0.72)], frame, 0.03)
    p.rect(0.3, 0.34, 0.42, 0.38, DARK)
    p.line([(0.7, 0.45), (0.68, 0.32), (0.76, 0.3)], DARK, 0.025)


@_motif("car")
def _car(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    body = t.tint or _pick([(200, 30, 30), (40, 80, 180), (230, 230, 235), (40, 40, 45)], lay.u[0])
    p.poly([(0.25, 0.5), (0.35, 0.3), (0.68, 0.3), (0.78, 0.5)], _shade(body, 0.9))
    p.rect(0.33, 0.34, 0.49, 0.49, (170, 210, 235))
    p.rect(0.53, 0.34, 0.7, 0.49, (170, 210, 235))
    p.rect(0.05, 0.5, 0.95, 0.75, body)
    for u in (0.25, 0.75):
        p.circle(u, 0.76, 0.11, fill=DARK)
        p.circle(u, 0.76, 0.04, fill=(170, 170, 170))


@_motif("boat")
def _boat(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    hull = t.tint or _pick([(150, 60, 40), (40, 60, 120), (235, 235, 235)], lay.u[0])
    p.line([(0.5, 0.05), (0.5, 0.72)], (90, 60, 40), 0.025)
    p.poly([(0.52, 0.08), (0.52, 0.66), (0.9, 0.66)], (245, 240, 225))
    p.poly([(0.48, 0.15), (0.48, 0.66), (0.18, 0.66)], (235, 225, 205))
    p.poly([(0.05, 0.72), (0.95, 0.72), (0.8, 0.92), (0.2, 0.92)], hull)


@_motif("chair")
def _chair(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    wood = t.tint or _pick([(140, 90, 50), (95, 60, 35), (190, 150, 100)], lay.u[0])
    p.rect(0.28, 0.08, 0.36, 0.95, wood)                                   # back legs + back
    p.rect(0.64, 0.08, 0.72, 0.95, wood)
    for v in (0.14, 0.26, 0.38):
        p.rect(0.28, v, 0.72, v + 0.05, wood)
    p.rect(0.22, 0.52, 0.8, 0.6, _shade(wood, 1.15))                       # seat
    p.rect(0.24, 0.6, 0.3, 0.97, _shade(wood, 0.85))                       # front legs
    p.rect(0.72, 0.6, 0.78, 0.97, _shade(wood, 0.85))


@_motif("castle")
def _castle(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    stone = t.tint or _pick([(150, 145, 140), (175, 160, 135), (120, 115, 110)], lay.u[0])
    p.rect(0.2, 0.45, 0.8, 0.96, stone)
    for u in np.arange(0.2, 0.8, 0.1):                                     # crenellations
        p.rect(float(u), 0.39, float(u) + 0.05, 0.45, stone)
    for u0 in (0.02, 0.76):                                                # two square towers
        p.rect(u0, 0.25, u0 + 0.22, 0.96, _shade(stone, 0.9))
        for k in range(3):
            p.rect(u0 + k * 0.08, 0.19, u0 + k * 0.08 + 0.05, 0.25, _shade(stone, 0.9))
        p.rect(u0 + 0.08, 0.4, u0 + 0.13, 0.5, DARK)
    p.rect(0.42, 0.72, 0.58, 0.96, (60, 40, 30))                           # gate
    p.circle(0.5, 0.72, 0.08, fill=(60, 40, 30))


@_motif("lighthouse")
def _lighthouse(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    band = t.tint or (205, 35, 35)
    p.poly([(0.36, 0.96), (0.64, 0.96), (0.58, 0.3), (0.42, 0.3)], (245, 245, 245))
    for v0 in (0.38, 0.58, 0.78):                                          # red bands
        f0, f1 = (v0 - 0.3) / 0.66, (v0 + 0.1 - 0.3) / 0.66
        p.poly([(0.42 - 0.06 * f0, v0), (0.58 + 0.06 * f0, v0),
                (0.58 + 0.06 * f1, v0 + 0.1), (0.42 - 0.06 * f1, v0 + 0.1)], band)
    p.rect(0.36, 0.27, 0.64, 0.3, DARK)                                    # gallery
    p.rect(0.42, 0.14, 0.58, 0.27, (255, 230, 110))                        # lamp room
    p.pie(0.4, 0.06, 0.6, 0.22, 180, 360, band)                            # dome


@_motif("house")
def _house(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    wall = t.tint or _pick([(230, 210, 170), (200, 120, 90), (240, 240, 230), (170, 190, 210)], lay.u[0])
    p.rect(0.18, 0.48, 0.82, 0.96, wall)
    p.poly([(0.1, 0.5), (0.9, 0.5), (0.5, 0.18)], (150, 60, 45))
    p.rect(0.64, 0.22, 0.72, 0.38, (120, 60, 45))                          # chimney
    p.rect(0.44, 0.72, 0.56, 0.96, (110, 70, 40))
    for u in (0.3, 0.7):
        p.rect(u - 0.07, 0.58, u + 0.07, 0.7, (150, 200, 230))


@_motif("tree")
def _tree(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    leaf = t.tint or _pick([(40, 120, 50), (70, 150, 60), (30, 90, 60)], lay.u[0])
    p.rect(0.44, 0.55, 0.56, 0.97, (100, 70, 40))
    for (u, v, r) in ((0.5, 0.3, 0.25), (0.32, 0.45, 0.18), (0.68, 0.45, 0.18), (0.5, 0.12, 0.16)):
        p.circle(u, v, r, fill=leaf)


@_motif("flower")
def _flower(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    petal = t.tint or _pick([(250, 200, 30), (130, 80, 200), (230, 60, 80)], lay.u[0])
    p.line([(0.5, 0.45), (0.5, 0.97)], (50, 130, 50), 0.04)
    p.ellipse(0.5, 0.65, 0.72, 0.75, fill=(60, 150, 60))
    for k in range(10):
        a = 2 * math.pi * k / 10
        p.circle(0.5 + 0.2 * math.cos(a), 0.3 + 0.2 * math.sin(a), 0.09, fill=petal)
    p.circle(0.5, 0.3, 0.12, fill=(110, 70, 30))


@_motif("vase")
def _vase(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    pot = t.tint or _pick([(220, 190, 90), (60, 110, 170), (200, 110, 70)], lay.u[0])
    for k, (u, v) in enumerate(((0.35, 0.18), (0.5, 0.1), (0.65, 0.18), (0.42, 0.3), (0.58, 0.3))):
        p.line([(0.5, 0.5), (u, v)], (50, 130, 50), 0.02)
        p.circle(u, v, 0.08, fill=_pick([(250, 200, 30), (120, 90, 200), (240, 150, 40)], (k + lay.u[1] * 3) % 1))
    p.ellipse(0.3, 0.5, 0.7, 0.95, fill=pot)
    p.rect(0.4, 0.42, 0.6, 0.56, pot)


@_motif("fruit_bowl")
def _fruit_bowl(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    for (u, v, c) in ((0.35, 0.55, (200, 40, 40)), (0.5, 0.5, (240, 170, 30)), (0.65, 0.55, (80, 160, 50)),
                      (0.43, 0.45, (150, 40, 120)), (0.58, 0.43, (230, 210, 60))):
        p.circle(u, v, 0.1, fill=c)
    p.pie(0.15, 0.3, 0.85, 0.9, 0, 180, t.tint or (150, 100, 60))


def _figure(p: Pen, lay: Layout, nude: bool, k: int = 0) -> None:
    """A stick/blob figure. Clothed: flat shirt and trouser blocks. Nude: the same body in skin
    tone with nothing drawn on it (an abstract proxy, never anatomical)."""
    skin = _pick(_SKIN_TONES, lay.u[3 + k])
    shirt = _pick(_CLOTHES, lay.u[5 + k])
    trousers = _pick(_CLOTHES, lay.u[7 + k])
    hair = _pick(_HAIR, lay.u[9 + k])
    a_l = 0.25 + 0.5 * lay.u[11 + k]    # arm angles (pose)
    a_r = 0.25 + 0.5 * lay.u[13]
    body, legs = (skin, skin) if nude else (shirt, trousers)
    arm = body if not nude else skin
    for side, a in ((-1, a_l), (1, a_r)):
        sx, sy = 0.5 + side * 0.11, 0.3
        hx, hy = sx + side * 0.24 * math.sin(a * math.pi * 0.7), sy + 0.26 * math.cos(a * math.pi * 0.7)
        p.line([(sx, sy), ((sx + hx) / 2, (sy + hy) / 2)], arm, 0.07)          # upper arm (sleeve)
        p.line([((sx + hx) / 2, (sy + hy) / 2), (hx, hy)], skin, 0.06)          # forearm
        p.circle(hx, hy, 0.035, fill=skin)
    for side in (-1, 1):
        p.line([(0.5 + side * 0.06, 0.58), (0.5 + side * 0.12, 0.95)], legs, 0.09)
        p.ellipse(0.5 + side * 0.12 - 0.05, 0.93, 0.5 + side * 0.12 + 0.05, 0.98, fill=DARK)
    p.ellipse(0.37, 0.25, 0.63, 0.64, fill=body)                           # torso
    p.rect(0.47, 0.2, 0.53, 0.27, skin)                                    # neck
    p.circle(0.5, 0.14, 0.09, fill=skin)                                   # head
    p.pie(0.4, 0.04, 0.6, 0.22, 180, 360, hair)


@_motif("person")
def _person(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    _figure(p, lay, sc.nude)


@_motif("couple")
def _couple(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    for k, u0 in enumerate((-0.22, 0.22)):
        _figure(Pen(p.draw, p.x0 + u0 * p.w, p.y0, p.w, p.h, p.flip), lay, sc.nude, k)


def _portrait(p: Pen, lay: Layout, skin: RGB, hair: RGB, jacket: RGB, hair_style: int,
              moustache: RGB | None) -> None:
    p.pie(0.1, 0.7, 0.9, 1.3, 180, 360, jacket)                            # shoulders
    p.poly([(0.44, 0.72), (0.56, 0.72), (0.5, 0.86)], (240, 240, 240))     # shirt collar
    p.rect(0.44, 0.58, 0.56, 0.72, skin)
    if hair_style == 0:      # wild white halo (einstein_face)
        pts = []
        for k in range(22):
            a = math.pi * (1.05 + 0.9 * k / 21)
            r = 0.34 if k % 2 == 0 else 0.25
            pts.append((0.5 + r * math.cos(a) * 1.1, 0.4 + r * math.sin(a)))
        pts += [(0.86, 0.55), (0.14, 0.55)]
        p.poly(pts, hair)
    elif hair_style == 1:    # long hair
        p.ellipse(0.24, 0.12, 0.76, 0.72, fill=hair)
    elif hair_style == 2:    # bun
        p.circle(0.5, 0.1, 0.09, fill=hair)
    p.ellipse(0.3, 0.18, 0.7, 0.66, fill=skin)                             # face
    if hair_style in (1, 2, 3):
        p.pie(0.29, 0.15, 0.71, 0.45, 180, 360, hair)                      # hair cap
    for u in (0.42, 0.58):
        p.circle(u, 0.4, 0.025, fill=DARK)
    if moustache is not None:
        p.ellipse(0.38, 0.5, 0.62, 0.57, fill=moustache)
        p.line([(0.37, 0.34), (0.46, 0.33)], moustache, 0.03)              # bushy eyebrows
        p.line([(0.54, 0.33), (0.63, 0.34)], moustache, 0.03)
    else:
        p.line([(0.45, 0.55), (0.55, 0.55)], (150, 60, 60), 0.02)


@_motif("einstein_face")
def _einstein(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    _portrait(p, lay, skin=(236, 196, 165), hair=(248, 248, 250), jacket=(110, 100, 90),
              hair_style=0, moustache=(235, 235, 235))


def _named_portrait(p: Pen, t: Thing, lay: Layout) -> None:
    """A person the world has no glyph for (Marie Curie, Isaac Newton): hashed features, never
    the white halo and moustache of the einstein glyph."""
    h = _digest("portrait:" + t.key)
    _portrait(p, lay, skin=_pick(_SKIN_TONES, h[0] / 256), hair=_pick(_HAIR, h[1] / 256),
              jacket=_pick(_CLOTHES, h[2] / 256), hair_style=1 + h[3] % 3, moustache=None)


_GLYPH_COLOURS: list[RGB] = [(220, 60, 60), (60, 160, 80), (60, 90, 200), (230, 180, 40), (150, 70, 170),
                             (40, 170, 180), (240, 120, 40), (90, 90, 100), (200, 80, 140)]


def _glyph(p: Pen, key: str) -> None:
    """The generic glyph for an entity the world has no shape for: two to three primitives whose
    kind, colour and placement are hashed from the name, so each name has its own glyph."""
    h = _digest("glyph:" + key)
    n = 2 + h[0] % 2
    for i in range(n):
        b = h[1 + 4 * i: 5 + 4 * i]
        kind = b[0] % 6
        c = _GLYPH_COLOURS[b[1] % len(_GLYPH_COLOURS)]
        r = 0.42 - 0.1 * i
        u, v = 0.5 + (b[2] / 255 - 0.5) * 0.2, 0.55 - 0.12 * i + (b[3] / 255 - 0.5) * 0.1
        if kind == 0:
            p.circle(u, v, r, fill=c)
        elif kind == 1:
            p.rect(u - r, v - r, u + r, v + r, c)
        elif kind == 2:
            p.poly([(u, v - r), (u + r, v + r), (u - r, v + r)], c)
        elif kind == 3:
            p.poly([(u, v - r), (u + r, v), (u, v + r), (u - r, v)], c)
        elif kind == 4:
            p.circle(u, v, r, outline=c, width=0.08)
        else:
            pts = [(u + (r if k % 2 == 0 else r * 0.45) * math.cos(math.pi * k / 5 - math.pi / 2),
                    v + (r if k % 2 == 0 else r * 0.45) * math.sin(math.pi * k / 5 - math.pi / 2))
                   for k in range(10)]
            p.poly(pts, c)


def _draw_thing(p: Pen, t: Thing, lay: Layout, sc: Scene) -> None:
    if t.motif == "portrait":
        _named_portrait(p, t, lay)
    elif t.motif == "glyph":
        _glyph(p, t.key)
    else:
        _MOTIFS[t.motif](p, t, lay, sc)


# --------------------------------------------------------------------------------------------
# Background.
# --------------------------------------------------------------------------------------------

_SKY: dict[str, tuple[RGB, RGB]] = {
    "day": ((110, 170, 230), (200, 225, 245)),
    "sunset": ((240, 120, 80), (255, 205, 140)),
    "night": ((12, 16, 45), (40, 45, 95)),
    "overcast": ((135, 140, 150), (180, 182, 188)),
}
_GROUND: dict[str, RGB] = {
    "field": (100, 160, 70), "forest": (55, 110, 50), "sea": (50, 105, 165), "beach": (225, 205, 150),
    "city": (125, 125, 130), "snow": (236, 240, 248), "mountain": (110, 150, 80), "desert": (222, 190, 125),
    "sky": (120, 170, 90), "indoor": (150, 110, 80),
}


def _background(h: int, w: int, sc: Scene, lay: Layout) -> Image.Image:
    horizon = 0.93 if sc.place == "sky" else lay.horizon
    hy = int(round(horizon * h))
    top, bottom = _SKY[sc.time]
    if sc.place == "indoor":
        top, bottom = (215, 200, 175), (230, 218, 195)
    t = np.linspace(0.0, 1.0, max(hy, 1))[:, None]
    sky = (np.array(top) * (1 - t) + np.array(bottom) * t)
    ground = np.array(_GROUND[sc.place], dtype=np.float64)
    arr = np.empty((h, w, 3), dtype=np.float64)
    arr[:hy] = sky[:, None, :]
    g = np.linspace(1.0, 0.85, h - hy)[:, None] if h > hy else np.zeros((0, 1))
    arr[hy:] = ground[None, None, :] * g[:, :, None]
    arr += lay.jitter[None, None, :]
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    s = lambda x: x * w  # noqa: E731 - short helper for relative x
    if sc.place == "indoor":
        d.rectangle([0, hy - h * 0.02, w, hy], fill=(120, 85, 60))                  # skirting
        wx = s(0.05 + 0.7 * lay.skyline[0])
        d.rectangle([wx, h * 0.12, wx + s(0.2), h * 0.38], fill=(160, 190, 215) if sc.time != "night" else (30, 35, 70))
    else:
        if sc.time == "night":
            for x, y in lay.stars:
                d.ellipse([s(x) - 1.5, y * hy * 0.9 - 1.5, s(x) + 1.5, y * hy * 0.9 + 1.5], fill=(250, 245, 200))
            mx = s(0.1 + 0.8 * lay.skyline[1])
            d.ellipse([mx - s(0.06), h * 0.08, mx + s(0.06), h * 0.08 + s(0.12)], fill=(245, 240, 200))
        elif sc.time == "sunset":
            sx = s(0.1 + 0.8 * lay.skyline[1])
            d.ellipse([sx - s(0.09), hy - s(0.12), sx + s(0.09), hy + s(0.06)], fill=(255, 170, 60))
        if sc.place in ("sky", "field", "beach", "sea", "desert") and sc.time in ("day", "overcast"):
            for x, y, r in lay.clouds:
                cx, cy, rr = s(x), y * hy * 0.6 + h * 0.05, s(0.05 + 0.06 * r)
                for dx in (-rr, 0, rr):
                    d.ellipse([cx + dx - rr, cy - rr * 0.7, cx + dx + rr, cy + rr * 0.7], fill=(248, 248, 252))
        if sc.place == "forest":
            for i, v in enumerate(lay.skyline):
                x = s(i / 9)
                top_y = hy - h * (0.12 + 0.15 * v)
                d.polygon([(x - s(0.07), hy + 1), (x + s(0.07), hy + 1), (x, top_y)], fill=(30, 80, 40))
        elif sc.place == "city":
            for i, v in enumerate(lay.skyline):
                x = s(i / 10)
                d.rectangle([x, hy - h * (0.08 + 0.2 * v), x + s(0.085), hy], fill=(95, 95, 110))
        elif sc.place in ("mountain", "snow"):
            for i, v in enumerate(lay.skyline[:4]):
                x = s(0.1 + 0.27 * i)
                peak = hy - h * (0.15 + 0.2 * v)
                d.polygon([(x - s(0.2), hy + 1), (x + s(0.2), hy + 1), (x, peak)], fill=(120, 120, 135))
                d.polygon([(x - s(0.06), peak + h * 0.06), (x + s(0.06), peak + h * 0.06), (x, peak)],
                          fill=(245, 245, 250))
        elif sc.place == "beach":
            d.rectangle([0, hy, w, hy + h * 0.08], fill=(50, 110, 170))              # a band of sea
        if sc.time == "overcast":
            for x, y in lay.stars[:14]:
                x0, y0 = s(x), y * h
                d.line([(x0, y0), (x0 - s(0.03), y0 + h * 0.08)], fill=(200, 205, 220), width=1)
    return img


# --------------------------------------------------------------------------------------------
# Attributes applied to the whole picture.
# --------------------------------------------------------------------------------------------

def _swirl(arr: np.ndarray, lay: Layout) -> np.ndarray:
    """Van-Gogh-like rendering: swirling spiral stroke bands around a few vortices, the picture
    smeared along them, a saturated blue-to-yellow palette and dark outlines."""
    h, w, _ = arr.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    xn, yn = xx / w, yy / h
    # A background of long wavy strokes, then spirals around each vortex blended in by distance.
    stroke = 0.6 * np.sin(2 * math.pi * (xn * 2.5 + yn * 5.0 * lay.stroke_freq) + lay.stroke_phase
                          + 1.5 * np.sin(2 * math.pi * xn * 1.5))
    wsum = np.full((h, w), 0.6)
    tx = np.zeros((h, w))
    ty = np.zeros((h, w))
    for vx, vy, strength, sign in lay.vortices:
        dx, dy = xn - vx, yn - vy
        r = np.sqrt(dx * dx + dy * dy) + 1e-6
        s = 1.0 if sign > 0.5 else -1.0
        wgt = np.exp(-((r / (0.18 + 0.15 * strength)) ** 2)) * 3.0
        # An integer number of arms keeps the spiral continuous across atan2's branch cut.
        stroke += wgt * np.sin(2 * math.pi * r * 9 * lay.stroke_freq + s * 2 * np.arctan2(dy, dx))
        wsum += wgt
        tx += wgt * s * (-dy / r)
        ty += wgt * s * (dx / r)
    stroke /= wsum
    amp = 1.5 * max(h, w) / 64.0
    ox = np.clip(np.round(xx + amp * tx / wsum * stroke), 0, w - 1).astype(np.intp)
    oy = np.clip(np.round(yy + amp * ty / wsum * stroke), 0, h - 1).astype(np.intp)
    warped = arr[oy, ox]
    lum = warped.mean(axis=2) / 255.0
    stops = np.array([0.0, 0.35, 0.7, 1.0])
    cols = np.array([[15, 35, 110], [35, 85, 200], [245, 205, 40], [255, 240, 150]], dtype=np.float64)
    palette = np.stack([np.interp(lum, stops, cols[:, k]) for k in range(3)], axis=2)
    out = 0.25 * warped + 0.75 * palette
    out *= (0.78 + 0.22 * stroke)[:, :, None]
    base = arr.mean(axis=2) / 255.0
    gy, gx = np.gradient(base)
    out[np.hypot(gx, gy) > 0.06] *= 0.4     # strong dark outlines around the shapes
    return out


def _texture(arr: np.ndarray, motif: str) -> np.ndarray:
    """A user attribute concept the world has no motif for: a hashed overlay pattern."""
    h, w, _ = arr.shape
    b = _digest("texture:" + motif)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    ang = b[0] / 255 * math.pi
    freq = (3 + b[1] % 6) * 2 * math.pi / max(h, w)
    c = np.array(_GLYPH_COLOURS[b[2] % len(_GLYPH_COLOURS)], dtype=np.float64)
    kind = b[3] % 3
    u = xx * math.cos(ang) + yy * math.sin(ang)
    v = -xx * math.sin(ang) + yy * math.cos(ang)
    if kind == 0:
        mask = (np.sin(u * freq) > 0.3).astype(np.float64)
    elif kind == 1:
        mask = ((np.sin(u * freq) > 0) ^ (np.sin(v * freq) > 0)).astype(np.float64)
    else:
        mask = ((np.sin(u * freq) * np.sin(v * freq)) > 0.5).astype(np.float64)
    return arr * (1 - 0.4 * mask[:, :, None]) + c * 0.4 * mask[:, :, None]


# --------------------------------------------------------------------------------------------
# The renderer.
# --------------------------------------------------------------------------------------------

def render(prompt: str, seed: int, height: int = 64, width: int = 64,
           concepts: Sequence["ConceptSpec"] = ()) -> Image.Image:
    """Draw `prompt` at `seed`: an RGB image, byte-identical for the same inputs on one machine."""
    if height < 8 or width < 8:
        raise InputError(f"toyworld: height and width must be >= 8, got {height}x{width}")
    sc = parse_prompt(prompt, concepts)
    lay = _layout(seed)
    H, W = height * _SUPERSAMPLE, width * _SUPERSAMPLE
    img = _background(H, W, sc, lay)
    draw = ImageDraw.Draw(img)
    m = min(H, W)
    if sc.secondary is not None:
        size2 = 0.3 * m
        cx2 = (0.16 if lay.side < 0.5 else 0.84) * W
        cy2 = lay.horizon * H - 0.15 * m
        _draw_thing(Pen(draw, cx2 - size2 / 2, cy2 - size2 / 2, size2, size2, lay.flip),
                    sc.secondary, lay, sc)
    if sc.subject is not None:
        size = lay.size * m
        x0, y0 = lay.cx * W - size / 2, lay.cy * H - size / 2
        _draw_thing(Pen(draw, x0, y0, size, size, lay.flip), sc.subject, lay, sc)
    img = img.reduce(_SUPERSAMPLE)
    arr = np.asarray(img, dtype=np.float64)
    if sc.time == "night":   # moonlight: everything a little darker and bluer
        arr = arr * np.array([0.7, 0.72, 0.85])
    if sc.swirl:
        arr = _swirl(arr, lay)
    for motif in sc.textures:
        arr = _texture(arr, motif)
    if sc.grayscale or sc.sepia:
        lum = arr @ np.array([0.299, 0.587, 0.114])
        tone = np.array([1.07, 0.95, 0.78]) if sc.sepia else np.ones(3)
        arr = lum[:, :, None] * tone[None, None, :]
    # Sensor noise: from the seed only, so both images of a pair carry the same noise.
    arr = arr + lay.rng.normal(0.0, 3.0, size=arr.shape)
    return Image.fromarray(np.clip(np.round(arr), 0, 255).astype(np.uint8), "RGB")


class ToyWorldGenerator(Generator):
    """The procedural demo world behind the Generator interface."""

    name = "toyworld"

    def __init__(self, settings: GenerationSettings, concepts: Sequence["ConceptSpec"] = ()) -> None:
        self.settings = settings
        self.concepts = list(concepts)

    def params(self) -> dict[str, object]:
        return {"model_id": "toyworld", "model_revision": RENDERER_VERSION, "scheduler": "none",
                "steps": 0, "guidance": 0.0, "height": self.settings.height,
                "width": self.settings.width, "dtype": "uint8"}

    def generate(self, prompts: list[str], seeds: list[int]) -> GenerationOutput:
        if len(prompts) != len(seeds):
            raise InputError(f"toyworld: {len(prompts)} prompts but {len(seeds)} seeds (one seed per image)")
        images = [render(p, s, self.settings.height, self.settings.width, self.concepts)
                  for p, s in zip(prompts, seeds)]
        return GenerationOutput(images=images, params=self.params())
