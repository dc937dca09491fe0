"""Orchestration of the dataset and judge flows, and the presets they read (presets/*.yaml)."""
