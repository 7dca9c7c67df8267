"""What the Hugging Face Hub reads in a model card, around the body ``poreseg.training.model_card`` renders.

``hub_card(name, body, onnx_sha)`` returns the whole card: a YAML header (the weights' licence, library, pipeline,
tags, the measured metrics read from the body's targets table, the weights' sha256), then the body with
the sections on intended use, out-of-scope use, limitations and bias (per Monk level where measured)
and licence after its introduction. ``body_of(card)`` takes a card apart again, so that a card is
re-rendered around its measured body without evaluating anything (``model_card --refresh``).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

BLOCK_START = "<!-- hub sections: poreseg/training/hub_card.py -->"
BLOCK_END = "<!-- end of hub sections -->"
WEIGHTS_LICENCE = "cc-by-nc-sa-4.0"
COMMON_TAGS = ("poreseg", "skin-analysis", "cpu", "pytorch")


@dataclass(frozen=True)
class HubModel:
    title: str  # the model's name on the Hub (model-index)
    task: str  # what it does, for the intended use
    evaluated_on: str  # the data its targets are measured on
    tags: tuple[str, ...]
    metric_ids: tuple[str, ...]  # metric ids the Hub knows (the evaluate library's)
    licence_reason: str
    limitations: str
    monk_table: str | None  # title of the body's table with one row per Monk level, if the card has one


NON_COMMERCIAL_DATA = ("MaskedFace-Net (CC BY-NC-SA 4.0) and CelebAMask-HQ (non-commercial research only), "
                       "with FASSEG (research use) and Human-Segmentation-Dataset (no licence stated)")

MODELS = {
    "face_parser": HubModel(
        title="poreseg-face-parser", task="10-class face parsing (skin, brows, eyes, nose, lips, mouth, hair, "
        "body, occluders, background) of the largest face in a photo",
        evaluated_on="FASSEG v2_test and MaskedFace-Net test (held out)",
        tags=("face-parsing", "image-segmentation"), metric_ids=("mean_iou",),
        licence_reason=f"trained on {NON_COMMERCIAL_DATA}",
        limitations="Trained mostly on frontal and near-frontal faces; profiles, strong make-up, face paint, "
        "unusual occluders and very small faces are parsed less reliably. Ears and neck come from a "
        "skin-colour model of the teacher's labels, so they follow the face's own tone.",
        monk_table=None),
    "portrait": HubModel(
        title="poreseg-portrait", task="person against background (portrait cut-out) of a photo",
        evaluated_on="Human-Segmentation-Dataset dev test and MST-E held-out portraits",
        tags=("portrait-segmentation", "image-segmentation", "background-removal"), metric_ids=("mean_iou",),
        licence_reason=f"trained on {NON_COMMERCIAL_DATA}",
        limitations="Below its own target on street scenes with small people (see the targets); made for "
        "one person facing the camera. Hair edges and background behind close-ups can be kept.",
        monk_table=None),
    "psnet": HubModel(
        title="poreseg-psnet", task="pore segmentation inside the skin of a face or a close-up of skin, with "
        "a Monte-Carlo uncertainty map",
        evaluated_on="MST-E held-out photos: rendered pores (synthetic benchmark) and stability on real photos",
        tags=("pore-segmentation", "image-segmentation", "uncertainty"),
        metric_ids=("f1", "precision", "recall"),
        licence_reason="its training regions and scales come from the face parser (itself trained on "
        f"{NON_COMMERCIAL_DATA}), and the licence of MST-E, its main source of pore texture, is reported as "
        "CC BY 4.0 but not confirmed",
        limitations="Trained without a single human pore label (coarse labels from DoGPore, pseudo labels, "
        "rendered pores): its pores are what those labels teach. Pores must be resolved by the camera (the "
        "app's quality gate refuses photos where they are about 2 px or smaller); creases, hairs, freckles "
        "and JPEG blocks still give some false detections (structures benchmark).",
        monk_table="Stability on real photos, PS-Net"),
}


def hub_card(name: str, body: str, onnx_sha: str) -> str:
    """The card of ``weights/NAME.pt`` and its ONNX export (sha256 ``onnx_sha``): YAML header, then
    ``body`` with the Hub's sections after its introduction (before its first ``## `` heading)."""
    model = MODELS[name]
    sha = _sha256_of(body)
    sections = "\n".join([BLOCK_START, _uses(model), _limitations(model, body), _licence(model), BLOCK_END, ""])
    intro, heading, rest = body.partition("\n## ")
    front = _front_matter(model, sha, onnx_sha, measured_targets(body))
    return f"{front}\n{intro}\n{sections}{heading.lstrip()}{rest}"


def body_of(card: str) -> str:
    """The card without its YAML header and the Hub's sections: what ``model_card`` rendered."""
    without_header = re.sub(r"\A---\n.*?\n---\n\n?", "", card, flags=re.DOTALL)
    return re.sub(rf"{re.escape(BLOCK_START)}.*?{re.escape(BLOCK_END)}\n", "", without_header, flags=re.DOTALL)


@dataclass(frozen=True)
class Target:
    name: str
    goal: str  # e.g. ">= 0.80"
    value: float
    met: bool


def measured_targets(body: str) -> list[Target]:
    """The rows of the body's targets table (``model_card.targets_table``)."""
    rows = re.findall(r"^\| (.+?) \| ([<>]= [-0-9.]+) \| ([-0-9.]+) \| (met|NOT met) \|$", body, re.MULTILINE)
    return [Target(name, goal, float(value), met == "met") for name, goal, value, met in rows]


def monk_levels(body: str, table_title: str) -> dict[str, float]:
    """Monk level -> the last column (the mean) of the body's table titled ``table_title``."""
    table = body.split(table_title, 1)[1].split("\n\n", 1)[0]
    return {level: float(mean) for level, mean in re.findall(r"^\| (Monk \d+) \|.*\| ([0-9.]+) \|$", table,
                                                              re.MULTILINE)}


def _sha256_of(body: str) -> str:
    found = re.search(r"(?<!onnx_)sha256[^0-9a-f]*([0-9a-f]{64})", body)
    if not found:
        raise ValueError("the card body states no sha256")
    return found.group(1)


def _front_matter(model: HubModel, sha: str, onnx_sha: str, targets: list[Target]) -> str:
    def quoted(text: str) -> str:  # a JSON string is a YAML string, whatever it holds
        return json.dumps(text, ensure_ascii=False)

    metrics = [line for t in targets for line in (f"          - type: {_slug(t.name)}",
                                                  f"            name: {quoted(t.name)}",
                                                  f"            value: {t.value}")]
    lines = ["---", f"license: {WEIGHTS_LICENCE}", "library_name: pytorch", "pipeline_tag: image-segmentation",
             "tags:", *(f"  - {tag}" for tag in (*model.tags, *COMMON_TAGS)),
             "metrics:", *(f"  - {metric}" for metric in model.metric_ids),
             f"sha256: {sha}",
             f"onnx_sha256: {onnx_sha}",  # weights/NAME.onnx, what the runtime runs (poreseg.models.export)
             "model-index:", f"  - name: {model.title}", "    results:", "      - task:",
             "          type: image-segmentation", "        dataset:", f"          name: {quoted(model.evaluated_on)}",
             "          type: poreseg-evaluation", "        metrics:", *metrics, "---"]
    return "\n".join(lines) + "\n"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _uses(model: HubModel) -> str:
    return f"""## Intended use

- Cosmetic, illustrative skin analysis in poreseg (the dashboard, its `/analyze` API, the command line and
  the Python API): {model.task}, on the CPU, of a photo that the person in it chose to analyse.
- Research and teaching on small segmentation networks trained without human labels for the task, within
  the licences of the training data (non-commercial, see Licence).

## Out-of-scope use

- **No diagnosis.** Not for diagnosing, screening or monitoring any skin or medical condition (acne,
  rosacea, lesions, skin cancer), nor for decisions about a person's health, treatment or insurance: the
  outputs are cosmetic estimates that no clinician has validated.
- **No identification.** Not for recognising, identifying, verifying or tracking people, nor for
  inferring their identity, age, sex, ethnicity or any other attribute: the network labels pixels and
  must not become part of such a system.
- Analysing people without their consent, surveillance, ranking or rating people's looks, and any
  commercial use (see Licence).
"""


def _limitations(model: HubModel, body: str) -> str:
    missed = [t for t in measured_targets(body) if not t.met]
    targets = ("Every target in the Evaluation section is met." if not missed else
               "Targets not met: " + "; ".join(f"{t.name} ({t.value:.3f}, goal {t.goal})" for t in missed) + ".")
    if model.monk_table:
        levels = monk_levels(body, model.monk_table)
        best, worst = max(levels, key=levels.get), min(levels, key=levels.get)
        per_level = ", ".join(f"{level.removeprefix('Monk ')}: {value:.3f}" for level, value in levels.items())
        monk = (f"Per Monk skin tone level (held-out MST-E photos; \"{model.monk_table}\", mean Dice per "
                f"level {per_level}): best {best} ({levels[best]:.3f}), worst {worst} ({levels[worst]:.3f}), a "
                f"gap of {levels[best] - levels[worst]:.3f}. One or two photos per level: these are indications, "
                "not a guarantee of equal quality across skin tones.")
    else:
        monk = ("Not yet measured per Monk skin tone level. The training data covers all ten levels only "
                "through MST-E (a few photos per level); most other training faces are light-skinned studio "
                "or celebrity portraits, so quality may be lower on darker skin tones and should be checked "
                "per level before any wider use.")
    return f"""## Limitations and bias

- {model.limitations}
- {targets}
- {monk}
- Lighting, make-up, filters, compression and camera distance change what can be seen in a photo, and so
  the results; poreseg's quality gate says when pores cannot be measured.
"""


def _licence(model: HubModel) -> str:
    return f"""## Licence

The weights are released under **CC BY-NC-SA 4.0** (attribution, non-commercial, share-alike), because
{model.licence_reason}; a licence cannot grant more than its training data allows. The code that trains
and runs them is MIT (the repository's `LICENSE`).
"""
