"""The workflows call their activities through typed stubs (workflows/activity_stubs.py): each stub
must have the name, parameters and result of the implementation the worker registers, or a
workflow would hand an activity something it does not take."""

from __future__ import annotations

import inspect
from typing import Any, get_type_hints

from temporalio import activity

from worker.build import registered_activities
from workflows import activity_stubs


def _shape(function: Any) -> tuple[str, list[Any], Any]:
    definition = activity._Definition.must_from_callable(function)
    hints = get_type_hints(function)
    parameters = [hints[p] for p in inspect.signature(function).parameters if p != "self"]
    return definition.name, parameters, hints.get("return")


def test_every_activity_a_workflow_calls_is_registered_with_the_stubs_name_parameters_and_result() -> None:
    implementations = {_shape(f)[0]: _shape(f) for f in registered_activities()}
    stubs = [
        f
        for _, f in inspect.getmembers(activity_stubs, inspect.isfunction)
        if hasattr(f, "__temporal_activity_definition")
    ]
    assert stubs, "no stubs found"
    for stub in stubs:
        name, parameters, result = _shape(stub)
        assert name in implementations, f"{name}: no activity of this name is registered"
        assert implementations[name] == (name, parameters, result), f"{name}: stub and implementation differ"
