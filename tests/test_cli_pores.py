"""``python -m poreseg pores`` and the psnet entries of eval and train, as a user runs them."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import requires_weights
from poreseg import cli
from test_cli import assert_one_line_error
from test_pores_segment import skin_with_pores


@pytest.fixture
def close_up(tmp_path):
    """A synthetic close-up of skin (150x120) and a mask of its right part."""
    image, mask = tmp_path / "skin.png", tmp_path / "skin_mask.png"
    Image.fromarray(skin_with_pores()).save(image)
    region = np.zeros((120, 150), np.uint8)
    region[:, 30:] = 255
    Image.fromarray(region).save(mask)
    return image, mask


def test_help_lists_pores(run):
    result = run("--help")
    assert result.returncode == 0 and "pores" in result.stdout


def _check_pore_png(path, mask_path) -> np.ndarray:
    pores = Image.open(path)
    assert pores.mode == "L" and pores.size == (150, 120)
    values = np.asarray(pores)
    assert set(np.unique(values)) <= {0, 255}
    assert not values[np.asarray(Image.open(mask_path)) == 0].any()
    return values


def test_pores_with_mask_dog(run, tmp_path, close_up):
    image, mask = close_up
    out = tmp_path / "pores.png"
    result = run("pores", image, "--mask", mask, "--method", "dog", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "pores (dog)" in result.stdout
    assert (_check_pore_png(out, mask) == 255).any()


@requires_weights("psnet")
def test_pores_with_mask_psnet(run, tmp_path, close_up):
    image, mask = close_up
    out = tmp_path / "pores.png"
    result = run("pores", image, "--mask", mask, "--out", out)
    assert result.returncode == 0, result.stderr
    _check_pore_png(out, mask)


def test_mask_of_another_size_is_one_line_error(run, tmp_path, close_up):
    image, _ = close_up
    small_mask = tmp_path / "small.png"
    Image.fromarray(np.full((60, 75), 255, np.uint8)).save(small_mask)
    result = run("pores", image, "--mask", small_mask, "--method", "dog", "--out", tmp_path / "pores.png")
    assert_one_line_error(result)
    assert "75x60" in result.stderr and "150x120" in result.stderr
    assert not (tmp_path / "pores.png").exists()


def test_unknown_method_is_a_usage_error(run, tmp_path, close_up):
    image, mask = close_up
    result = run("pores", image, "--mask", mask, "--method", "unet", "--out", tmp_path / "pores.png")
    assert result.returncode == 2 and "usage:" in result.stderr


def test_eval_psnet_without_data_folder(run, tmp_path):
    result = run("eval", "psnet", "--data", tmp_path / "no_such_folder")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_train_psnet_reaches_its_trainer(capsys):
    # In-process: the trainer's own --help proves the dispatch without a second torch start-up.
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "psnet", "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert "--no-hfa" in help_text and "--no-bayes" in help_text
