"""Generated inputs for property tests (hypothesis): NHS numbers, identifiers, names, dates, ids.

Strategies build inputs that are wrong *by construction*, so a test needs no oracle of its own: an
invalid NHS number is invalid whoever checks it, and demographics built to fail PDS verification
fail the specification's rule however a provider implements it. `explore` runs a strategy against
a target and turns the smallest failing input into findings.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gpc_assure import nhs_number
from gpc_assure.checks.core import Check
from gpc_assure.fhir import profiles
from gpc_assure.properties import Examples, check_property
from gpc_assure.transport.exchange import Exchange

# Text that survives a URL query: no surrogates (not encodable) and no control characters.
# Letters, digits, punctuation, symbols and the plain space: text any FHIR string element and any URL
# query can carry, so a provider's answer is about the value and never about its encoding.
_PRINTABLE = st.characters(whitelist_categories=("L", "N", "P", "S"), whitelist_characters=" ")


# -- NHS numbers -----------------------------------------------------------------------------------
def valid_nhs_numbers() -> st.SearchStrategy[str]:
    """Ten digits with a correct modulus 11 check digit."""
    return (st.text("0123456789", min_size=9, max_size=9)
            .map(nhs_number.complete).filter(lambda v: v is not None))  # type: ignore[return-value]


def _wrong_check_digit() -> st.SearchStrategy[str]:
    def corrupt(pair: tuple[str, int]) -> str:
        valid, shift = pair
        return valid[:9] + str((int(valid[9]) + shift) % 10)

    return st.tuples(valid_nhs_numbers(), st.integers(1, 9)).map(corrupt)


def _no_valid_check_digit() -> st.SearchStrategy[str]:
    """Nine digits whose check digit would be 10 (no NHS number starts so), plus any last digit."""
    return (st.tuples(st.text("0123456789", min_size=9, max_size=9), st.sampled_from("0123456789"))
            .filter(lambda t: nhs_number.check_digit(t[0]) is None).map("".join))


def _not_an_nhs_number(value: str) -> bool:
    # Whitespace is removed first: a provider may fairly accept "943 476 5919", so only values that
    # are invalid however they are spaced count as invalid.
    return bool(value.strip()) and not nhs_number.is_valid(re.sub(r"\s", "", value))


def invalid_nhs_numbers() -> st.SearchStrategy[str]:
    """Values that fail the NHS number's structural checks, however they are spaced."""
    return st.one_of(
        _wrong_check_digit(),
        _no_valid_check_digit(),
        st.text("0123456789", min_size=1, max_size=9),  # too short
        st.text("0123456789", min_size=11, max_size=16),  # too long
        st.tuples(valid_nhs_numbers(), st.integers(0, 9), st.sampled_from("#-+.,/*Oo lI")).map(
            lambda t: t[0][:t[1]] + t[2] + t[0][t[1] + 1:]),  # one character replaced
        st.text(_PRINTABLE, min_size=1, max_size=20),
        st.sampled_from(["34555##4", "hello", "999999999", "99999999999", "0000000000x", "１２３４５６７８９０"]),
    ).filter(_not_an_nhs_number)


# -- identifier tokens (Find a patient) ------------------------------------------------------------
def _near_miss_systems() -> st.SearchStrategy[str]:
    """Systems a careless provider might mistake for the NHS number system."""
    s = profiles.NHS_NUMBER_SYSTEM

    def swap_case(pair: tuple[int, bool]) -> str:
        i, upper = pair
        return s[:i] + (s[i].upper() if upper else s[i].lower()) + s[i + 1:]

    return st.one_of(
        st.sampled_from([s + "/", s.replace("https://", "http://"), s.upper(), s.replace("nhs-number", "nhsnumber"),
                         profiles.ODS_ORG_SYSTEM, profiles.SDS_USER_SYSTEM]),
        st.tuples(st.integers(0, len(s) - 1), st.booleans()).map(swap_case).filter(lambda v: v != s),
    )


def unknown_identifier_systems() -> st.SearchStrategy[str]:
    """Non-empty systems other than https://fhir.nhs.uk/Id/nhs-number (no '|', which would split the token)."""
    from hypothesis import provisional

    return st.one_of(
        _near_miss_systems(),
        provisional.urls(),
        st.text(_PRINTABLE, min_size=1, max_size=40),
    ).filter(lambda v: "|" not in v and v.strip() not in ("", profiles.NHS_NUMBER_SYSTEM))


def systemless_identifiers() -> st.SearchStrategy[str]:
    """Identifier tokens without a system: a bare value, or '|value'."""
    return st.one_of(valid_nhs_numbers(), valid_nhs_numbers().map(lambda v: "|" + v))


# -- demographics ------------------------------------------------------------------------------------
def family_names() -> st.SearchStrategy[str]:
    return st.from_regex(r"[A-Z][a-z]{2,11}(-[A-Z][a-z]{2,11})?", fullmatch=True)


def given_names() -> st.SearchStrategy[str]:
    return st.from_regex(r"[A-Z][a-z]{1,11}", fullmatch=True)


def birth_dates(start: dt.date = dt.date(1900, 1, 1)) -> st.SearchStrategy[str]:
    return st.dates(min_value=start, max_value=dt.date.today()).map(dt.date.isoformat)


def _other_date(original: dt.date, change: frozenset[str]) -> st.SearchStrategy[str]:
    """A valid date differing from `original` in exactly the parts named (year, month, day)."""
    years = st.integers(1900, dt.date.today().year).filter(lambda y: y != original.year) \
        if "year" in change else st.just(original.year)
    months = st.integers(1, 12).filter(lambda m: m != original.month) if "month" in change else st.just(original.month)
    days = st.integers(1, 28).filter(lambda d: d != original.day) if "day" in change else st.just(original.day)

    def build(t: tuple[int, int, int]) -> dt.date | None:
        try:
            return dt.date(*t)
        except ValueError:
            return None

    return (st.tuples(years, months, days).map(build)
            .filter(lambda d: d is not None and d <= dt.date.today()).map(lambda d: d.isoformat()))  # type: ignore[union-attr]


def _other_family(family: str) -> st.SearchStrategy[str]:
    return family_names().filter(lambda f: f[:3].casefold() != family[:3].casefold())


def _other_given(given_name: str) -> st.SearchStrategy[str]:
    return given_names().filter(lambda g: g[:1].casefold() != given_name[:1].casefold())


def unverifiable_demographics(family: str, given_name: str, birth_date: str) -> st.SearchStrategy[dict[str, str]]:
    """Demographics that fail PDS verification against (family, given, birth date) by construction.

    Verification passes on an exact birth date, or on two of its three parts together with the first
    three letters of the family name and the given-name initial (FND-FP-015). So: either two or three
    date parts differ (names anything), or exactly one differs and a name check fails as well.
    """
    original = dt.date.fromisoformat(birth_date)
    parts = ("year", "month", "day")
    pairs = [frozenset(p) for p in (("year", "month"), ("year", "day"), ("month", "day"), parts)]
    names = st.fixed_dictionaries({"family": st.one_of(st.just(family), family_names()),
                                   "given": st.one_of(st.just(given_name), given_names())})
    two_or_more = st.sampled_from(pairs).flatmap(
        lambda change: st.tuples(_other_date(original, change), names))
    one_part = st.sampled_from(parts).flatmap(lambda part: st.tuples(
        _other_date(original, frozenset({part})),
        st.one_of(
            st.fixed_dictionaries({"family": _other_family(family), "given": st.just(given_name)}),
            st.fixed_dictionaries({"family": st.just(family), "given": _other_given(given_name)}),
        )))
    return st.one_of(two_or_more, one_part).map(lambda t: {**t[1], "birth_date": t[0]})


# -- logical ids -------------------------------------------------------------------------------------
def unknown_logical_ids() -> st.SearchStrategy[str]:
    """Well-formed FHIR ids ([A-Za-z0-9-.]{1,64}) no test data pack would use."""
    return st.from_regex(r"[A-Za-z0-9\-\.]{1,40}", fullmatch=True).map(lambda s: ("gpcassure-unknown-" + s)[:64])


def malformed_logical_ids() -> st.SearchStrategy[str]:
    """Path segments that cannot be FHIR ids: too long, or with characters ids may not contain."""
    odd = st.sampled_from([*"!$'()*+,;=@_~:[] ", "é", "😀"])
    return st.one_of(
        st.from_regex(r"[A-Za-z0-9]{65,80}", fullmatch=True),
        st.tuples(st.from_regex(r"[A-Za-z0-9]{1,10}", fullmatch=True), odd).map("".join),
    )


# -- running a strategy against a target -------------------------------------------------------------
def explore(verify: Any, strategy: st.SearchStrategy[Any], send: Callable[[Any], Exchange],
            checks: Callable[[Any], Sequence[Check]], describe: str = "input") -> None:
    """Send generated inputs and judge each; the smallest input a check finds fault with is recorded.

    Hypothesis shrinks on the first failing input, so the finding names a minimal example rather than
    whichever failed first; the rest of the test keeps running (judgements are soft).
    """
    examples = Examples()

    @given(strategy)
    def probe(value: Any) -> None:
        examples.judge(send(value), *checks(value), label=f"with {describe} {value!r}")

    check_property(verify, probe, examples)
