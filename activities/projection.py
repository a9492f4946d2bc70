"""The read model, written idempotently by the `advance_request` activity.

A revision guard makes a retried or out-of-order write a no-op, so the projection never regresses;
outcome rows have a unique key per clock, so nothing is counted twice.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, delete, select

from runtime.codec import EncryptionCodec, seal_text
from sla.events import CLOSING_EVENTS
from store.models import (
    ClockOutcomeRow,
    ClockRow,
    CorrectionRow,
    EventRow,
    RecomputeRow,
    RequestRow,
    ThresholdRow,
)
from workflows.messages import ClockSnapshot, PersonalData, RequestView


def _json(value: Any) -> Any:
    """JSON-ready copy of nested snapshots (datetimes as ISO strings)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


class ProjectionWriter:
    def __init__(self, engine: Engine, codec: EncryptionCodec) -> None:
        self.engine = engine
        self.codec = codec

    def write(
        self,
        view: RequestView,
        catalog_version: int,
        personal: PersonalData | None = None,
        pinned_terms: dict[str, Any] | None = None,
    ) -> bool:
        """Write the view. Returns False when a newer revision is already stored (nothing written).

        `personal` and `pinned_terms` come with the first revision only; later writes keep them."""
        try:
            return self._write(view, catalog_version, personal, pinned_terms)
        except IntegrityError:
            # A concurrent attempt of the same revision won the insert; it wrote everything.
            return False

    def _write(
        self,
        view: RequestView,
        catalog_version: int,
        personal: PersonalData | None,
        pinned_terms: dict[str, Any] | None,
    ) -> bool:
        now = datetime.now(UTC)
        with Session(self.engine) as session:
            values = self._request_values(view, catalog_version, now) | self._sealed(personal)
            if pinned_terms:
                values["pinned_terms"] = pinned_terms
            result = session.execute(
                update(RequestRow)
                .where(RequestRow.id == view.request_id)  # type: ignore[arg-type]
                .where(RequestRow.revision < view.revision)  # type: ignore[arg-type]
                .values(**values)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                if session.get(RequestRow, view.request_id) is not None:
                    return False  # stale: a newer revision is stored
                session.add(RequestRow(id=view.request_id, **values))
                session.flush()
            self._write_children(session, view, now)
            session.commit()
        return True

    @staticmethod
    def _request_values(view: RequestView, catalog_version: int, now: datetime) -> dict[str, Any]:
        closing = [e.received_at for e in view.events if e.type in CLOSING_EVENTS]
        return {
            "service_id": view.service_id,
            "catalog_version": catalog_version,
            "catalog_digest": view.catalog_digest,
            "insurer_id": view.insurer_id,
            "vendor_id": view.vendor_id,
            "external_ref": view.external_ref,
            "status": view.status,
            "opened_at": view.opened_at,
            "closed_at": closing[0] if closing else None,
            "revision": view.revision,
            "calendar_fingerprint": view.calendar_fingerprint,
            "calendar_sources": view.calendar_sources,
            "updated_at": now,
        }

    def _sealed(self, personal: PersonalData | None) -> dict[str, str]:
        if personal is None:
            return {}  # sent only with the first projection; later writes keep the stored column
        text = json.dumps({"policy_no": personal.policy_no, **asdict(personal.insured)}, ensure_ascii=False)
        return {"sealed_personal_data": seal_text(self.codec, text)}

    def _write_children(self, session: Session, view: RequestView, now: datetime) -> None:
        rid = view.request_id
        labels = {"insurer_id": view.insurer_id, "vendor_id": view.vendor_id, "service_id": view.service_id}
        session.execute(delete(ClockRow).where(ClockRow.request_id == rid))  # type: ignore[arg-type]
        for clock in view.clocks:
            session.add(
                ClockRow(
                    request_id=rid,
                    clock_id=clock.clock_id,
                    **labels,
                    state=clock.state,
                    outcome=clock.outcome,
                    started_at=clock.started_at,
                    due_at=clock.due_at,
                    stopped_at=clock.stopped_at,
                    breached_at=clock.breached_at,
                    late_by_seconds=clock.late_by_seconds,
                    budget_seconds=clock.budget_seconds,
                    elapsed_seconds=clock.elapsed_seconds,
                    working_days_used=clock.working_days_used,
                    provisional=clock.provisional,
                    cycle=clock.cycle,
                    at_risk_from=self._at_risk_from(clock),
                    thresholds=[_json(asdict(t)) for t in clock.thresholds],
                    timeline=[_json(asdict(t)) for t in clock.timeline],
                )
            )
            self._record_outcome(session, view, clock.clock_id, now)
        self._sync_thresholds(session, view, now)
        stored = set(session.exec(select(EventRow.seq).where(EventRow.request_id == rid)).all())
        for event in view.events:
            if event.seq not in stored:
                session.add(
                    EventRow(
                        request_id=rid,
                        seq=event.seq,
                        type=event.type,
                        occurred_at=event.occurred_at,
                        received_at=event.received_at,
                        sender=event.sender,
                        idempotency_key=event.idempotency_key,
                        data=_json(event.data),
                    )
                )
        for correction in view.corrections:
            if session.get(CorrectionRow, (rid, correction.clock_id, correction.at)) is None:
                session.add(CorrectionRow(request_id=rid, **asdict(correction)))
        for recompute in view.recomputes:
            if session.get(RecomputeRow, (rid, recompute.clock_id, recompute.at)) is None:
                session.add(RecomputeRow(request_id=rid, **asdict(recompute)))

    @staticmethod
    def _at_risk_from(clock: ClockSnapshot) -> datetime | None:
        if clock.state != "running" or not clock.thresholds:
            return None
        return clock.thresholds[-1].at  # the highest warning fraction

    @staticmethod
    def _sync_thresholds(session: Session, view: RequestView, now: datetime) -> None:
        """Warnings as the current computation has them: a retroactive event can revoke one
        (e.g. a pause dated before it); rows that still hold keep their first recorded_at."""
        fired = {
            (clock.clock_id, clock.cycle, t.fraction): t.at
            for clock in view.clocks
            for t in clock.thresholds
            if t.fired and t.at is not None
        }
        stored = session.exec(select(ThresholdRow).where(ThresholdRow.request_id == view.request_id)).all()
        for row in stored:
            at = fired.pop((row.clock_id, row.cycle, row.fraction), None)
            if at is None:
                session.delete(row)
            elif at != row.fired_at:
                row.fired_at = at
                session.add(row)
        for (clock_id, cycle, fraction), at in fired.items():
            session.add(
                ThresholdRow(
                    request_id=view.request_id,
                    clock_id=clock_id,
                    cycle=cycle,
                    fraction=fraction,
                    fired_at=at,
                    recorded_at=now,
                )
            )

    @staticmethod
    def _record_outcome(session: Session, view: RequestView, clock_id: str, now: datetime) -> None:
        clock = next(c for c in view.clocks if c.clock_id == clock_id)
        existing = session.exec(
            select(ClockOutcomeRow).where(
                ClockOutcomeRow.request_id == view.request_id, ClockOutcomeRow.clock_id == clock_id
            )
        ).first()
        if clock.outcome is None:
            if existing is not None:  # a retroactive event reopened it: the correction row says why
                session.delete(existing)
            return
        outcome_at = clock.breached_at if clock.outcome == "breached" else clock.stopped_at
        values: dict[str, Any] = {
            "outcome": clock.outcome,
            "outcome_at": outcome_at or now,
            "due_at": clock.due_at,
            "started_at": clock.started_at,
            "working_days_used": clock.working_days_used,
            "late_by_seconds": clock.late_by_seconds,
        }
        if existing is None:
            session.add(
                ClockOutcomeRow(
                    request_id=view.request_id,
                    clock_id=clock_id,
                    insurer_id=view.insurer_id,
                    vendor_id=view.vendor_id,
                    service_id=view.service_id,
                    recorded_at=now,
                    **values,
                )
            )
            return
        if existing.outcome != clock.outcome:
            existing.corrected = True
            existing.recorded_at = now
        for key, value in values.items():
            setattr(existing, key, value)
        session.add(existing)
