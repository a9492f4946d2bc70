"""Response models derived from the domain's frozen dataclasses, so a field added to a domain type
(a clock, an event, a threshold, an advisory) reaches the API with no second declaration.

Every instant becomes `Instant` (RFC 3339, +08:00); a tuple of dataclasses becomes a list of their
derived models; a field can be left out (internal to the engine) or given another type (what the
API computes at the moment of the request)."""

from __future__ import annotations

import dataclasses
import types
from datetime import datetime
from typing import Any, Union, get_args, get_origin, get_type_hints

from pydantic import BaseModel, create_model

from api.instants import Instant

_DERIVED: dict[type, type[BaseModel]] = {}


def _api_type(annotation: Any) -> Any:
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is datetime:
        return Instant
    if origin in (Union, types.UnionType):
        return Union[tuple(_api_type(a) for a in args)]  # noqa: UP007 (built from a tuple of types)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return list[_api_type(args[0])]  # type: ignore[misc]
    if origin is list:
        return list[_api_type(args[0])]  # type: ignore[misc]
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return model_of(annotation)
    return annotation


def model_of(
    source: type,
    name: str | None = None,
    *,
    exclude: frozenset[str] = frozenset(),
    include: tuple[str, ...] | None = None,
    retype: dict[str, tuple[Any, Any]] | None = None,
    extra: dict[str, tuple[Any, Any]] | None = None,
    doc: str | None = None,
) -> type[BaseModel]:
    """A pydantic model with the dataclass's fields (those in `include`, or all but `exclude`),
    `retype`d where the API answers something else, plus `extra` fields of the API's own."""
    plain = name is None and not (exclude or include or retype or extra)
    if plain and source in _DERIVED:
        return _DERIVED[source]
    hints = get_type_hints(source)
    fields: dict[str, Any] = {}
    for field in dataclasses.fields(source):
        if field.name in exclude or (include is not None and field.name not in include):
            continue
        if field.default is not dataclasses.MISSING:
            default: Any = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = ...
        fields[field.name] = (_api_type(hints[field.name]), default)
    fields |= retype or {}
    fields |= extra or {}
    model: type[BaseModel] = create_model(name or f"{source.__name__}Out", __doc__=doc or source.__doc__, **fields)
    if plain:
        _DERIVED[source] = model
    return model
