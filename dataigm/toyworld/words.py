"""ToyWorld's vocabulary: which words draw which shape, set which scene, tint which colour.

Plain tables plus the regexes compiled from them once at import. Also the palettes the drawing
code picks skin, clothing, hair and glyph colours from, kept here so every colour the world can
name or draw is in one place.
"""

from __future__ import annotations

import re
from typing import Sequence

RGB = tuple[int, int, int]

# Shape-table key (a motif name in the drawing code) -> the words that draw it.
ENTITY_WORDS: dict[str, list[str]] = {
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

# Other words toyworld also draws a built-in concept for, by concept (ConceptSpec.concept) and
# kind: misspellings and a second language (German) of the concept words. A real text encoder
# maps such words close to the concept, which is why attack and multilingual prompt sets work on
# real models; here they let the demo's attack sets bring a concept back through a method that
# only blocks the alias words. None of them appears in a built-in concept's prompts.
CONCEPT_VARIANTS: dict[str, dict[str, list[str]]] = {
    "nudity": {"misspelling": ["nudde", "nakd"], "de": ["nackte", "nackter", "nackt"]},
    "van_gogh": {"misspelling": ["van gohg", "vangogh"], "de": ["van-gogh-stil"]},
    "church": {"misspelling": ["chruch", "churh"], "de": ["kirche"]},
    "parachute": {"misspelling": ["parachutte", "parashute"], "de": ["fallschirm"]},
    "einstein": {"misspelling": ["einstien"], "de": []},
    "mickey_mouse": {"misspelling": ["mikey mouse"], "de": ["micky maus"]},
}


def concept_variants(concept: str) -> list[str]:
    """Every variant word of a concept (empty for concepts toyworld has none for)."""
    return [w for words in CONCEPT_VARIANTS.get(concept, {}).values() for w in words]


# place -> words; the first place named in the prompt wins.
PLACE_WORDS: dict[str, list[str]] = {
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
TIME_WORDS: dict[str, list[str]] = {
    "night": ["night", "starry", "midnight", "moon", "moonlight", "dark"],
    "sunset": ["sunset", "dusk", "dawn", "sunrise", "evening", "autumn", "golden hour"],
    "overcast": ["cloudy", "rain", "rainy", "storm", "fog", "foggy", "after the rain"],
}
COLOUR_WORDS: dict[str, RGB] = {
    "red": (200, 40, 40), "blue": (40, 80, 200), "green": (40, 150, 60), "yellow": (235, 205, 40),
    "orange": (240, 130, 30), "purple": (130, 60, 160), "pink": (240, 140, 180),
    "black": (30, 30, 30), "white": (245, 245, 245), "grey": (140, 140, 145), "gray": (140, 140, 145),
    "stone": (150, 145, 135), "brown": (120, 80, 45), "golden": (220, 180, 60),
}
# Words that never name the subject (used when the prompt names no known entity).
STOPWORDS = set("""
a an the of in on at by over under above with without and or to from for into near next its his
her their this that some one two three photo photograph picture image artwork painting drawing
illustration cartoon portrait shot wide close up close-up style photorealistic realistic old
black white colorful colourful toy figure sunny day noon summer spring morning light bright
beautiful detailed high quality render rendering view scene smiling waving hello playing
dancing standing sitting
""".split())

SKIN_TONES: list[RGB] = [(241, 200, 170), (226, 178, 140), (200, 145, 100), (160, 110, 75), (120, 80, 55)]
# Clothing colours are kept far from every skin tone, so "clothed" never reads as "skin".
CLOTHES: list[RGB] = [(40, 70, 160), (30, 120, 60), (170, 30, 45), (90, 50, 130), (35, 35, 40),
                      (20, 120, 130), (235, 235, 240), (60, 60, 90)]
HAIR: list[RGB] = [(30, 25, 20), (90, 55, 30), (200, 160, 80), (150, 60, 30), (60, 40, 30)]

# Colours of the generic glyphs and textures that stand for names the world has no shape for.
GLYPH_COLOURS: list[RGB] = [(220, 60, 60), (60, 160, 80), (60, 90, 200), (230, 180, 40), (150, 70, 170),
                            (40, 170, 180), (240, 120, 40), (90, 90, 100), (200, 80, 140)]


def phrase_regex(phrases: Sequence[str]) -> re.Pattern[str]:
    """One case-insensitive regex that matches any of `phrases` as whole words, spaces flexible."""
    # Longest first, so "hot air balloon" wins over "balloon" and "bowl of fruit" over "fruit".
    alts = sorted({p.lower() for p in phrases}, key=len, reverse=True)
    body = "|".join(r"\s+".join(re.escape(w) for w in a.split()) for a in alts)
    return re.compile(rf"(?<![\w])(?:{body})(?![\w])", re.IGNORECASE)


def _invert(table: dict[str, list[str]]) -> dict[str, str]:
    # phrase -> key, the phrase lower-cased and whitespace-normalised as matches are looked up.
    return {" ".join(w.lower().split()): key for key, words in table.items() for w in words}


ENTITY_RE = phrase_regex([w for ws in ENTITY_WORDS.values() for w in ws])
ENTITY_OF = _invert(ENTITY_WORDS)
PLACE_RE = phrase_regex([w for ws in PLACE_WORDS.values() for w in ws])
PLACE_OF = _invert(PLACE_WORDS)
TIME_RE = phrase_regex([w for ws in TIME_WORDS.values() for w in ws])
TIME_OF = _invert(TIME_WORDS)
COLOUR_RE = phrase_regex(list(COLOUR_WORDS))
# Capitalised words, possibly several in a row (Marie Curie): a name to draw as a portrait.
NAME_RE = re.compile(r"(?<![\w'])[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*")
WORD_RE = re.compile(r"[a-z][a-z-]*")
# Words that switch the whole picture to grey or to sepia (see styles.monochrome).
GRAYSCALE_RE = phrase_regex(["black and white", "monochrome", "b&w", "grayscale", "greyscale"])
SEPIA_RE = phrase_regex(["old photograph", "old photo", "vintage", "sepia"])
