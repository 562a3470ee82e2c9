"""PII redaction: each kind found and replaced, look-alikes left alone, properties."""

from __future__ import annotations

import itertools
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dealcast.safety.pii import PiiKind, find_pii, redact, redact_data
from dealcast.safety.policy import PiiPolicy
from dealcast.safety.validators import iban_checksum_ok, luhn_ok, ssn_ok

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def kinds(text: str, policy: PiiPolicy | None = None) -> list[tuple[str, str]]:
    found = find_pii(text, policy or PiiPolicy())
    return [(f.kind.value, text[f.start : f.end]) for f in found]


# ---- positives -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("write to jane.doe@acme.com today", "email", "jane.doe@acme.com"),
        ("<J.O'Neil+crm@mail.acme.co.uk>", "email", "J.O'Neil+crm@mail.acme.co.uk"),
        ("mail: ops_team-2@sub-domain.example.io.", "email", "ops_team-2@sub-domain.example.io"),
        ("call +1 (415) 555-0134 now", "phone", "+1 (415) 555-0134"),
        ("call +44 20 7946 0958", "phone", "+44 20 7946 0958"),
        ("call +49-30-1234567", "phone", "+49-30-1234567"),
        ("call +33 1 23 45 67 89", "phone", "+33 1 23 45 67 89"),
        ("dial 0049 30 1234567", "phone", "0049 30 1234567"),
        ("call (415) 555-0134.", "phone", "(415) 555-0134"),
        ("call 415-555-0134", "phone", "415-555-0134"),
        ("call 415.555.0134 ext 12", "phone", "415.555.0134 ext 12"),
        ("call 1-800-555-0199", "phone", "1-800-555-0199"),
        ("call 4155550134", "phone", "4155550134"),
        ("Phone: 020 7946 0958", "phone", "020 7946 0958"),
        ("mobile 030 1234567", "phone", "030 1234567"),
        ("pay with 4111 1111 1111 1111", "card", "4111 1111 1111 1111"),
        ("pay with 5555-5555-5555-4444", "card", "5555-5555-5555-4444"),
        ("amex 378282246310005", "card", "378282246310005"),
        ("amex 3782 822463 10005", "card", "3782 822463 10005"),
        ("order 12 4111 1111 1111 1111 2024", "card", "4111 1111 1111 1111"),
        ("ssn 123-45-6789", "ssn", "123-45-6789"),
        ("her number is 123 45 6789", "ssn", "123 45 6789"),
        ("SSN: 123456789", "ssn", "123456789"),
        ("social security number 078051120", "ssn", "078051120"),
        ("IBAN DE89 3704 0044 0532 0130 00 for wire", "iban", "DE89 3704 0044 0532 0130 00"),
        ("to GB82WEST12345698765432.", "iban", "GB82WEST12345698765432"),
        ("FR14 2004 1010 0505 0001 3M02 606", "iban", "FR14 2004 1010 0505 0001 3M02 606"),
        ("NL91ABNA0417164300 and more", "iban", "NL91ABNA0417164300"),
    ],
)
def test_each_kind_is_found_and_replaced(text: str, kind: str, value: str) -> None:
    assert kinds(text) == [(kind, value)]
    out = redact(text, PiiPolicy())
    assert value not in out.text
    assert f"[{kind.upper()}]" in out.text
    f = out.found[0]
    assert (f.kind, text[f.start : f.end], f.replacement) == (kind, value, f"[{kind.upper()}]")


def test_two_ibans_in_one_sentence() -> None:
    text = "IBAN DE89 3704 0044 0532 0130 00 and GB82WEST12345698765432 and done"
    assert [k for k, _ in kinds(text)] == ["iban", "iban"]


def test_email_wins_over_phone_inside_it() -> None:
    assert kinds("x 4155550134@sms.example.com") == [("email", "4155550134@sms.example.com")]


# ---- negatives -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "closes 2024-03-15 or 2024/03/15",
        "due 03/15/2024 or 15.03.2024 at 10:30",
        "ts 2024-03-15T10:30:00Z",
        "worth $120,000 or $1,200,000.00 or € 1.200.000 or 120000 USD",
        "won 45% and 12.5 % up, 3.1415926535897",
        "deal 006L00000000001IAA and 0065e00000AbCdEFG2 and 006000000000001",
        "owner 005000000000001AAA",
        "Q3 2024, FY2025, version 1.2.3, 2023-2024",
        "zip 94105-1234, qty 1,000,000",
        "card 4111 1111 1111 1112",  # Luhn fails
        "id 1234567890123456",  # Luhn-valid? first digit 1 is not a card network anyway
        "ssn 000-12-3456 666-12-3456 912-34-5678 123-00-4567 123-45-0000",
        "ssn 123-45 6789",  # mixed separators
        "number 123456789",  # nine bare digits without SSN context
        "IBAN GB83WEST12345698765432",  # bad check digits
        "ref AB12 CDEF GHIJ KLMN",
        "call 123-456-7890",  # area code cannot start with 1
        "amount 2500000000",  # exchange 000 is not a NANP number
        "+12",
        "email me at jane at acme dot com",
        "not@an-email",
    ],
)
def test_look_alikes_are_left_alone(text: str) -> None:
    assert kinds(text) == []
    assert redact(text, PiiPolicy()).text == text


def test_policy_switches_each_kind_off() -> None:
    text = "jane@acme.com 415-555-0134 4111 1111 1111 1111 123-45-6789 GB82WEST12345698765432"
    assert {f.kind for f in find_pii(text)} == {"email", "phone", "card", "ssn", "iban"}
    off = PiiPolicy(emails=False, phones=False, cards=False, ssns=False, ibans=False)
    assert find_pii(text, off) == []


# ---- names ---------------------------------------------------------------------------------


def test_names_match_case_insensitively_on_word_boundaries() -> None:
    policy = PiiPolicy(names=("Ann Lee", "Ann", "José Núñez"))
    out = redact("ann  LEE met Ann; Annalee and Joann did not. josé núñez's deal", policy)
    assert out.text == "[NAME] met [NAME]; Annalee and Joann did not. [NAME]'s deal"
    assert [f.kind for f in out.found] == [PiiKind.NAME] * 3


def test_names_only_when_the_policy_lists_them() -> None:
    assert redact("Ann Lee called", PiiPolicy()).text == "Ann Lee called"


def test_names_inside_emails_stay_part_of_the_email() -> None:
    out = redact("ann.lee@acme.com is Ann Lee", PiiPolicy(names=("Ann Lee", "ann")))
    assert out.text == "[EMAIL] is [NAME]"


# ---- structured data -----------------------------------------------------------------------


def test_redact_data_walks_nested_structures() -> None:
    data: dict[str, Any] = {
        "deals": [
            {"id": "006L00000000001IAA", "amount": 120000, "email": "a@b.com", "Phone": None},
            {"note": "call 415-555-0134", "tags": ("x", "mail c@d.org")},
        ],
        "Contact_Email": ["not", "a", "string"],
        "MobilePhone": 4155550134,
        "jane@acme.com": 3,
        "bob@acme.com": 4,
    }
    out = redact_data(data, PiiPolicy())
    assert out.data == {
        "deals": [
            {"id": "006L00000000001IAA", "amount": 120000, "email": "[EMAIL]", "Phone": None},
            {"note": "call [PHONE]", "tags": ("x", "mail [EMAIL]")},
        ],
        "Contact_Email": "[EMAIL]",
        "MobilePhone": "[PHONE]",
        "[EMAIL]": 3,
        "[EMAIL] (2)": 4,
    }
    assert data["deals"][0]["email"] == "a@b.com"  # the input is not modified
    paths = sorted(f.path for f in out.found)
    assert "$.deals[0].email" in paths and "$.deals[1].note" in paths
    assert out.count == 7


def test_redact_data_refuses_unknown_objects() -> None:
    with pytest.raises(TypeError, match="plain data"):
        redact_data({"x": object()}, PiiPolicy())


def test_custom_sensitive_keys() -> None:
    policy = PiiPolicy(sensitive_keys=frozenset({"homeAddress"}))
    out = redact_data({"home_address": "1 Main St", "city": "Paris", "email": "x"}, policy)
    assert out.data == {"home_address": "[REDACTED]", "city": "Paris", "email": "x"}


# ---- validators ----------------------------------------------------------------------------


def test_validators() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert ssn_ok("123", "45", "6789") and not ssn_ok("666", "45", "6789")
    assert iban_checksum_ok("GB82WEST12345698765432")
    assert not iban_checksum_ok("GB83WEST12345698765432")


# ---- properties ----------------------------------------------------------------------------

SAFE_WORDS = st.text(alphabet=string.ascii_letters + " ,;:!?()", max_size=30)


def _luhn_complete(body: str) -> str:
    for d in "0123456789":
        if luhn_ok(body + d):
            return body + d
    raise AssertionError("unreachable")


@st.composite
def cards(draw: st.DrawFn) -> str:
    length = draw(st.integers(13, 19))
    first = draw(st.sampled_from("23456"))
    rest = draw(st.text(alphabet=string.digits, min_size=length - 2, max_size=length - 2))
    digits = _luhn_complete(first + rest)
    sep = draw(st.sampled_from(["", " ", "-"]))
    if not sep:
        return digits
    return sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))


@st.composite
def ssns(draw: st.DrawFn) -> str:
    area = draw(st.integers(1, 899).filter(lambda a: a != 666))
    group = draw(st.integers(1, 99))
    serial = draw(st.integers(1, 9999))
    sep = draw(st.sampled_from(["-", " "]))
    return f"{area:03d}{sep}{group:02d}{sep}{serial:04d}"


LOCAL = st.text(alphabet=string.ascii_letters + string.digits + "._%+-", min_size=1, max_size=20)
LABEL = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=12)


@st.composite
def emails(draw: st.DrawFn) -> str:
    local = draw(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._%+-]{0,15}\Z"))
    labels = draw(st.lists(LABEL, min_size=1, max_size=3))
    tld = draw(st.text(alphabet=string.ascii_lowercase, min_size=2, max_size=6))
    return f"{local}@{'.'.join(labels)}.{tld}"


@st.composite
def ibans(draw: st.DrawFn) -> str:
    bban = draw(st.text(alphabet=string.digits, min_size=18, max_size=18))
    numeric = "".join(str(int(c, 36)) for c in bban + "DE00")
    check = 98 - int(numeric) % 97
    iban = f"DE{check:02d}{bban}"
    assert iban_checksum_ok(iban)
    if draw(st.booleans()):
        return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    return iban


@PROPS
@given(before=SAFE_WORDS, pii=st.one_of(cards(), ssns(), emails(), ibans()), after=SAFE_WORDS)
def test_redact_never_leaves_generated_pii(before: str, pii: str, after: str) -> None:
    text = f"{before} {pii} {after}"
    out = redact(text, PiiPolicy())
    assert pii not in out.text
    assert out.found


@PROPS
@given(text=st.text(max_size=200))
def test_text_changes_only_with_findings(text: str) -> None:
    out = redact(text, PiiPolicy(names=("Ann Lee",)))
    assert (out.text == text) == (not out.found)
    # findings never overlap and point inside the text
    spans = [(f.start, f.end) for f in out.found]
    assert all(0 <= s < e <= len(text) for s, e in spans)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


@PROPS
@given(before=SAFE_WORDS, pii=st.one_of(cards(), ssns(), emails(), ibans()), after=SAFE_WORDS)
def test_redaction_is_idempotent(before: str, pii: str, after: str) -> None:
    once = redact(f"{before} {pii} {after}", PiiPolicy()).text
    assert redact(once, PiiPolicy()).text == once


def test_many_names_use_the_longest_match() -> None:
    listed = (*(f"Deal Person{i}" for i in range(3000)), "Deal", "Ann Lee Jr")
    policy = PiiPolicy(names=listed)
    out = redact("deal  person2999 and Deal and Ann Lee Jr. and Ann Lee", policy)
    assert out.text == "[NAME] and [NAME] and [NAME]. and Ann Lee"
