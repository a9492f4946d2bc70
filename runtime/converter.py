"""The payload converter: the SDK's defaults, with pydantic doing the JSON.

Why pydantic: inside the workflow sandbox every `isinstance` is a Python-level wrapper, so the
default converter's `dataclasses.asdict` and type-hint walk cost ~40 % of a replay (bench/replay.py).
pydantic-core does both in Rust.

Why one JSON converter per process: the sandbox builds a new payload converter for every workflow
run, and a new `PydanticPayloadConverter` starts with an empty TypeAdapter cache, so every replay
would build the adapters again (measured: no faster than the default). The adapters depend only on
the message types, which are the same objects in every run (passed through the sandbox).
"""

from __future__ import annotations

from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import CompositePayloadConverter, DefaultPayloadConverter, JSONPlainPayloadConverter

_JSON = PydanticJSONPlainPayloadConverter()


class PayloadConverter(CompositePayloadConverter):
    def __init__(self) -> None:
        super().__init__(
            *(
                _JSON if isinstance(converter, JSONPlainPayloadConverter) else converter
                for converter in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )
