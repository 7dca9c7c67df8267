"""Product suggestions from the zone metrics, with a one-line reason each and a short routine.

The rules are data: each catalogue product's ``trigger`` on its ``zones`` (see poreseg.products).
Density and area are judged against the reference the metrics were scored against (the pore method's,
see poreseg.pores.methods.METHODS), so "above reference" means the same thing here as in the score.
When pores could not be measured only the daily basics (products triggered ``always``) are suggested.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from poreseg.metrics import FaceMetrics, PoreMetrics, ScoreReference
from poreseg.products import STEPS, WHOLE_FACE, Product, catalogue
from poreseg.scores import whole_score
from poreseg.zones import ZONE_TITLES

DISCLAIMER = ("Cosmetic guidance from one photo, not medical advice. Introduce one new product at a time and "
              "patch-test it; avoid retinoids when pregnant or breastfeeding; see a dermatologist for acne, "
              "irritation or any skin change that worries you.")


@dataclass
class Suggestion:
    product: Product
    reason: str  # one line: what in the measurements called for it, and what it does


@dataclass
class Suggestions:
    items: list[Suggestion]
    morning: list[str]  # routine steps, in order
    evening: list[str]
    weekly: list[str]
    disclaimer: str = field(default=DISCLAIMER)

    def rows(self) -> list[dict[str, str]]:
        """One row per suggestion, for a table."""
        return [{"product": s.product.name, "category": s.product.category, "when": s.product.slot,
                 "reason": s.reason, "source": s.product.source} for s in self.items]

    def to_dict(self) -> dict:
        return {"products": [{"id": s.product.id, **row} for s, row in zip(self.items, self.rows())],
                "routine": {"morning": self.morning, "evening": self.evening, "weekly": self.weekly},
                "disclaimer": self.disclaimer}


def trigger_value(metric: str, numbers: PoreMetrics, reference: ScoreReference) -> float | None:
    if metric == "density_ratio":
        return None if numbers.density_per_cm2 is None else numbers.density_per_cm2 / reference.density_per_cm2
    if metric == "area_ratio":
        return None if numbers.area_fraction is None else numbers.area_fraction / reference.area_fraction
    return numbers.score


def finding(metric: str, place: str, numbers: PoreMetrics, reference: ScoreReference) -> str:
    """What was measured, in words: the first half of a reason."""
    if metric == "density_ratio":
        return (f"{place}: {numbers.density_per_cm2:.1f} pores/cm² "
                f"(reference {reference.density_per_cm2:.1f})")
    if metric == "area_ratio":
        return (f"{place}: pores cover {100 * numbers.area_fraction:.2f}% of the skin "
                f"(reference {100 * reference.area_fraction:.2f}%)")
    return f"{place}: pore score {whole_score(numbers.score)} ({numbers.band})"


def reason_for(product: Product, metrics: FaceMetrics | None) -> str | None:
    """The one-line reason to suggest ``product``, or None when its trigger does not fire."""
    trigger = product.trigger
    if trigger.metric == "always":
        return f"Daily basics for any skin: {product.targets}."
    if metrics is None:
        return None
    places = {WHOLE_FACE: metrics.face, **metrics.zones}
    fired = [(zone, places[zone]) for zone in product.zones
             if trigger.fires(trigger_value(trigger.metric, places[zone], metrics.reference))]
    if not fired:
        return None
    # Name the zone that is furthest past the threshold: the most telling number.
    sign = 1 if trigger.comparison == ">" else -1
    worst = max(fired, key=lambda item: sign * trigger_value(trigger.metric, item[1], metrics.reference))
    place = "whole face" if worst[0] == WHOLE_FACE else ZONE_TITLES[worst[0]]
    found = finding(trigger.metric, place, worst[1], metrics.reference)
    return f"{found[0].upper()}{found[1:]}; {product.targets}."


def routine(products: list[Product], times: tuple[str, ...]) -> list[str]:
    """The steps of one routine, in STEPS order; several treatments share a step on alternate days."""
    chosen = [p for p in products if p.slot in times]
    steps = []
    for step in STEPS:
        names = [p.name for p in chosen if p.step == step]
        if len(names) == 1:
            steps.append(names[0])
        elif names:
            steps.append(" or ".join(names) + " (alternate days, not together)")
    return steps


def suggest(metrics: FaceMetrics | None) -> Suggestions:
    """Suggestions for these metrics; ``metrics`` None (or without pore counts) when pores were not measured."""
    if metrics is not None and metrics.face.pore_count is None:
        metrics = None
    items = []
    for product in catalogue().values():
        reason = reason_for(product, metrics)
        if reason is not None:
            items.append(Suggestion(product, reason))
    chosen = [s.product for s in items]
    return Suggestions(items, routine(chosen, ("morning", "morning+evening")),
                       routine(chosen, ("evening", "morning+evening")), routine(chosen, ("weekly",)))
