"""Resident ID numbers (GB 11643-1999), checked against an independent oracle.

The check character is recomputed here from the standard's definition: weights
7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2 over the first 17 digits, sum mod 11 indexes
the string "10X98765432".
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schema_strategies import FAST, MEDIUM
from shared_schema.idcard import (InvalidIdNumber, ResidentId, check_character, is_valid_resident_id,
                                  mask_id_number, parse_resident_id)

GB_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
GB_CHECK = "10X98765432"
TODAY = dt.date(2026, 11, 24)


def gb_check(first17: str) -> str:
    assert len(first17) == 17 and all(c in "0123456789" for c in first17)
    return GB_CHECK[sum(int(c) * w for c, w in zip(first17, GB_WEIGHTS)) % 11]


def oracle_valid(number: str, today: dt.date = TODAY) -> bool:
    """Independent statement of what a valid (upper-case) 18-character number is."""
    if len(number) != 18 or any(c not in "0123456789" for c in number[:17]):
        return False
    if number[17] not in "0123456789X":
        return False
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if birth > today or birth.year < 1900:
        return False
    return gb_check(number[:17]) == number[17]


def assert_safe_message(exc: InvalidIdNumber, number: object) -> None:
    msg = str(exc)
    assert msg, "the reason must not be empty"
    if isinstance(number, str) and len(number.strip()) >= 6:
        assert number.strip() not in msg
        assert number.strip().upper() not in msg
    # no run of 6+ digits (region code, birth date, the number) ever leaks into the reason
    assert not re.search(r"\d{6,}", msg), msg


@st.composite
def valid_numbers(draw, today: dt.date = TODAY) -> str:
    region = draw(st.text("0123456789", min_size=6, max_size=6))
    birth = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=today))
    order = draw(st.text("0123456789", min_size=3, max_size=3))
    first17 = region + birth.strftime("%Y%m%d") + order
    return first17 + gb_check(first17)


# ---- the check character ------------------------------------------------------------

@pytest.mark.parametrize("number, region, birth, sex", [
    ("11010519491231002X", "110105", dt.date(1949, 12, 31), "F"),   # the GB 11643 sample
    ("110101199003074477", "110101", dt.date(1990, 3, 7), "M"),
    ("440305200002290029", "440305", dt.date(2000, 2, 29), "F"),   # leap day
    ("510107190001010017", "510107", dt.date(1900, 1, 1), "M"),    # earliest accepted year
])
def test_known_numbers(number, region, birth, sex):
    assert oracle_valid(number)
    rid = parse_resident_id(number, today=TODAY)
    assert rid == ResidentId(number=number, region_code=region, birth_date=birth, sex=sex)
    assert is_valid_resident_id(number)


def test_gb_sample_check_character_is_X():
    assert gb_check("11010519491231002") == "X"
    assert check_character("11010519491231002") == "X"


@given(valid_numbers())
@MEDIUM
def test_generated_numbers_are_accepted_and_decomposed(number):
    assert check_character(number[:17]) == gb_check(number[:17]) == number[17]
    rid = parse_resident_id(number, today=TODAY)
    assert rid.number == number
    assert rid.region_code == number[:6]
    assert rid.birth_date == dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    assert rid.sex == ("M" if int(number[16]) % 2 else "F")


@given(st.text("0123456789", min_size=17, max_size=17))
@MEDIUM
def test_check_character_matches_definition_for_any_17_digits(first17):
    assert check_character(first17) == gb_check(first17)


@pytest.mark.parametrize("bad", ["", "1" * 16, "1" * 18, "1101051949123100X", "１" * 17,
                                 "1101051949123100" + "٢"])
def test_check_character_rejects_non_17_ascii_digits(bad):
    with pytest.raises(InvalidIdNumber):
        check_character(bad)


# ---- single errors --------------------------------------------------------------------

@given(valid_numbers())
@FAST
def test_every_single_substitution_is_rejected(number):
    for i in range(18):
        for c in "0123456789X":
            changed = number[:i] + c + number[i + 1:]
            if changed == number:
                continue
            assert not oracle_valid(changed)  # the definition catches every substitution...
            with pytest.raises(InvalidIdNumber) as exc:  # ...and so does the code
                parse_resident_id(changed, today=TODAY)
            assert_safe_message(exc.value, changed)


@given(valid_numbers())
@MEDIUM
def test_adjacent_transpositions_match_definition(number):
    for i in range(17):
        changed = number[:i] + number[i + 1] + number[i] + number[i + 2:]
        if changed == number:
            continue
        expected = oracle_valid(changed)
        assert is_valid_resident_id_at(changed) == expected, (i, changed)
        if i < 16:
            # Within the 17 weighted digits the check alone catches a swap exactly when
            # (w_i - w_i+1) * (d_i - d_i+1) is not 0 mod 11 -- computed, not assumed.
            caught_by_check = ((GB_WEIGHTS[i] - GB_WEIGHTS[i + 1])
                               * (int(number[i]) - int(number[i + 1]))) % 11 != 0
            if caught_by_check:
                assert not expected
                with pytest.raises(InvalidIdNumber):
                    parse_resident_id(changed, today=TODAY)


def is_valid_resident_id_at(number: str) -> bool:
    try:
        parse_resident_id(number, today=TODAY)
    except InvalidIdNumber as exc:
        assert_safe_message(exc, number)
        return False
    return True


def test_swap_of_last_digit_and_check_character_follows_definition():
    """Swapping the 17th digit with the check character: the code accepts exactly
    what the definition accepts (computed over every order code of a birth date)."""
    for order in range(1000):
        first17 = "11010519491231" + f"{order:03d}"
        number = first17 + gb_check(first17)
        swapped = number[:16] + number[17] + number[16]
        if swapped != number:
            assert is_valid_resident_id_at(swapped) == oracle_valid(swapped)


@given(st.text("0123456789X", min_size=18, max_size=18))
@MEDIUM
def test_code_agrees_with_oracle_on_arbitrary_18_char_strings(number):
    assert is_valid_resident_id_at(number) == oracle_valid(number)


# ---- normalisation and rejections -------------------------------------------------------

def test_lower_case_x_is_accepted_and_normalised():
    rid = parse_resident_id("11010519491231002x", today=TODAY)
    assert rid.number == "11010519491231002X"
    assert is_valid_resident_id("11010519491231002x")


@st.composite
def numbers_ending_in_x(draw) -> str:
    base = draw(valid_numbers())[:14]
    first = draw(st.sampled_from("0123456789"))
    for rest in (f"{i:02d}" for i in range(100)):
        first17 = base + first + rest
        if gb_check(first17) == "X":
            return first17 + "X"
    raise AssertionError("some order code always yields X")


@given(numbers_ending_in_x())
@FAST
def test_lower_case_x_generated(number):
    assert parse_resident_id(number.lower(), today=TODAY).number == number
    assert parse_resident_id(number, today=TODAY).number == number


@pytest.mark.parametrize("first14", [
    "11010519491331",  # month 13
    "11010519490001",  # month 00
    "11010519490132",  # day 32
    "11010519490100",  # day 00
    "11010519990229",  # not a leap year
    "11010519000229",  # 1900 was not a leap year
])
def test_bad_birth_dates_are_rejected(first14):
    first17 = first14 + "001"
    number = first17 + gb_check(first17)  # correct check character: only the date is wrong
    with pytest.raises(InvalidIdNumber) as exc:
        parse_resident_id(number, today=TODAY)
    assert "birth date" in str(exc.value)
    assert_safe_message(exc.value, number)


def test_birth_before_1900_is_rejected():
    first17 = "44052418800101001"
    number = first17 + gb_check(first17)
    with pytest.raises(InvalidIdNumber) as exc:
        parse_resident_id(number, today=TODAY)
    assert "birth date" in str(exc.value)


@given(st.integers(1, 3650))
@FAST
def test_future_birth_dates_are_rejected(days_ahead):
    birth = TODAY + dt.timedelta(days=days_ahead)
    if birth.year > 9999:
        return
    first17 = "110105" + birth.strftime("%Y%m%d") + "123"
    number = first17 + gb_check(first17)
    with pytest.raises(InvalidIdNumber) as exc:
        parse_resident_id(number, today=TODAY)
    assert "birth date" in str(exc.value)
    assert_safe_message(exc.value, number)


def test_born_today_is_accepted():
    first17 = "110105" + TODAY.strftime("%Y%m%d") + "123"
    assert parse_resident_id(first17 + gb_check(first17), today=TODAY).birth_date == TODAY


def test_default_today_is_the_real_today():
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    first17 = "110105" + tomorrow.strftime("%Y%m%d") + "123"
    assert not is_valid_resident_id(first17 + gb_check(first17))


@pytest.mark.parametrize("text", ["", "1", "11010519491231002", "11010519491231002X0",
                                  "110105491231002",  # old 15-digit form
                                  "11010519491231002XX"])
def test_wrong_lengths_are_rejected(text):
    with pytest.raises(InvalidIdNumber) as exc:
        parse_resident_id(text, today=TODAY)
    assert "18" in str(exc.value)
    assert_safe_message(exc.value, text)


@pytest.mark.parametrize("text", [
    "１１０１０５１９４９１２３１００２Ｘ",             # all fullwidth
    "１1010519491231002X",                             # one fullwidth digit
    "11010519491231002" + "Ｘ",                         # fullwidth X
    "110105194912310" + "٠" + "2X",                     # Arabic-Indic zero
    "1101051949123100" + "２" + "X",
    "11010519491231002Y",
    "1101051949123100AX",
    "110105-9491231002X",
])
def test_non_ascii_digits_and_letters_are_rejected(text):
    assert len(text) == 18
    with pytest.raises(InvalidIdNumber) as exc:
        parse_resident_id(text, today=TODAY)
    assert_safe_message(exc.value, text)
    assert not is_valid_resident_id(text)


@pytest.mark.parametrize("value", [None, 11010519491231002, b"11010519491231002X", ["1"]])
def test_non_text_is_rejected_clearly(value):
    with pytest.raises(InvalidIdNumber) as exc:
        parse_resident_id(value, today=TODAY)
    assert "text" in str(exc.value)
    assert not is_valid_resident_id(value)


def test_invalid_id_number_is_a_value_error():
    assert issubclass(InvalidIdNumber, ValueError)


def test_surrounding_whitespace_is_stripped():
    assert parse_resident_id(" 11010519491231002X\n", today=TODAY).number == "11010519491231002X"


@given(st.text(max_size=30))
@MEDIUM
def test_arbitrary_text_never_raises_anything_else(text):
    try:
        parse_resident_id(text, today=TODAY)
    except InvalidIdNumber as exc:
        assert_safe_message(exc, text)


# ---- sex ------------------------------------------------------------------------------

@given(valid_numbers())
@MEDIUM
def test_sex_comes_from_the_17th_digit(number):
    assert parse_resident_id(number, today=TODAY).sex == ("M" if number[16] in "13579" else "F")


def test_sex_examples():
    male = "11010519491231001"
    female = "11010519491231002"
    assert parse_resident_id(male + gb_check(male), today=TODAY).sex == "M"
    assert parse_resident_id(female + gb_check(female), today=TODAY).sex == "F"


# ---- masking -------------------------------------------------------------------------------

def test_mask_example():
    assert mask_id_number("11010519491231002X") == "110***********002X"
    assert mask_id_number("440524199001011234") == "440***********1234"


@given(valid_numbers())
@MEDIUM
def test_mask_hides_birth_date_and_order(number):
    masked = mask_id_number(number)
    assert len(masked) == 18
    assert masked[:3] == number[:3] and masked[-4:] == number[-4:]
    assert masked[3:14] == "*" * 11
    assert number[6:14] not in masked


@given(st.text(max_size=40))
@MEDIUM
def test_mask_any_text(text):
    masked = mask_id_number(text)
    assert len(masked) == len(text)
    if len(text) <= 7:
        assert masked == "*" * len(text)
    else:
        assert masked == text[:3] + "*" * (len(text) - 7) + text[-4:]
