"""One data converter and one client factory for the worker, the API, tests and the replayer."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from temporalio.client import Client
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import Runtime

from runtime.codec import EncryptionCodec
from runtime.converter import PayloadConverter
from runtime.settings import TemporalSettings, get_settings


def build_data_converter(keys: Sequence[tuple[str, bytes]] | None = None) -> DataConverter:
    """JSON payloads (pydantic), AES-GCM encrypted; failure messages and stacks encrypted too."""
    codec = EncryptionCodec(keys if keys is not None else get_settings().keys())
    return dataclasses.replace(
        DataConverter.default,
        payload_converter_class=PayloadConverter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(
    settings: TemporalSettings | None = None,
    keys: Sequence[tuple[str, bytes]] | None = None,
    runtime: Runtime | None = None,
) -> Client:
    settings = settings or TemporalSettings()
    return await Client.connect(
        settings.address,
        namespace=settings.namespace,
        api_key=settings.api_key,
        data_converter=build_data_converter(keys),
        runtime=runtime,
    )
