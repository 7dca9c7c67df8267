"""The pore methods are named in one place (poreseg.pores.methods.METHODS): the type, the options, the
command line and segment_pores all follow it."""
from __future__ import annotations

from typing import get_args

import pytest

from poreseg.cli import build_parser
from poreseg.pores.methods import DEFAULT_METHOD, METHODS, MethodName, check_method


def test_the_method_type_lists_the_registered_methods():
    assert set(get_args(MethodName)) == set(METHODS) and DEFAULT_METHOD in METHODS
    assert all(name == method.name for name, method in METHODS.items())


def test_every_method_has_a_label_and_its_own_reference():
    assert len({m.label for m in METHODS.values()}) == len({m.reference for m in METHODS.values()}) == len(METHODS)


def test_an_unknown_method_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="psnet, dog"):
        check_method("watershed")


@pytest.mark.parametrize("command", ["pores", "analyze"])
def test_the_command_line_offers_the_registered_methods(command):
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args([command, "x.jpg", "--out", "x.png", "--method", "watershed"])
    for name in METHODS:
        assert parser.parse_args([command, "x.jpg", "--out", "x.png", "--method", name]).method == name
