"""Checksums and validity rules behind the PII detectors (pure functions, no regexes)."""

from __future__ import annotations

# IBAN length by country (SWIFT IBAN registry); countries not listed are accepted with
# any length from 15 to 34 when the mod-97 checksum holds.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24,
    "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check used by payment card numbers."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_ok(digits: str) -> bool:
    """A payment card number: 13-19 digits, a card-network first digit (2-6: Mastercard,
    Amex/Diners/JCB, Visa, Mastercard/Maestro, Discover/UnionPay) and a valid Luhn digit.
    The first-digit rule keeps numeric ids that happen to pass Luhn (1 in 10 do) out."""
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits)


def ssn_ok(area: str, group: str, serial: str) -> bool:
    """US SSN validity: area not 000, 666 or 900-999; group not 00; serial not 0000."""
    return (
        len(area) == 3
        and len(group) == 2
        and len(serial) == 4
        and (area + group + serial).isdigit()
        and area not in ("000", "666")
        and area[0] != "9"
        and group != "00"
        and serial != "0000"
    )


def iban_checksum_ok(iban: str) -> bool:
    """ISO 13616 mod-97 check on a compact IBAN (no spaces)."""
    iban = iban.upper()
    if not (15 <= len(iban) <= 34 and iban.isalnum() and iban[:2].isalpha()):
        return False
    if not iban[2:4].isdigit():
        return False
    rearranged = iban[4:] + iban[:4]
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(numeric) % 97 == 1


def iban_length_ok(iban: str) -> bool:
    expected = IBAN_LENGTHS.get(iban[:2].upper())
    return len(iban) == expected if expected is not None else 15 <= len(iban) <= 34


def nanp_ok(digits: str) -> bool:
    """A North American number: 10 digits (or 11 with a leading 1), area code and exchange
    both starting 2-9."""
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    return len(digits) == 10 and digits[0] in "23456789" and digits[3] in "23456789"
