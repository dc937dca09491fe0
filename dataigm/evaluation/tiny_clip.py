"""A tiny CLIP with random weights, built offline and saved with `save_pretrained`.

The demo cannot download a CLIP, so its alignment and subject checks run through the same
`CLIPModel.from_pretrained(folder)` path users take with a real one, on this model. Its config
carries `dataigm_random_init: true`, so every number made with it is marked random-init in the
scorecard and its report.
"""

from __future__ import annotations

from pathlib import Path


# A random CLIP's image-text cosines have an arbitrary sign, the same for most pairs. CSDR divides
# by ORG's mean CLIP score, so it is undefined when that is negative: with seed 2 toyworld's
# images score positive against their prompts and CSDR is defined (still a random-init number).
TINY_CLIP_SEED = 2


def build_tiny_clip(folder: str | Path, seed: int = TINY_CLIP_SEED) -> Path:
    """Write the tiny CLIP (model + in-repo tokenizer + image processor) to `folder`, unless there."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    from dataigm.tiny_vocab import load_tiny_clip_tokenizer, vocab_size

    folder = Path(folder)
    if (folder / "config.json").is_file():
        return folder
    tok = load_tiny_clip_tokenizer()
    text = dict(vocab_size=vocab_size(), hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=77, projection_dim=16,
                bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    vision = dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                  num_attention_heads=2, projection_dim=16)
    torch.manual_seed(seed)
    config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)
    config.dataigm_random_init = True
    model = CLIPModel(config)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder
