"""Turn a bad spec into a 422 body that names each field path and what is wrong with it."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError

from continuum.contracts import PipelineSpec, parse_spec_yaml
from continuum.modelkit import validate_model_spec


class SpecProblemsError(Exception):
    """The spec is invalid; ``problems`` lists ``{"path", "reason"}`` items."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{p['path']}: {p['reason']}" for p in problems))
        self.problems = problems


def _path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "$"


def parse_or_explain(text: str) -> PipelineSpec:
    """The parsed spec, or :class:`SpecProblemsError` with a path and reason per error.

    A spec that parses is also checked against scikit-learn: its estimator's params and
    search space are validated as ``fit`` would (without fitting), so a bad value is
    refused at apply rather than failing every training run.
    """
    spec = _parse(text)
    problems = [
        {"path": problem.path, "reason": problem.reason, "type": "model_param"}
        for problem in validate_model_spec(spec)
    ]
    if problems:
        raise SpecProblemsError(problems)
    return spec


def _parse(text: str) -> PipelineSpec:
    try:
        return parse_spec_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecProblemsError(
            [{"path": "$", "reason": f"invalid YAML{where}: {problem}"}]
        ) from exc
    except ValidationError as exc:
        problems = [
            {"path": _path(error["loc"]), "reason": error["msg"], "type": error["type"]}
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise SpecProblemsError(problems) from exc
    except RecursionError as exc:
        # PyYAML composes nodes recursively: thousands of nested "[" exhaust the stack.
        raise SpecProblemsError([{"path": "$", "reason": "the YAML is nested too deeply"}]) from exc
    except ValueError as exc:
        raise SpecProblemsError([{"path": "$", "reason": str(exc)}]) from exc
