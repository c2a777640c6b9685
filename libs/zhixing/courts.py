"""The court directory (法院名录): every court with its code, name, level, superior and the
administrative divisions it serves, and the hierarchy questions the platform asks of it.

Court codes (法院代字) follow 法〔2015〕137号: the Supreme People's Court is 最高法; a high
court (高院) is its province's one-character abbreviation; an intermediate court (中院) adds
2 digits; a basic court (基层) adds the last 4 digits of its administrative division code
(泰兴 321283 → 苏1283). Codes 71–99 after the province are special courts (railway,
maritime, ...), which only configuration knows.

The directory is derived, not typed by hand: from the administrative-division data that
python-stdnum maintains for resident IDs (``stdnum/cn/loc.dat``, with the years each
division existed; only current divisions make courts). It holds every high court, and
every intermediate and basic court of the provinces in ``DERIVED_PROVINCES``; municipalities
and other provinces organise their intermediate courts otherwise (北京一中院 京01 serves
several districts) and are added by configuration when needed. Operator files
(``ZHIXING_COURTS_DIR``, default ``config/courts/*.yaml``) add special courts and correct
the data (a division created after the dataset was last updated).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated

import stdnum
import yaml
from pydantic import AfterValidator, Field

from zhixing.paths import ROOT

__all__ = [
    "DEFAULT_COURTS_DIR",
    "DERIVED_PROVINCES",
    "PROVINCE_ABBREVIATIONS",
    "SUPREME_COURT",
    "Court",
    "CourtCode",
    "CourtDirectory",
    "CourtFileError",
    "CourtLevel",
    "KnownCourt",
    "UnknownCourtCode",
    "ancestors",
    "court_name",
    "covers",
    "directory",
    "known_court_code",
    "parse_court_code",
    "read_divisions",
    "superior_of",
]

SUPREME_COURT = "最高法"

# GB/T 2260 province code → the abbreviation 137号 uses as the high court's code.
PROVINCE_ABBREVIATIONS: Mapping[str, str] = {
    "11": "京", "12": "津", "13": "冀", "14": "晋", "15": "蒙", "21": "辽", "22": "吉",
    "23": "黑", "31": "沪", "32": "苏", "33": "浙", "34": "皖", "35": "闽", "36": "赣",
    "37": "鲁", "41": "豫", "42": "鄂", "43": "湘", "44": "粤", "45": "桂", "46": "琼",
    "50": "渝", "51": "川", "52": "贵", "53": "云", "54": "藏", "61": "陕", "62": "甘",
    "63": "青", "64": "宁", "65": "新",
}  # fmt: skip
# 江苏, 浙江: every intermediate and basic court is derived from the division data.
DERIVED_PROVINCES = ("32", "33")

_ABBREVIATIONS = "".join(PROVINCE_ABBREVIATIONS.values()) + "兵"
_CODE = re.compile(rf"^(?P<province>[{_ABBREVIATIONS}])(?P<digits>\d{{2}}|\d{{4}})?$")
_LOC_FILE = Path(stdnum.__file__).parent / "cn" / "loc.dat"
DEFAULT_COURTS_DIR = ROOT / "config" / "courts"


class CourtLevel(StrEnum):
    SUPREME = "最高法"
    HIGH = "高院"
    INTERMEDIATE = "中院"
    BASIC = "基层"


class UnknownCourtCode(ValueError):
    pass


class CourtFileError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class CourtCode:
    code: str
    level: CourtLevel


def parse_court_code(code: str) -> CourtCode:
    """The level a code's shape shows; whether the court exists is the directory's answer."""
    if code == SUPREME_COURT:
        return CourtCode(code, CourtLevel.SUPREME)
    match = _CODE.match(code)
    if not match:
        raise UnknownCourtCode(
            f"{code!r} is not a court code (最高法, a province abbreviation such as 苏, "
            "then 2 digits for an intermediate court or 4 for a basic court)"
        )
    digits = match["digits"] or ""
    level = {0: CourtLevel.HIGH, 2: CourtLevel.INTERMEDIATE, 4: CourtLevel.BASIC}[len(digits)]
    return CourtCode(code, level)


@dataclass(frozen=True, slots=True)
class Court:
    code: str
    name: str
    level: CourtLevel
    superior: str | None
    divisions: tuple[str, ...] = ()
    special: bool = False


def _current_name(spec: str) -> str | None:
    """The name a loc.dat entry has today: ``[1983-2021]下城区`` → None (abolished),
    ``[1983-2019]桥东区,[2020-]襄都区`` → 襄都区, ``桐庐县`` → 桐庐县."""
    name = spec.split(",")[-1]
    match = re.match(r"^\[(\d*)-(\d*)\](.*)$", name)
    if match is None:
        return name
    return match[3] if not match[2] else None


def read_divisions(path: Path = _LOC_FILE) -> dict[str, str]:
    """Current administrative divisions: 6-digit code → name."""
    divisions: dict[str, str] = {}
    province = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not line.startswith(" "):
            province = line.split()[0]
            continue
        suffix, _, rest = line.strip().partition(" ")
        match = re.search(r'county="([^"]*)"', rest)
        if match and (name := _current_name(match[1])):
            divisions[province + suffix] = name
    return divisions


def _derive(divisions: Mapping[str, str]) -> list[Court]:
    courts = [Court(SUPREME_COURT, "最高人民法院", CourtLevel.SUPREME, None)]
    for province, abbreviation in PROVINCE_ABBREVIATIONS.items():
        name = divisions.get(f"{province}0000")
        if name is None:
            continue
        in_province = sorted(c for c in divisions if c.startswith(province) and c[2:] != "0000")
        courts.append(
            Court(abbreviation, f"{name}高级人民法院", CourtLevel.HIGH, SUPREME_COURT,
                  (f"{province}0000",))
        )  # fmt: skip
        if province not in DERIVED_PROVINCES:
            continue
        for prefecture in (c for c in in_province if c.endswith("00")):
            city = divisions[prefecture]
            counties = [
                c for c in in_province
                if c[:4] == prefecture[:4] and c[4:] not in ("00", "01")
            ]  # fmt: skip
            intermediate = f"{abbreviation}{prefecture[2:4]}"
            courts.append(
                Court(intermediate, f"{city}中级人民法院", CourtLevel.INTERMEDIATE, abbreviation,
                      (prefecture, *counties))
            )  # fmt: skip
            for county in counties:
                county_name = divisions[county]
                # A district's court carries its city's name: 泰州市海陵区人民法院.
                full = f"{city}{county_name}" if county_name.endswith("区") else county_name
                courts.append(
                    Court(f"{abbreviation}{county[2:]}", f"{full}人民法院", CourtLevel.BASIC,
                          intermediate, (county,))
                )  # fmt: skip
    return courts


def _read_operator_files(directory: Path) -> Iterable[tuple[Path, int, dict[str, object]]]:
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise CourtFileError(f"{path}: not valid YAML: {exc}") from None
        entries = data.get("courts", []) if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise CourtFileError(f"{path}: expected a mapping with a 'courts' list")
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise CourtFileError(f"{path}: courts[{index}] is not a mapping")
            yield path, index, entry


class CourtDirectory:
    def __init__(self, courts: Iterable[Court]) -> None:
        self._courts: dict[str, Court] = {}
        for court in courts:
            self._courts[court.code] = court
        self._children: dict[str, list[str]] = {}
        self._by_division: dict[str, str] = {}
        for court in self._courts.values():
            if court.superior is not None:
                self._children.setdefault(court.superior, []).append(court.code)
            if court.level is CourtLevel.BASIC and not court.special:
                for division in court.divisions:
                    self._by_division[division] = court.code
        for code, court in self._courts.items():
            if court.superior is not None and court.superior not in self._courts:
                raise CourtFileError(f"court {code}: superior {court.superior} is not a court")

    @classmethod
    def load(cls, directory: Path | None = None, loc_file: Path = _LOC_FILE) -> CourtDirectory:
        directory = directory or Path(os.environ.get("ZHIXING_COURTS_DIR", DEFAULT_COURTS_DIR))
        courts = {c.code: c for c in _derive(read_divisions(loc_file))}
        if directory.is_dir():
            for path, index, entry in _read_operator_files(directory):
                court = _court_from_entry(path, index, entry, courts)
                courts[court.code] = court
        return cls(courts.values())

    def __len__(self) -> int:
        return len(self._courts)

    def __contains__(self, code: object) -> bool:
        return code in self._courts

    def lookup(self, code: str) -> Court:
        try:
            return self._courts[code]
        except KeyError:
            parse_court_code(code)  # a malformed code says so first
            raise UnknownCourtCode(
                f"unknown court code {code}: not in the court directory"
            ) from None

    def children(self, code: str) -> list[Court]:
        self.lookup(code)
        return [self._courts[c] for c in sorted(self._children.get(code, []))]

    def jurisdiction(self, code: str) -> list[str]:
        """``code`` and every court below it, at any depth (a court's 辖区)."""
        courts, pending = [code], [code]
        while pending:
            below = [c.code for c in self.children(pending.pop())]
            courts += below
            pending += below
        return courts

    def path_to_top(self, code: str) -> list[Court]:
        """The court and every court above it, up to the Supreme People's Court."""
        path = [self.lookup(code)]
        while path[-1].superior is not None:
            path.append(self._courts[path[-1].superior])
        return path

    def superiors(self, code: str) -> list[str]:
        return [c.code for c in self.path_to_top(code)[1:]]

    def common_superior(self, *codes: str) -> Court:
        """The lowest court superior to every court given; a court is not its own superior
        (for 苏02 and 苏0281 the answer is 苏)."""
        if not codes:
            raise ValueError("common_superior needs at least one court")
        chains = [self.superiors(code) for code in codes]
        shared = set(chains[0]).intersection(*chains[1:])
        for candidate in chains[0]:
            if candidate in shared:
                return self._courts[candidate]
        raise UnknownCourtCode(f"{', '.join(codes)} have no common superior")  # not reached

    def basic_court_for_division(self, division: str) -> Court:
        """The basic court serving an administrative division (an asset's location)."""
        try:
            return self._courts[self._by_division[division]]
        except KeyError:
            raise UnknownCourtCode(
                f"no basic court in the directory serves division {division}"
            ) from None

    def courts(self) -> list[Court]:
        return list(self._courts.values())


def _court_from_entry(
    path: Path, index: int, entry: Mapping[str, object], known: Mapping[str, Court]
) -> Court:
    where = f"{path}: courts[{index}]"
    try:
        code = str(entry["code"])
        name = str(entry["name"])
    except KeyError as exc:
        raise CourtFileError(f"{where} lacks {exc.args[0]}") from None
    try:
        parsed = parse_court_code(code)
    except UnknownCourtCode as exc:
        raise CourtFileError(f"{where}: {exc}") from None
    superior = str(entry.get("superior") or "") or None
    if superior is None:
        raise CourtFileError(f"{where}: a court needs its superior")
    if superior not in known:
        raise CourtFileError(f"{where}: superior {superior} is not a court")
    digits = code[1:]
    special = bool(digits) and 71 <= int(digits[:2]) <= 99
    divisions = entry.get("divisions") or []
    if not isinstance(divisions, list) or not all(
        re.fullmatch(r"\d{6}", str(d)) for d in divisions
    ):
        raise CourtFileError(f"{where}: divisions must be a list of 6-digit codes")
    return Court(
        code, name, parsed.level, superior, tuple(str(d) for d in divisions), special=special
    )


@cache
def directory() -> CourtDirectory:
    """The directory of this process (read once)."""
    return CourtDirectory.load()


def court_name(code: str) -> str:
    """The court's name for people (泰兴市人民法院); the code itself if the directory does
    not know it (an event from a court since renamed or merged)."""
    try:
        return directory().lookup(code).name
    except UnknownCourtCode:
        return code


def superior_of(code: str) -> str | None:
    """The court directly above ``code``; None for the Supreme People's Court."""
    return directory().lookup(code).superior


def ancestors(code: str) -> list[str]:
    """Every court above ``code``, nearest first."""
    return directory().superiors(code)


def covers(actor_court: str, target_court: str) -> bool:
    """True when ``actor_court`` is ``target_court`` or one of its superiors."""
    if actor_court == target_court:
        return True
    try:
        return actor_court in ancestors(target_court)
    except UnknownCourtCode:
        return False


def known_court_code(code: str) -> str:
    """A court of the directory, as the directory spells it; a ValueError (pydantic's 422
    naming the field) for any other."""
    try:
        return directory().lookup(code).code
    except UnknownCourtCode as exc:
        raise ValueError(str(exc)) from None


KnownCourt = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(known_court_code)]
"""A request's court code: one the directory knows (422 naming the field otherwise, not a
state refusal about a court that cannot exist)."""
