"""The model cards are what the Hugging Face Hub reads: a YAML header with the weights' licence, library,
pipeline, tags, metrics and sha256, and the sections on use, limitations and licence. They are generated
(python -m poreseg.training.model_card), so rendering a card again changes nothing."""
from __future__ import annotations

import re

import pytest
import yaml

from conftest import REPO_ROOT
from poreseg.training.hub_card import MODELS, body_of, hub_card, measured_targets
from poreseg.weights import expected_sha256

WEIGHTS = REPO_ROOT / "weights"
CARDS = [name for name in MODELS if (WEIGHTS / f"{name}.md").exists()]


def header(card: str) -> dict:
    return yaml.safe_load(re.match(r"---\n(.*?)\n---\n", card, re.DOTALL).group(1))


@pytest.mark.parametrize("name", CARDS)
def test_card_header_is_what_the_hub_reads(name):
    from poreseg.weights import sha256

    card = (WEIGHTS / f"{name}.md").read_text()
    meta = header(card)
    assert meta["license"] == "cc-by-nc-sa-4.0"  # the training data is non-commercial and share-alike
    assert meta["library_name"] == "pytorch" and meta["pipeline_tag"] == "image-segmentation"
    assert meta["tags"] and meta["metrics"]
    if (WEIGHTS / f"{name}.pt").exists():
        assert meta["sha256"] == sha256(WEIGHTS / f"{name}.pt")
        assert meta["onnx_sha256"] == sha256(WEIGHTS / f"{name}.onnx")
    reported = {m["name"]: m["value"] for m in meta["model-index"][0]["results"][0]["metrics"]}
    assert reported == {t.name: t.value for t in measured_targets(card)} and reported


@pytest.mark.parametrize("name", CARDS)
def test_card_says_what_it_is_for_and_not_for(name):
    card = (WEIGHTS / f"{name}.md").read_text()
    sections = {"## Intended use", "## Out-of-scope use", "## Limitations and bias", "## Licence"}
    assert sections <= set(card.splitlines())
    out_of_scope = card.split("## Out-of-scope use")[1].split("## ")[0]
    assert "No diagnosis" in out_of_scope and "No identification" in out_of_scope
    assert "Monk" in card.split("## Limitations and bias")[1].split("## ")[0]


@pytest.mark.parametrize("name", CARDS)
def test_card_is_as_generated(name):
    card = (WEIGHTS / f"{name}.md").read_text()
    assert hub_card(name, body_of(card), expected_sha256(name, "onnx")) == card, \
        "edit the templates and run model_card --refresh"


def test_per_monk_level_bias_is_quoted_from_the_evaluation():
    card = (WEIGHTS / "psnet.md").read_text()
    limits = card.split("## Limitations and bias")[1].split("## ")[0]
    assert re.search(r"best Monk \d+ \(0\.\d{3}\), worst Monk \d+ \(0\.\d{3}\)", limits)
