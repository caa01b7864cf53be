"""Shared fixtures for the pure pipeline tests: the real rule tables of models/."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.resources import Models, load_models

ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = ROOT / "models"
SHIPPED_LOG = ROOT / "data" / "montgomery_911_2015-12-10_to_2016-05-31.csv.gz"


@pytest.fixture(scope="session")
def models() -> Models:
    """Every rule table the stages use, as the workers load them."""
    return load_models(MODELS_DIR)


@pytest.fixture(scope="session")
def shipped_log() -> Path:
    """The Montgomery County 911 log the demo replays (gzipped CSV)."""
    return SHIPPED_LOG
