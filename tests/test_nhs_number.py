"""NHS numbers: the modulus 11 check digit catches every single-digit error."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from gpc_assure.nhs_number import check_digit, complete, is_valid
from gpc_assure.reference.data import load_pack

NINE_DIGITS = st.text(alphabet="0123456789", min_size=9, max_size=9)
VALID = NINE_DIGITS.map(complete).filter(lambda n: n is not None)


def test_the_reference_test_patients_have_valid_numbers():
    numbers = set(load_pack().roles().values())
    assert numbers and all(is_valid(n) for n in numbers), sorted(n for n in numbers if not is_valid(n))


@pytest.mark.parametrize(("number", "valid"), [
    ("9000000009", True),   # weighted sum 90; 90 % 11 = 2; check digit 11 - 2 = 9
    ("4010232137", True),
    ("9434765919", True),
    ("9434765918", False),
    ("0000000000", True),   # sum 0 -> 11 -> 0
    ("", False),
    ("943476591", False),
    ("94347659190", False),
    ("943476591a", False),
    ("943 476 5919", False),  # spaced forms are for people; the check takes ten digits
    ("９４３４７６５９１９", False),  # full-width digits are digits to str.isdigit, not to us
    ("+943476591", False),
])
def test_known_numbers(number, valid):
    if valid:
        assert check_digit(number[:9]) == int(number[9])
    assert is_valid(number) is valid


def test_a_prefix_whose_check_digit_would_be_ten_has_no_valid_number():
    prefix = next(f"{n:09d}" for n in range(1000) if check_digit(f"{n:09d}") is None)
    assert complete(prefix) is None
    assert not any(is_valid(prefix + d) for d in "0123456789")


@given(VALID)
def test_every_completed_number_is_valid(number):
    assert len(number) == 10 and is_valid(number)


@given(VALID, st.integers(0, 9), st.integers(1, 9))
def test_any_single_digit_change_is_caught(number, position, delta):
    changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1:]
    assert changed != number
    assert not is_valid(changed)


@given(VALID, st.integers(0, 7))
def test_swapping_adjacent_different_digits_is_caught(number, position):
    # Within the nine weighted digits; a swap with the check digit itself is not always caught.
    a, b = number[position], number[position + 1]
    assume(a != b)
    swapped = number[:position] + b + a + number[position + 2:]
    assert not is_valid(swapped)


@given(NINE_DIGITS)
def test_complete_agrees_with_check_digit(prefix):
    digit = check_digit(prefix)
    assert complete(prefix) == (None if digit is None else prefix + str(digit))
