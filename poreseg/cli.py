"""Command line: ``python -m poreseg {parse,portrait,pores,eval,train} ...``.

A thin layer over the library. Model modules import ONNX Runtime and training modules torch, so they are
imported inside the commands that need them and ``--help`` stays fast.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from poreseg.imageio import ImageLoadError, load_image
from poreseg.pores.methods import DEFAULT_METHOD, METHODS
from poreseg.scores import whole_score
from poreseg.weights import WeightsError

PROG = "poreseg"


def parse_command(args: argparse.Namespace) -> int:
    rgb = load_image(args.image)
    from poreseg.parsing import parse_face, within_person
    from poreseg.portrait import segment_portrait
    parsing = parse_face(rgb)
    if parsing.faces_found == 0:
        print(f"no face found in {args.image}", file=sys.stderr)
        return 1
    parsing = within_person(parsing, segment_portrait(rgb))  # the labels the analysis uses
    save(parsing.labels, args.out)
    if args.overlay:
        from poreseg.draw import overlay_labels
        save(overlay_labels(rgb, parsing.labels), args.overlay)
    found = "1 face found" if parsing.faces_found == 1 else f"{parsing.faces_found} faces found; parsed the largest"
    print(f"{found}, face box {parsing.face_box}")
    return 0


def portrait_command(args: argparse.Namespace) -> int:
    rgb = load_image(args.image)
    from poreseg.portrait import person_alpha, segment_portrait
    save(person_alpha(segment_portrait(rgb)), args.out)
    return 0


def pores_command(args: argparse.Namespace) -> int:
    rgb = load_image(args.image)
    # Any image the loader reads can be a mask: a pixel is analysed where one of its channels is nonzero.
    skin = load_image(args.mask).any(axis=2) if args.mask else None
    import cv2
    from poreseg.pores.segment import PoreError, segment_pores
    try:
        result = segment_pores(rgb, skin, args.method)
    except PoreError as error:
        return fail(error)
    save(result.mask.astype(np.uint8) * 255, args.out)
    pores = cv2.connectedComponents(result.mask.astype(np.uint8), connectivity=8)[0] - 1
    scale = f", {result.mm_per_px:.3f} mm per pixel" if result.mm_per_px else ""
    print(f"{pores} pores ({result.method}), expected pore diameter {result.pore_px:.1f} px{scale}")
    return 0


def analyze_command(args: argparse.Namespace) -> int:
    """Analyse each image into OUT/<image stem>/ and OUT/summary.csv (one row per image); a failed file gets
    one line and the others still run."""
    from poreseg.analysis import AnalysisError, AnalysisOptions, analyze
    from poreseg.report import write_report, write_summary
    from poreseg.tables import summary_row
    from poreseg.weights import WeightsError
    options = AnalysisOptions(method=args.method)
    failed = 0
    rows = []
    for number, image in enumerate(args.images, start=1):
        progress = f"[{number}/{len(args.images)}]"
        try:
            rgb = load_image(image)
            analysis = analyze(rgb, options)
            folder = write_report(analysis, rgb, args.out / _report_folder(image, args.images))["report"].parent
        except Exception as error:  # one photo's failure, even a bug, must not stop the batch
            failed += 1
            expected = isinstance(error, (ImageLoadError, AnalysisError, WeightsError, OSError))
            reason = str(error) if expected else f"unexpected {type(error).__name__}: {error}"
            reason = " ".join(reason.split())
            print(f"{progress} {image}: failed: {reason}", file=sys.stderr)
            rows.append(summary_row(image, error=reason))
            continue
        report = analysis.to_dict()
        rows.append(summary_row(image, report, folder))
        face = report["face"]
        summary = (f"{face['pore_count']} pores, score {whole_score(face['score'])} ({face['band']})"
                   if analysis.pores_measured else "pores not measured (see warnings in report.json)")
        print(f"{progress} {image}: {summary} -> {folder}", file=sys.stderr)
    print(f"summary of {len(rows)} images -> {write_summary(rows, args.out)}", file=sys.stderr)
    if failed:
        print(f"{PROG}: {failed} of {len(args.images)} images failed", file=sys.stderr)
    return 1 if failed else 0


def _report_folder(image: Path, images: list[Path]) -> str:
    """The image's stem, or its file name when two inputs share a stem (a.jpg and a.png)."""
    same_stem = sum(other.stem == image.stem for other in images)
    return image.stem if same_stem == 1 else image.name


def eval_command(args: argparse.Namespace) -> int:
    from poreseg.training import datasets, evaluate
    data = args.data or datasets.DEFAULT_DATA_DIR
    if not data.is_dir():
        print(f"{PROG}: error: data folder {data} not found (pass --data or set PORESEG_DATA)", file=sys.stderr)
        return 2
    if args.weights and not args.weights.is_file():
        print(f"{PROG}: error: weights {args.weights} not found", file=sys.stderr)
        return 2
    if args.model == "parser":
        from poreseg.parsing import FaceParser
        parser = FaceParser.load(args.weights) if args.weights else FaceParser.shared()
        print(evaluate.parser_report(lambda rgb: parser(rgb).labels, data))
    elif args.model == "psnet":
        from poreseg.training import evaluate_pores
        return evaluate_pores.main(["--data", str(data)])
    else:
        from poreseg.portrait import PortraitSegmenter
        if not args.teacher.is_dir():
            print(f"{PROG}: error: teacher masks {args.teacher} not found (pass --teacher; README Training, step 1)",
                  file=sys.stderr)
            return 2
        segment = PortraitSegmenter.load(args.weights) if args.weights else PortraitSegmenter.shared()
        print(evaluate.portrait_report(evaluate.portrait_scores(segment, data, args.teacher), data))
    return 0


def train_command(args: argparse.Namespace) -> int:
    if args.model == "parser":
        from poreseg.training import train_parser as trainer
    elif args.model == "psnet":
        from poreseg.training import train_psnet as trainer
    else:
        from poreseg.training import train_portrait as trainer
    trainer.main(args.args)
    return 0


def save(image: np.ndarray, path: Path) -> None:
    Image.fromarray(image).save(path)


def output_path(*suffixes: str):
    """Argument type: a path with one of ``suffixes``, checked before any work is done."""
    def check(text: str) -> Path:
        if Path(text).suffix.lower() not in suffixes:
            raise argparse.ArgumentTypeError(f"{text}: must end with {' or '.join(suffixes)}")
        return Path(text)
    return check


# Label ids and masks must survive exactly: a lossy format would quietly change them.
LOSSLESS = output_path(".png")
PICTURE = output_path(".png", ".jpg", ".jpeg")
METHOD_ARGUMENT = dict(choices=tuple(METHODS), default=DEFAULT_METHOD, help="pore method: " + "; ".join(
    f"{m.name}: {m.label}, {m.description}{' (default)' if m.name == DEFAULT_METHOD else ''}" for m in METHODS.values()))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Face parsing, portrait and pore segmentation.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    parse = commands.add_parser("parse", help="label the largest face of an image (class ids PNG)")
    parse.add_argument("image", type=Path)
    parse.add_argument("--out", type=LOSSLESS, required=True, help="labels PNG: one class id per pixel")
    parse.add_argument("--overlay", type=PICTURE, help="also write the image tinted with the label colours")
    parse.set_defaults(run=parse_command)

    portrait = commands.add_parser("portrait", help="person mask of an image (8-bit probability PNG)")
    portrait.add_argument("image", type=Path)
    portrait.add_argument("--out", type=LOSSLESS, required=True, help="mask PNG: person probability * 255")
    portrait.set_defaults(run=portrait_command)

    pores = commands.add_parser("pores", help="pore mask of a face or of a close-up of skin (0/255 PNG)")
    pores.add_argument("image", type=Path)
    pores.add_argument("--mask", type=Path, help="region to analyse: nonzero pixels of this image, at the image's "
                                                 "size; no face needed, the pore scale comes from the skin itself")
    pores.add_argument("--method", **METHOD_ARGUMENT)
    pores.add_argument("--out", type=LOSSLESS, required=True, help="mask PNG: 255 on pores, 0 elsewhere")
    pores.set_defaults(run=pores_command)

    analyse = commands.add_parser("analyze", help="full skin analysis: report.json, zones.csv and pictures per image")
    analyse.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    analyse.add_argument("--out", type=Path, required=True, help="output folder; one subfolder per image")
    analyse.add_argument("--method", **METHOD_ARGUMENT)
    analyse.set_defaults(run=analyze_command)

    evaluate = commands.add_parser("eval", help="evaluation tables on the held-out data")
    evaluate.add_argument("model", choices=("parser", "portrait", "psnet"))
    evaluate.add_argument("--data", type=Path, help="data folder (default: PORESEG_DATA or ../shared/data)")
    evaluate.add_argument("--teacher", type=Path, default=Path("cache/teacher"),
                          help="portrait: the teacher's masks, for the mste rows (default: cache/teacher)")
    evaluate.add_argument("--weights", type=Path,
                          help="parser, portrait: a weights file or training checkpoint to evaluate instead of the shipped one")
    evaluate.set_defaults(run=eval_command)

    train = commands.add_parser("train", help="train a model; further arguments go to its trainer")
    train.add_argument("model", choices=("parser", "portrait", "psnet"))
    train.add_argument("args", nargs=argparse.REMAINDER, help="e.g. --steps 3000 (see: train parser --help)")
    train.set_defaults(run=train_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ImageLoadError, OSError, WeightsError) as error:
        return fail(error)


def fail(error: Exception) -> int:
    message = " ".join(str(error).split())  # one line, whatever the message holds
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1
