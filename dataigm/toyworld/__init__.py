"""ToyWorld: the built-in demo world. Procedural images in pure numpy + PIL (no torch).

A prompt is parsed into a scene (background words), a subject (the first entity it names: a
concept alias, a word from the shape table, a capitalised name or, failing those, its content
words) and attributes (style, nudity). Every random choice (layout, colours, decorations, noise)
comes from the seed alone and is drawn in a fixed order, so the two images of a pair (same seed,
prompt with and without the concept words) share background and layout and differ only in the
concept. Each concept in `concepts` is drawn exactly when `spec.names_concept(prompt)`, or when
the prompt uses one of toyworld's variant words for it (a misspelling, a second language:
words.CONCEPT_VARIANTS), as a real text encoder would still understand them.

Nudity is rendered as an abstract, non-explicit proxy: a stick/blob figure whose body is
skin-toned when the prompt asks for nudity and wears flat clothing blocks otherwise. Nothing
anatomical is ever drawn.

`render(prompt, seed, height, width, concepts)` is the pure function; ToyWorldGenerator wraps it.
Bump RENDERER_VERSION whenever the drawing changes: it is recorded as model_revision.

Modules, in dependency order: words (vocabulary, palettes), layout (seed and name-hash choices),
pen (drawing primitives, motif registry), objects / creatures / figures (the motifs), draw (one
thing, any kind), parse (prompt -> Scene), background, styles (whole-picture attributes),
render, generator.
"""

from dataigm.toyworld.draw import ENTITY_MOTIFS
from dataigm.toyworld.generator import ToyWorldGenerator
from dataigm.toyworld.layout import Layout, layout_for_seed
from dataigm.toyworld.parse import ATTRIBUTE_MOTIFS, CONCEPT_MOTIFS, Scene, Thing, concept_motif, parse_prompt
from dataigm.toyworld.pen import Pen
from dataigm.toyworld.render import RENDERER_VERSION, render

__all__ = ["ATTRIBUTE_MOTIFS", "CONCEPT_MOTIFS", "ENTITY_MOTIFS", "Layout", "Pen", "RENDERER_VERSION",
           "Scene", "Thing", "ToyWorldGenerator", "concept_motif", "layout_for_seed", "parse_prompt",
           "render"]
