"""The product catalogue, ``poreseg/data/products.csv``: one generic product per ingredient category.

Columns: ``id``, ``name``, ``category``; ``targets`` (what it does for pores, one phrase); ``trigger``
and ``zones`` (when it is suggested: ``always``, or ``METRIC OP NUMBER`` on any of the listed zones,
``face`` meaning the whole face; METRIC is ``density_ratio`` or ``area_ratio``, the zone's pore density
or area fraction over the score's reference value, or ``score``); ``effect_12w`` (expected reduction of
visible pore area after 12 weeks of use, a fraction, used by the before/after simulation);
``half_effect_weeks`` (how fast the effect builds up: the time scale of the simulation's saturating
curve, see poreseg.simulate; 0 = immediate); ``slot`` (morning, evening, morning+evening or weekly);
``step`` (its place in a routine); ``source`` (literature or rationale).

The effects are rough, illustrative estimates read from the cited sources, which report scores and
sebum rather than visible pore area: they make the simulation's direction and order of magnitude
plausible, not a promise of a result.
"""
from __future__ import annotations

import csv
import functools
import operator
import re
from dataclasses import dataclass
from pathlib import Path

from poreseg.zones import ZONES

CATALOGUE_PATH = Path(__file__).resolve().parent / "data" / "products.csv"
SLOTS = ("morning", "evening", "morning+evening", "weekly")
STEPS = ("cleanse", "treat", "moisturise", "protect", "prime", "mask")  # the order of a routine
TRIGGER_METRICS = ("density_ratio", "area_ratio", "score")
WHOLE_FACE = "face"
_COMPARISONS = {">": operator.gt, "<": operator.lt}
_TRIGGER = re.compile(r"^\s*(\w+)\s*([<>])\s*([0-9.]+)\s*$")


class CatalogueError(ValueError):
    """The catalogue file is malformed; the message names the row and the field."""


@dataclass(frozen=True)
class Trigger:
    metric: str  # one of TRIGGER_METRICS, or "always"
    comparison: str = ">"
    threshold: float = 0.0

    def fires(self, value: float | None) -> bool:
        return self.metric == "always" or (value is not None and _COMPARISONS[self.comparison](value, self.threshold))


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    category: str
    targets: str
    trigger: Trigger
    zones: tuple[str, ...]  # zone names or WHOLE_FACE
    effect_12w: float
    half_effect_weeks: float
    slot: str
    step: str
    source: str


def parse_trigger(text: str) -> Trigger:
    if text.strip() == "always":
        return Trigger("always")
    match = _TRIGGER.match(text)
    if not match or match.group(1) not in TRIGGER_METRICS:
        raise ValueError(f"trigger {text!r} is not 'always' or '<{'|'.join(TRIGGER_METRICS)}> <|> NUMBER'")
    return Trigger(match.group(1), match.group(2), float(match.group(3)))


def _product(row: dict[str, str]) -> Product:
    zones = tuple(z.strip() for z in row["zones"].split(";"))
    unknown = [z for z in zones if z not in (*ZONES, WHOLE_FACE)]
    if unknown:
        raise ValueError(f"unknown zones {unknown}")
    effect, half = float(row["effect_12w"]), float(row["half_effect_weeks"])
    if not 0.0 <= effect <= 1.0 or half < 0:
        raise ValueError("effect_12w must be in [0, 1] and half_effect_weeks >= 0")
    if row["slot"] not in SLOTS or row["step"] not in STEPS:
        raise ValueError(f"slot must be one of {SLOTS} and step one of {STEPS}")
    return Product(row["id"], row["name"], row["category"], row["targets"], parse_trigger(row["trigger"]), zones,
                   effect, half, row["slot"], row["step"], row["source"])


def load_catalogue(path: Path = CATALOGUE_PATH) -> dict[str, Product]:
    """Products by id, in file order; CatalogueError on a malformed row."""
    products: dict[str, Product] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                product = _product(row)
            except (KeyError, ValueError, TypeError) as error:
                raise CatalogueError(f"{path.name} line {line}: {error}") from None
            if product.id in products:
                raise CatalogueError(f"{path.name} line {line}: duplicate id {product.id!r}")
            products[product.id] = product
    return products


@functools.cache
def catalogue() -> dict[str, Product]:
    """The shipped catalogue, read once."""
    return load_catalogue()


def get_product(product_id: str) -> Product:
    try:
        return catalogue()[product_id]
    except KeyError:
        raise KeyError(f"unknown product {product_id!r}; known: {', '.join(catalogue())}") from None
