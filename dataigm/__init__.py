"""dataigm: DataIGM-style unlearning datasets, concept judges, and Hub publishing."""

__version__ = "0.1.0"
