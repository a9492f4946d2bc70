"""The service catalog, readable, with the manual lines each rule rests on."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import PrincipalDep, StateDep
from api.problems import PROBLEM_RESPONSES, not_found
from api.schemas import ServiceId, ServiceOut
from api.views import describe_entry
from sla.errors import UnknownServiceError

router = APIRouter(prefix="/v1/services", tags=["catalog"])


@router.get("", response_model=list[ServiceOut], responses=PROBLEM_RESPONSES)
def list_services(principal: PrincipalDep, state: StateDep) -> list[ServiceOut]:
    return [ServiceOut(**describe_entry(entry)) for entry in state.catalog]


@router.get("/{service_id}", response_model=ServiceOut, responses=PROBLEM_RESPONSES)
def get_service(service_id: ServiceId, principal: PrincipalDep, state: StateDep) -> ServiceOut:
    try:
        return ServiceOut(**describe_entry(state.catalog.get(service_id)))
    except UnknownServiceError:
        raise not_found(f"service {service_id}") from None
