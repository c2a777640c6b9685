"""A person's age and minority from the resident ID: a minor until the day of the birthday
that reaches the catalogue's age of majority."""

import datetime as dt

from stdnum.cn import ric

from zhixing.persons import age_on, is_minor_on, majority_age


def resident_id(born: dt.date) -> str:
    body = f"321283{born:%Y%m%d}123"
    return body + ric.calc_check_digit(body + "0")


def test_a_person_comes_of_age_on_the_birthday() -> None:
    adult = majority_age()
    born = dt.date(2008, 3, 15)
    person = resident_id(born)
    birthday = born.replace(year=born.year + adult)
    assert age_on(person, birthday - dt.timedelta(days=1)) == adult - 1
    assert is_minor_on(person, birthday - dt.timedelta(days=1))
    assert age_on(person, birthday) == adult
    assert not is_minor_on(person, birthday)
