"""LocoForge's Hydra config groups, shipped as package data so an installed copy composes the same files."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent
