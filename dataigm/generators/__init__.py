"""Text-to-image generators behind one small interface (see base.py)."""

from dataigm.generators.base import GenerationOutput, GenerationSettings, Generator, make_generator

__all__ = ["GenerationOutput", "GenerationSettings", "Generator", "make_generator"]
