"""Notes are stored in clear: a resident ID number (ISO 7064 MOD 11-2 check) or a mainland mobile number
in one is refused with its own rule (sla/personal_data.py, the hook in sla/event_data.py)."""

from __future__ import annotations

import pytest

from sla.event_data import EventDataError, check_event_data
from sla.personal_data import MOBILE_NUMBER, RESIDENT_ID, is_resident_id, personal_data_in, resident_id_check

VALID_ID = "11010519491231002X"  # GB 11643-1999's own example: check character X
OTHER_VALID_ID = "440304198512010019"


def test_the_check_character_is_iso_7064_mod_11_2_with_x_for_ten() -> None:
    assert resident_id_check(VALID_ID[:17]) == "X" and is_resident_id(VALID_ID)
    assert resident_id_check(OTHER_VALID_ID[:17]) == "9" and is_resident_id(OTHER_VALID_ID)
    assert is_resident_id(VALID_ID.lower())
    assert not is_resident_id("110101199003071234")  # a made-up number: check digit 3, not 4


@pytest.mark.parametrize(
    "note",
    [
        f"insured {VALID_ID} called",
        f"身份证{OTHER_VALID_ID}已核验",
        "身份证４４０３０４１９８５１２０１００１９",  # full-width digits
        "ID 440304 19851201 0019",  # grouped with spaces
    ],
)
def test_a_note_holding_a_resident_id_number_is_found(note: str) -> None:
    assert personal_data_in(note) == RESIDENT_ID


@pytest.mark.parametrize(
    "note",
    [
        "call 13800138000",
        "手机：+86 138 0013 8000",
        "tel 8613912345678.",
        "0086-159-1234-5678",
        "１３８００１３８０００",
    ],
)
def test_a_note_holding_a_mainland_mobile_number_is_found(note: str) -> None:
    assert personal_data_in(note) == MOBILE_NUMBER


@pytest.mark.parametrize(
    "note",
    [
        "customer called at 2025-09-26 14:00, appointment moved",
        "claim 110101199003071234 pending",  # 18 digits whose check digit is wrong: an order number
        "order 123456789012345678901",  # longer than an ID
        "landline 010-12345678",
        "12800138000 is no mobile prefix",
        "amount 13800138000123",  # a longer number holding a mobile-like run
        "",
    ],
)
def test_a_note_without_an_id_or_mobile_number_passes(note: str) -> None:
    assert personal_data_in(note) is None
    check_event_data("customer_confirmed", {"note": note})


def test_the_event_data_check_refuses_such_a_note_with_its_rule_and_never_echoes_the_number() -> None:
    for note, kind in ((f"id {VALID_ID}", "resident ID"), ("call 13800138000", "mobile phone")):
        with pytest.raises(EventDataError) as refused:
            check_event_data("customer_confirmed", {"note": note})
        assert refused.value.rule == "event.note_personal_data"
        assert refused.value.source == "sla/personal_data.py"
        assert kind in refused.value.message and "13800138000" not in refused.value.message
        assert VALID_ID not in refused.value.message
