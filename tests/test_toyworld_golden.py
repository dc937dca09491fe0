"""ToyWorld golden images: the sha256 of each image's raw RGB bytes for a fixed, varied set of
(prompt, seed, size, concepts) cases, recorded from the renderer as it stood before it was split
into the dataigm.toyworld package. Any change to a digest is a change to the pixels: bump
RENDERER_VERSION and re-record on purpose, never to make this test pass.

The cases cover the six built-in concepts (forget and reference prompts), unrelated entities,
places, times and colours, capitalised names (portraits), a user entity concept the world has
no shape for (a hashed glyph), a user attribute concept (a hashed texture), the whole-picture
attributes (Van Gogh, black and white, vintage), no concepts at all, and non-square sizes.
"""

from __future__ import annotations

import hashlib
import textwrap

import pytest

from dataigm.generators.base import GenerationSettings, make_generator
from dataigm.taxonomy import ConceptSpec, builtin_concepts, load_concept, load_concepts

# Two user concepts in the YAML a user writes (no renderer-specific fields): one entity with a
# made-up name (drawn as its hashed glyph) and one attribute (drawn as its hashed texture).
USER_CONCEPTS = {
    "zorblax.yaml": """\
        name: object_zorblax
        concept: zorblax
        domain: object
        kind: entity
        labels: [other, zorblax]
        aliases: [zorblax, zorblaxes]
        guidance: A made-up object.
        forgotten_means: No zorblax appears.
        judge:
          default: trained
          zero_shot: {present: [a photo of a zorblax], absent: [a photo of a field]}
        prompts:
          templates: ["a photo of a {concept} {scene}"]
          concept_phrases: [zorblax]
          scenes: [in a field]
          unrelated: [cat]
          counts: {forget: 4, unrelated_per_entity: 4}
        """,
    "pointillism.yaml": """\
        name: style_pointillism
        concept: pointillism
        domain: style
        kind: attribute
        labels: [other_style, pointillism]
        aliases: [pointillism, pointillist]
        guidance: Painted in small dots.
        forgotten_means: No dots.
        judge:
          default: trained
          zero_shot: {present: [a pointillist painting], absent: [a photograph]}
        prompts:
          templates: ["{concept} {scene}"]
          concept_phrases: [in a pointillist style]
          scenes: [a lake]
          counts: {forget: 4}
        """,
}

# (case id, prompt, seed, height, width, concept set): "builtin" = the six built-in concepts,
# "user" = those plus USER_CONCEPTS, "none" = no concepts at all.
CASES: list[tuple[str, str, int, int, int, str]] = [
    ("church_snow", "a photo of a church in the snow", 1, 64, 64, "builtin"),
    ("church_night", "a chapel in a village at night", 5, 64, 64, "builtin"),
    ("church_sepia_tint", "an old photograph of a stone church on a hill", 9, 64, 64, "builtin"),
    # Same pixels as church_snow: "church" is also a word of the shape table.
    ("church_no_concepts", "a photo of a church in the snow", 1, 64, 64, "none"),
    ("parachute_red_sea", "a red parachute over the sea", 2, 64, 64, "builtin"),
    ("parachute_storm_city", "a parachute over a city in a storm", 3, 64, 64, "builtin"),
    ("kite_sky", "a kite in the sky", 2, 64, 64, "builtin"),
    ("nude_woman_beach", "a photo of a nude woman on a beach", 4, 64, 64, "builtin"),
    ("woman_beach", "a photo of a woman on a beach", 4, 64, 64, "builtin"),
    ("naked_couple_bedroom", "a naked couple in a bedroom", 6, 64, 64, "builtin"),
    ("couple_bedroom", "a couple in a bedroom", 6, 64, 64, "builtin"),
    ("nude_alone", "nude, at sunset", 24, 64, 64, "builtin"),
    ("vangogh_wheat_dusk", "a wheat field at dusk, with Van Gogh style", 7, 64, 64, "builtin"),
    ("wheat_dusk", "a wheat field at dusk", 7, 64, 64, "builtin"),
    ("vangogh_starry_town", "a starry night over the town, in the style of Vincent van Gogh", 8, 64, 64, "builtin"),
    ("einstein_bw", "a black and white photo of Albert Einstein at a blackboard", 10, 64, 64, "builtin"),
    ("portrait_curie", "a photo of Marie Curie in a library", 11, 64, 64, "builtin"),
    ("portrait_newton", "a portrait of Isaac Newton smiling", 12, 64, 64, "builtin"),
    ("mickey_boat", "a cartoon of Mickey Mouse on a boat", 13, 64, 64, "builtin"),
    ("mickey_no_concepts", "a cartoon of Mickey Mouse on a boat", 13, 64, 64, "none"),
    ("duck_snow", "a cartoon duck in the snow", 14, 64, 64, "builtin"),
    ("blue_cat_and_dog", "a blue cat and a dog in a garden", 15, 64, 64, "builtin"),
    ("yellow_airplane_sunset", "a yellow airplane above the clouds at sunset", 16, 64, 64, "builtin"),
    ("motorcycle_desert", "a motorcycle in the desert", 17, 64, 64, "builtin"),
    ("lighthouse_mono", "a lighthouse by the sea at night, monochrome", 18, 64, 64, "builtin"),
    ("glyph_content_words", "a floating island", 19, 64, 64, "builtin"),
    ("balloon_vintage", "a hot air balloon over the mountains, vintage", 20, 64, 64, "builtin"),
    ("teddy_robot_forest", "a teddy bear, a robot and a dragon in a forest", 21, 64, 64, "builtin"),
    ("still_life", "a vase of irises and a bowl of fruit on a desk", 25, 64, 64, "builtin"),
    ("house_tree_field", "a green house and a tree in a field after the rain", 26, 64, 64, "builtin"),
    ("misc_entities", "a bicycle, a car, a boat and a chair in a town square", 27, 64, 64, "builtin"),
    ("castle_bird_mouse", "a castle with a bird and a grey field mouse, dawn", 28, 64, 64, "builtin"),
    ("umbrella_flower", "an umbrella and a sunflower in the rain", 29, 64, 64, "builtin"),
    ("user_glyph", "a photo of a zorblax in a field", 22, 64, 64, "user"),
    ("user_texture", "a lamp on a lake, in a pointillist style", 23, 64, 64, "user"),
    ("user_texture_vangogh", "a church by a river, pointillism, with Van Gogh style", 30, 64, 64, "user"),
    ("huge_seed", "a photo of a church in the snow", 2**40 + 3, 64, 64, "builtin"),
    ("nonsquare_church", "a photo of a church in the snow", 1, 96, 128, "builtin"),
    ("nonsquare_vangogh", "a nude man in a studio, with Van Gogh style", 31, 72, 40, "builtin"),
    ("nonsquare_user", "a zorblax at night, pointillism, sepia", 32, 48, 80, "user"),
]

GOLDEN: dict[str, str] = {
    "church_snow": "9bcae42f934b98415923f7456f6ef224fba3ecc447d9116d7f212baac9531791",
    "church_night": "7f921f43961fa88c44385ba09664f5fe5cbbfe66c22d40ae7260d3ebbf3ed50c",
    "church_sepia_tint": "8b53df7401630accf135adfbb3140bdc9a17638b8d048d33a17dadae4b8ae531",
    "church_no_concepts": "9bcae42f934b98415923f7456f6ef224fba3ecc447d9116d7f212baac9531791",
    "parachute_red_sea": "b162994494616bfda2e617ea9aea4c083fbf6b6fdae6da5e426c895e411d56c3",
    "parachute_storm_city": "eeb97ea1299fd8f1140fb9b82c36214dfd4f1fea2b557f55bd49619288f26407",
    "kite_sky": "2360f918cade36afee74183178b73644e18a8840b1fadcc73acda9d8a4838c77",
    "nude_woman_beach": "4fab2943c5f739806d618a8a6d0e16e0aa91f57b9c76eb26829434ef4efdeb88",
    "woman_beach": "283e61967f2f0416ea9961265128dbcbe857dd336c5e8991460bd8e14c7d47a6",
    "naked_couple_bedroom": "842eb0407f824d3010545a91eb706a4a692abe17c81ea0b2aa391d4806fe2690",
    "couple_bedroom": "293bd5e3fe2231c4d395338299ebb8f2383dcf97b8fb379008da744284b8223b",
    "nude_alone": "aa47d0eaa0310e9b559e473aefe7f9499e0107ecc29f83ee68608d6b0ebda68a",
    "vangogh_wheat_dusk": "4368ef6c88f2e6a673804212e90197b90765642687ed56102ac831596dc4752a",
    "wheat_dusk": "0881e055bfec3f43299cb78e98ea8a21feb452312fecb2227e8b46c3dbe85883",
    "vangogh_starry_town": "7439fec902c6f45bd9fe5d0b8a2362cafc00a4c410a6ff3cda9b9048b1c22133",
    "einstein_bw": "25a7f7865746b81df0092f3f39c76fde6067eef77106799d8a02de4cf350e071",
    "portrait_curie": "808a84ab1f4cd8d0372894040cb2c009ac1add60f8205bd95da8d62d3e3f963d",
    "portrait_newton": "69cf21e892f19f8373c98bcd218e2a8e1f099bc8d74c45c7373ce22422e1bcb3",
    "mickey_boat": "ef165ad10479662995b827225ef921b38a7179eab3c663718d86f70d6079f06f",
    "mickey_no_concepts": "3ba015d103e1daf0bb4770dcb709fa07b9292ee3e39d3e81a1ae4cb4062e1826",
    "duck_snow": "b9940ff440f07d5fc48c4f41c1b2952aa303c115370760ee3603dc8da294b896",
    "blue_cat_and_dog": "e25a47f8404daa3716e304d60128c61edeae7b05f4d8878d4849fdfa6eb465c1",
    "yellow_airplane_sunset": "9a312400374140fa9aa905f6e82918c97163b6cd3f8048f2d7863f5d4c171ded",
    "motorcycle_desert": "0e3a7c966adaa84b59a9c91780cf75015458a34c010f4c02f798c1e24e3e19b0",
    "lighthouse_mono": "a2b8d934121b015652dfe5894e2f665d9295547c9582102193a210fda6e05f20",
    "glyph_content_words": "7acc757c73658d198c96289b6bb3ff12569e34333bbffa202d61d749c8b503a2",
    "balloon_vintage": "3282de035736b769c5ed7bbd4995c74eb1ed7bfd897108c6718ca4d1f33614a0",
    "teddy_robot_forest": "db6739befe7274704f8964631433739c8f044c43e86ebf83a41a2da0f90b43ba",
    "still_life": "9f8b63b694e9224d918db47dac8d3dc123eb34a289e9c1fe2011288059b3819f",
    "house_tree_field": "527b791484ddd41c5c5bdd84e6155535c943e6782f45184d076abd49ad533c85",
    "misc_entities": "91f504f6563e6f1159d4df83c253a12933e15e00541e4e81d5d4df61021a8c1b",
    "castle_bird_mouse": "8de7698dbeca7dd229a516f31df66024c5920faa9a62d65ca0cab88fb2d8f220",
    "umbrella_flower": "ce75d1a11f8f8eda7e0da1f40b8daa1d2c1090695663f268e979f0b50362b3f4",
    "user_glyph": "09082d4c92b0f7fc5c10cc79c53c8595afcdf72bba0b92e1b64a06f38b998ee8",
    "user_texture": "a6cc1704138c5069be47213879abb03b77e5af4d4468919d209aa10c0d77e3a2",
    "user_texture_vangogh": "64451d6a1d0f2fd5dad1a2a2fda54d3aeaa598f1592b486bce5eaf29d8116838",
    "huge_seed": "53b3d0469e06b43215bbe16a8da77ff8c8a5e6c5399ec2baf89a73c4c50a380c",
    "nonsquare_church": "fb44d79179cefb356b82aa13b01b014bf50a4ee3147de884743fa4e54619cc27",
    "nonsquare_vangogh": "d6a7a16e22cf6c064d13a00adc94c84970e5b4d2433b3842f82844cd8638ca8b",
    "nonsquare_user": "ab5330b0376daa0bcdaf2ae9fcad2e92196507205160af172d4390cfd2518084",
}


@pytest.fixture(scope="module")
def concept_sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[ConceptSpec]]:
    builtin = load_concepts(builtin_concepts())
    folder = tmp_path_factory.mktemp("user_concepts")
    user = []
    for filename, text in USER_CONCEPTS.items():
        path = folder / filename
        path.write_text(textwrap.dedent(text))
        user.append(load_concept(str(path)))
    return {"builtin": builtin, "user": builtin + user, "none": []}


def rgb_digest(prompt: str, seed: int, height: int, width: int, concepts: list[ConceptSpec]) -> str:
    # Through the generator interface, so this file needs no change when the renderer moves.
    settings = GenerationSettings(generator="toyworld", height=height, width=width)
    image = make_generator(settings, concepts).generate([prompt], [seed]).images[0]
    assert image.mode == "RGB" and image.size == (width, height)
    return hashlib.sha256(image.tobytes()).hexdigest()


def test_every_case_has_a_golden_digest() -> None:
    assert sorted(GOLDEN) == sorted(case[0] for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_toyworld_pixels_match_golden(case: tuple[str, str, int, int, int, str],
                                      concept_sets: dict[str, list[ConceptSpec]]) -> None:
    case_id, prompt, seed, height, width, concept_set = case
    assert rgb_digest(prompt, seed, height, width, concept_sets[concept_set]) == GOLDEN[case_id]
