"""``pip install .`` gives a working package: the ``poreseg`` command and ``import poreseg`` run from any
directory, with the weights and the product catalogue found inside the installed package.

The package is installed without its dependencies into a fresh venv that sees this environment's
packages (torch, numpy, ...) through a .pth file, so the test stays fast and needs no network beyond
the build backend.
"""
from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from conftest import REPO_ROOT, requires_models

pytestmark = requires_models
PHOTO = REPO_ROOT / "examples" / "lisa_15cm.jpg"


def clean_copy(destination: Path) -> Path:
    """The files a clean clone has (tracked, or new and not ignored), without build leftovers."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO_ROOT,
                            capture_output=True, text=True)
    if listed.returncode != 0:  # not a git checkout: copy the tree as it is
        shutil.copytree(REPO_ROOT, destination, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info"))
        return destination
    for name in filter(None, listed.stdout.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv with poreseg installed from a clean copy of the repository; returns its bin folder."""
    root = tmp_path_factory.mktemp("install")
    source = clean_copy(root / "source")
    environment = root / "venv"
    venv.create(environment, with_pip=False)
    bin_dir = environment / ("Scripts" if sys.platform == "win32" else "bin")
    python = bin_dir / "python"
    site_packages = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   capture_output=True, text=True, check=True).stdout.strip()
    Path(site_packages, "outer_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    result = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                             "--disable-pip-version-check", "--quiet", str(source)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return bin_dir


def run_elsewhere(command: list, tmp_path: Path) -> subprocess.CompletedProcess:
    """``command`` run in an empty folder, far from the repository."""
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)


def test_the_command_prints_its_help(installed, tmp_path):
    result = run_elsewhere([installed / "poreseg", "--help"], tmp_path)
    assert result.returncode == 0 and "analyze" in result.stdout


def test_the_command_analyses_a_photo_from_another_folder(installed, tmp_path):
    result = run_elsewhere([installed / "poreseg", "analyze", PHOTO, "--out", "reports", "--method", "dog"], tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "reports" / PHOTO.stem / "report.json").read_text())
    assert report["pores_measured"] and report["face"]["pore_count"] > 0


def test_the_library_analyses_with_weights_and_catalogue_from_the_package(installed, tmp_path):
    script = (
        "import json, poreseg\n"
        "from poreseg.products import CATALOGUE_PATH\n"
        "from poreseg.weights import WEIGHTS_DIR\n"
        f"analysis = poreseg.analyze(poreseg.load_image({str(PHOTO)!r}), "
        "poreseg.AnalysisOptions(method='psnet', product='niacinamide_serum'))\n"
        "print(json.dumps({'module': poreseg.__file__, 'weights': str(WEIGHTS_DIR), 'catalogue': str(CATALOGUE_PATH),"
        " 'version': poreseg.__version__, 'pores': analysis.metrics.face.pore_count}))\n"
    )
    result = run_elsewhere([installed / "python", "-c", script], tmp_path)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    package = Path(found["module"]).parent
    assert package.is_relative_to(installed.parent), "imported poreseg from the repository, not the install"
    assert Path(found["weights"]) == package / "model_weights"
    assert Path(found["catalogue"]).is_relative_to(package)
    assert found["version"] == __import__("poreseg").__version__
    assert found["pores"] > 0


def test_the_weights_stay_at_the_repository_top_level():
    """pyproject.toml maps weights/ into the package at build time; the checkout keeps it where it is."""
    from poreseg.weights import WEIGHTS_DIR

    assert WEIGHTS_DIR == REPO_ROOT / "weights"
    assert not (REPO_ROOT / "poreseg" / "model_weights").exists()
    assert {"face_parser.onnx", "portrait.onnx"} <= {path.name for path in WEIGHTS_DIR.glob("*.onnx")}


def test_every_subpackage_is_listed_for_the_build():
    """pyproject.toml lists the packages by hand (the weights mapping needs it): a new subpackage must be added."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    listed = set(tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(init.parent.relative_to(REPO_ROOT).parts) for init in REPO_ROOT.glob("poreseg/**/__init__.py")}
    assert on_disk <= listed


def test_the_public_api_is_curated_and_light():
    """``import poreseg`` names the curated API (__all__) without importing torch; each name resolves."""
    script = ("import sys, poreseg\n"
              "assert 'torch' not in sys.modules, 'import poreseg imported torch'\n"
              "print(sorted(poreseg.__all__))\n"
              "print(all(getattr(poreseg, name) is not None for name in poreseg.__all__))\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    names, resolved = result.stdout.splitlines()
    assert {"analyze", "AnalysisOptions", "Analysis", "load_image", "parse_face", "segment_portrait", "segment_pores",
            "CLASSES", "__version__"} <= set(ast.literal_eval(names)) and resolved == "True"
