"""NHS numbers: the modulus 11 check digit, and making numbers that pass or fail it."""

from __future__ import annotations

_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def check_digit(first_nine: str) -> int | None:
    """The check digit for nine digits, or None when no valid NHS number starts with them."""
    total = sum(int(d) * w for d, w in zip(first_nine, _WEIGHTS, strict=True))
    digit = 11 - total % 11
    if digit == 11:
        return 0
    if digit == 10:
        return None
    return digit


def is_valid(value: str) -> bool:
    """True for exactly ten digits whose last is the modulus 11 check digit of the first nine."""
    if len(value) != 10 or not value.isascii() or not value.isdigit():
        return False
    return check_digit(value[:9]) == int(value[9])


def complete(first_nine: str) -> str | None:
    """The valid NHS number starting with these nine digits, if there is one."""
    digit = check_digit(first_nine)
    return None if digit is None else first_nine + str(digit)
