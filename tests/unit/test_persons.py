"""A person's age and minority from the resident ID: a minor until the day after the birthday
that reaches the catalogue's age of majority (the day of birth is not counted)."""

import datetime as dt

from stdnum.cn import ric

from zhixing.persons import age_on, is_minor_on, majority_age


def resident_id(born: dt.date) -> str:
    body = f"321283{born:%Y%m%d}123"
    return body + ric.calc_check_digit(body + "0")


def test_a_person_comes_of_age_the_day_after_the_birthday() -> None:
    adult = majority_age()
    born = dt.date(2008, 3, 15)
    person = resident_id(born)
    birthday = born.replace(year=born.year + adult)
    assert age_on(person, birthday - dt.timedelta(days=1)) == adult - 1
    assert age_on(person, birthday) == adult - 1
    assert is_minor_on(person, birthday)  # a probe restricted a debtor on this day
    assert age_on(person, birthday + dt.timedelta(days=1)) == adult
    assert not is_minor_on(person, birthday + dt.timedelta(days=1))


def test_born_on_29_february_one_comes_of_age_on_1_march_of_a_common_year() -> None:
    adult = majority_age()
    person = resident_id(dt.date(2008, 2, 29))
    assert (2008 + adult) % 4 != 0  # the birthday falls in a common year
    assert is_minor_on(person, dt.date(2008 + adult, 2, 28))
    assert not is_minor_on(person, dt.date(2008 + adult, 3, 1))
