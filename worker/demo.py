"""Demo access for the embedded default: three vendors and one key per role, rotated on every run
(keys are stored hashed, so a key can only be shown when it is made)."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, select

from store.keys import Role, create_key, revoke_key
from store.models import ApiKeyRow, VendorRow

DEMO_LABEL = "demo (rotated by make run)"
DEMO_VENDORS = {
    "vendor-reliable": "Reliable Health Services (demo)",
    "vendor-late": "Often-Late Care (demo)",
    "vendor-forgetful": "Forgets-To-Confirm Medical (demo)",
}


def ensure_demo_access(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        for vendor_id, name in DEMO_VENDORS.items():
            session.merge(VendorRow(id=vendor_id, name=name))
        session.commit()
        old = session.exec(select(ApiKeyRow).where(ApiKeyRow.label == DEMO_LABEL, ApiKeyRow.revoked_at == None)).all()  # noqa: E711
    for row in old:
        revoke_key(engine, row.key_id)
    return {
        "coordinator (vendor-reliable)": create_key(
            engine, Role.COORDINATOR, vendor_id="vendor-reliable", label=DEMO_LABEL
        ),
        "operations": create_key(engine, Role.OPERATIONS, label=DEMO_LABEL),
        "auditor (axa_tianping)": create_key(engine, Role.AUDITOR, insurer_id="axa_tianping", label=DEMO_LABEL),
        "admin": create_key(engine, Role.ADMIN, label=DEMO_LABEL),
    }
