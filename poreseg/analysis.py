"""``analyze(rgb, options) -> Analysis``: from a decoded photo to pores, zones, scores and suggestions.

The stages of the README's table, one call each, in order; each is timed (seconds) in ``Analysis.timings``:

    parse     face crop and parsing (parse_largest_face): class labels, the largest face, how many faces
    portrait  the person's opacity (for the cut-out); parser labels outside the face's feature box
              where the cut-out is transparent become background (poreseg.parsing.within_person)
    region    the face's geometry (poreseg.face.locate): frame, window, skin region, scale, pore size
    quality   the quality gate (poreseg.quality): can pores be resolved in this photo?
    pores     pore segmentation inside the region (PS-Net or DoGPore); skipped when the gate says no
    zones     forehead, nose, left and right cheek, chin (Face.zones)
    metrics   pore objects and numbers per zone and for the whole face, and the pore score (measure_pores)
    density   the pore density map
    suggest   product suggestions and a routine
    simulate  only with options.product: the product's before/after, its pores segmented and measured
              like the photo's (after_product)

Everything an Analysis holds is in the photo's coordinates. The stages that look at the face only (the
quality gate, the zones and the pore objects) work in the face's window (poreseg.face.FaceWindow), which
holds the whole region, and place their results back in the full frame: the simulation measures its
pores the same way.

Input: an RGB array as poreseg.imageio.load_image returns it (grey, RGBA, 16-bit and float arrays are
converted). It is analysed at its own size, and memory grows with it (about 30 bytes per pixel at the
peak); load_image shrinks larger photos to MAX_WORKING_PIXELS (16 MP). No face raises AnalysisError with
a message for the user; several faces analyse the largest and say so in the warnings.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np

from poreseg.density import DensityMap, density_map
from poreseg.face import Face, locate
from poreseg.imageio import as_rgb8
from poreseg.metrics import FaceMetrics, Pores, find_pores, measure
from poreseg.parsing import FaceParsing, parse_face, within_person
from poreseg.pores.methods import DEFAULT_METHOD, METHODS, MethodName, check_method
from poreseg.pores.segment import PoreResult, segment_pores
from poreseg.portrait import person_alpha, segment_portrait
from poreseg.products import catalogue, get_product
from poreseg.quality import Quality, assess
from poreseg.schema import SCHEMA_VERSION, Report, SimulationReport
from poreseg.scores import score_tenths
from poreseg.simulate import FULL_COURSE_WEEKS, Simulation, simulate_product
from poreseg.suggest import Suggestions, suggest
from poreseg.zones import ZONE_TITLES, FaceZones


class AnalysisError(ValueError):
    """The photo cannot be analysed at all; the message says why, for the user."""


@dataclass
class AnalysisOptions:
    method: MethodName = DEFAULT_METHOD  # pore segmentation: a name of poreseg.pores.methods.METHODS
    product: str | None = None  # a catalogue id (poreseg/data/products.csv): simulate it
    strength: float = 1.0  # 0-1, how fully the product's routine is followed
    weeks: float = FULL_COURSE_WEEKS  # weeks of use

    def __post_init__(self):
        check_method(self.method)
        if self.product is not None and self.product not in catalogue():
            raise ValueError(f"unknown product {self.product!r}; known: {', '.join(catalogue())}")
        if not 0.0 <= self.strength <= 1.0 or self.weeks < 0:
            raise ValueError("strength must be in [0, 1] and weeks >= 0")


def metrics_dict(metrics: FaceMetrics) -> dict:
    """``metrics.to_dict()`` with each score to a tenth rounded down (poreseg.scores), so that it lies in
    the band beside it: rounded to the nearest, 69.96 would read 70.0, "Good"."""
    numbers = metrics.to_dict()
    for place, metric in [(numbers["face"], metrics.face), *zip(numbers["zones"].values(), metrics.zones.values())]:
        if metric.score is not None:
            place["score"] = score_tenths(metric.score)
    return numbers


@dataclass
class AfterProduct:
    """A product's simulated effect, measured like the original photo."""

    simulation: Simulation
    pores: PoreResult
    pore_objects: Pores
    metrics: FaceMetrics

    def to_dict(self) -> SimulationReport:
        s = self.simulation
        return {"product": s.product_id, "strength": s.strength, "weeks": s.weeks,
                "expected_reduction": round(s.expected_reduction, 4), "changed_pixels": int(s.changed.sum()),
                **metrics_dict(self.metrics)}


@dataclass
class Analysis:
    """What ``analyze`` found, stage by stage. Coordinates are the photo's (full frame) throughout."""

    image_size: tuple[int, int]  # (height, width)
    method: str
    parsing: FaceParsing
    person: np.ndarray | None  # HxW uint8 person opacity (portrait.person_alpha; None in an app session)
    face: Face  # frame, window, region, scale and pore size (poreseg.face.locate)
    quality: Quality
    pores: PoreResult | None  # None when pores could not be measured (see warnings)
    zones: FaceZones
    pore_objects: Pores | None
    metrics: FaceMetrics
    density: DensityMap | None  # None without pores or without a scale
    suggestions: Suggestions
    after: AfterProduct | None  # with AnalysisOptions.product, when pores were measured
    warnings: list[str]
    timings: dict[str, float]

    @property
    def pores_measured(self) -> bool:
        return self.pores is not None

    def to_dict(self) -> Report:
        """JSON-serialisable summary, schema 1 (the CLI's report.json and the app's download; poreseg.schema)."""
        h, w = self.image_size
        mm_per_px = self.face.mm_per_px
        return {
            "schema": SCHEMA_VERSION,
            "method": self.method,
            "mm_per_px": None if mm_per_px is None else round(mm_per_px, 5),
            "scale_source": "eye distance (63 mm assumed)" if mm_per_px is not None else None,
            "pore_px": round(self.face.pore_px, 3),
            "pores_measured": self.pores_measured,
            **metrics_dict(self.metrics),
            "warnings": list(self.warnings),
            "faces_found": self.parsing.faces_found,
            "face_box": None if self.parsing.face_box is None else list(self.parsing.face_box),
            "image": {"width": w, "height": h},
            "quality": self.quality.to_dict(),
            "suggestions": self.suggestions.to_dict(),
            "simulation": None if self.after is None else self.after.to_dict(),
            "timings": {stage: round(seconds, 4) for stage, seconds in self.timings.items()},
        }


class _Stopwatch:
    def __init__(self):
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        yield
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start


def find_face(rgb: np.ndarray, clock: _Stopwatch | None = None,
              mm_per_px: float | None = None) -> tuple[FaceParsing, np.ndarray, Face]:
    """An analysis's first three stages (parse, portrait, region) on an RGB uint8 photo: its parsing (the
    largest face; AnalysisError without one), the person's opacity (``portrait.person_alpha``) and the
    face (poreseg.face.locate: geometry, skin region, scale; ``mm_per_px`` overrides the eye-distance
    scale). Training, evaluation and ``segment_pores`` find their faces with it too, so that all of them
    measure the region the app measures."""
    clock = clock or _Stopwatch()
    with clock.stage("parse"):
        parsing = parse_largest_face(rgb)
    with clock.stage("portrait"):
        probability = segment_portrait(rgb)
        parsing = within_person(parsing, probability)
        person = person_alpha(probability)
        del probability  # a 12 MP photo's is 48 MB
    with clock.stage("region"):
        face = locate(rgb, parsing, mm_per_px)
    return parsing, person, face


def analyze(rgb: np.ndarray, options: AnalysisOptions | None = None) -> Analysis:
    """Analyse the largest face of an RGB photo (see the module docstring)."""
    options = options or AnalysisOptions()
    rgb = as_rgb8(rgb)
    clock = _Stopwatch()
    parsing, person, face = find_face(rgb, clock)
    with clock.stage("quality"):
        quality = assess_face(rgb, parsing, face)
    pores = None
    if quality.pores_measurable and face.region.any():
        with clock.stage("pores"):
            pores = segment_face_pores(rgb, face, options.method)
    with clock.stage("zones"):
        zones = face.zones(parsing.labels)
    with clock.stage("metrics"):
        pore_objects, metrics = measure_pores(pores, face, zones, options.method)
    density = None
    if pore_objects is not None and face.mm_per_px is not None:
        with clock.stage("density"):
            density = density_map(pore_objects, zones, face.mm_per_px)
    with clock.stage("suggest"):
        suggestions = suggest(metrics)
    after = None
    if options.product is not None and pores is not None:
        with clock.stage("simulate"):
            after = after_product(rgb, face, zones, pores, options)
    clock.timings["total"] = sum(clock.timings.values())
    return Analysis(image_size=(rgb.shape[0], rgb.shape[1]), method=options.method, parsing=parsing, person=person,
                    face=face, quality=quality, pores=pores, zones=zones, pore_objects=pore_objects, metrics=metrics,
                    density=density, suggestions=suggestions, after=after,
                    warnings=analysis_warnings(parsing, face, quality, zones, pores, options), timings=clock.timings)


def parse_largest_face(rgb: np.ndarray) -> FaceParsing:
    """The face parsing of ``rgb`` (its largest face); AnalysisError without a face."""
    parsing = parse_face(rgb)
    if parsing.faces_found == 0:
        raise AnalysisError("No face found. Use a photo with one face looking at the camera, well lit.")
    return parsing


def assess_face(rgb: np.ndarray, parsing: FaceParsing, face: Face) -> Quality:
    """The quality gate (poreseg.quality.assess), on the face's window."""
    window = face.window
    return assess(window.crop(rgb), window.crop(parsing.labels), face.window_region, window.frame(face.frame),
                  face.pore_px)


def segment_face_pores(rgb: np.ndarray, face: Face, method: str) -> PoreResult:
    """The pores in the face's region, at its scale."""
    return segment_pores(rgb, skin_mask=face.region, method=method, mm_per_px=face.mm_per_px, pore_px=face.pore_px)


def measure_pores(pores: PoreResult | None, face: Face, zones: FaceZones, method: str) -> tuple[Pores | None, FaceMetrics]:
    """The pores as objects (None when not measured) and their metrics per zone, scored against the
    method's reference. Found in the face's window, which holds the whole region, and placed in the full
    frame."""
    window = face.window
    window_zones = window.crop_zones(zones)
    found = None if pores is None else find_pores(window.crop(pores.mask), window_zones)
    metrics = measure(found, window_zones, face.mm_per_px, METHODS[method].reference)
    if found is None:
        return None, metrics
    return replace(found, centroids=found.centroids + (window.x0, window.y0)), metrics


def after_product(rgb: np.ndarray, face: Face, zones: FaceZones, pores: PoreResult,
                  options: AnalysisOptions) -> AfterProduct:
    """``options.product``'s simulated effect, its pores segmented and measured again like the photo's
    (same method, region and scale)."""
    simulation = simulate_product(rgb, pores.mask, face.region, get_product(options.product), options.strength,
                                  options.weeks, face.pore_px)
    after_pores = segment_face_pores(simulation.after, face, options.method)
    pore_objects, metrics = measure_pores(after_pores, face, zones, options.method)
    return AfterProduct(simulation, after_pores, pore_objects, metrics)


def analysis_warnings(parsing: FaceParsing, face: Face, quality: Quality, zones: FaceZones, pores: PoreResult | None,
                      options: AnalysisOptions) -> list[str]:
    """What the person should know about the analysis, in the order of the stages."""
    warnings = []
    if parsing.faces_found > 1:
        warnings.append(f"{parsing.faces_found} faces found; the largest one was analysed.")
    if face.mm_per_px is None:
        warnings.append("The eyes are not both visible, so there is no millimetre scale: pore sizes and "
                        "densities are not given, only counts and the share of skin covered.")
    warnings.extend(quality.warnings())
    if not face.region.any():
        warnings.append("No bare skin was found on the face to look for pores in.")
    if zones.too_little_skin:
        names = " and ".join(ZONE_TITLES[zone] for zone in zones.too_little_skin)
        warnings.append(f"Too little skin is visible on the {names} to rate "
                        f"{'them' if len(zones.too_little_skin) > 1 else 'it'}: hair, a mask, a hand or "
                        "the pose hides the rest.")
    if options.product is not None and pores is None:
        warnings.append("The product simulation needs measured pores, so it was skipped.")
    return warnings


def simulate(analysis: Analysis, rgb: np.ndarray, product_id: str, strength: float = 1.0,
             weeks: float = FULL_COURSE_WEEKS) -> AfterProduct:
    """A product's before/after for an analysed photo (``after_product``). For the app's sliders: no new
    parsing."""
    if analysis.pores is None:
        raise AnalysisError("Pores could not be measured in this photo, so there is nothing to simulate.")
    options = AnalysisOptions(method=analysis.method, product=product_id, strength=strength, weeks=weeks)
    return after_product(as_rgb8(rgb), analysis.face, analysis.zones, analysis.pores, options)
