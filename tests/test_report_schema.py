"""Every report validates against the JSON Schema in the repository (poreseg/data/report.schema.json), and
the report's Python types (poreseg.schema) name the same fields."""
from __future__ import annotations

import json
import typing

import pytest
from jsonschema import Draft202012Validator

from conftest import REPO_ROOT, requires_models
from poreseg.schema import Report, report_schema

SCHEMA = report_schema()
VALIDATOR = Draft202012Validator(SCHEMA)
EXAMPLES = sorted((REPO_ROOT / "examples").glob("*.jpg"))


def assert_valid(report: dict) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(report)]
    assert not errors, errors


def test_the_schema_is_a_valid_json_schema():
    Draft202012Validator.check_schema(SCHEMA)


def resolved(node: dict) -> dict:
    """``node`` with its $ref followed, and of a "null or object" the object."""
    if "$ref" in node:
        node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]]
    objects = [option for option in node.get("oneOf", ()) if option.get("type") == "object"]
    return objects[0] if objects else node


def typed_dicts_in(hint) -> list[type]:
    if typing.is_typeddict(hint):
        return [hint]
    return [t for arg in typing.get_args(hint) for t in typed_dicts_in(arg)]


def assert_same_fields(typed: type, node: dict, path: str = "report") -> None:
    hints = typing.get_type_hints(typed)
    assert set(hints) == set(node["properties"]) == set(node["required"]), path
    for name, hint in hints.items():
        for inner in typed_dicts_in(hint):
            child = resolved(node["properties"][name])
            if child.get("type") == "array":
                child = resolved(child["items"])
            assert_same_fields(inner, child, f"{path}.{name}")


def test_the_report_types_name_the_fields_of_the_schema():
    assert_same_fields(Report, SCHEMA)


@requires_models
@pytest.mark.parametrize("method", ["psnet", "dog"])
def test_every_report_of_the_examples_validates(method):
    from poreseg.analysis import AnalysisOptions, analyze
    from poreseg.imageio import load_image

    for image in EXAMPLES:
        assert_valid(json.loads(json.dumps(analyze(load_image(image), AnalysisOptions(
            method=method, product="retinoid")).to_dict())))


@requires_models
def test_report_json_of_the_command_line_validates(run, tmp_path):
    result = run("analyze", *EXAMPLES, "--out", tmp_path, "--method", "dog")
    assert result.returncode == 0, result.stderr
    reports = sorted(tmp_path.glob("*/report.json"))
    assert len(reports) == len(EXAMPLES)
    for path in reports:
        assert_valid(json.loads(path.read_text()))
