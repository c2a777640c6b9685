"""The credit service's handlers, one method per command, by concern: facts from other
services (``cases.CaseFacts``), restrictions (``restrictions.Restrictions``) and listings
(``listings.Listings``). ``Credit`` composes them with the reads: a case's credit record,
and the query by ID number or credit code."""

from __future__ import annotations

from stdnum.cn import ric, uscc

from services.credit import domain
from services.credit.cases import CaseFacts
from services.credit.domain import Record, SubjectCredit
from services.credit.handler import CreditHandler
from services.credit.listings import Listings
from services.credit.repository import CreditRecords
from services.credit.restrictions import Restrictions
from zhixing.auth import Identity, require_visible
from zhixing.errors import Invalid
from zhixing.persons import id_number_text
from zhixing.rules import Catalogue
from zhixing.service import ServiceContext


class Credit(CreditHandler):
    def __init__(
        self, ctx: ServiceContext, records: CreditRecords, rules: Catalogue | None = None
    ) -> None:
        super().__init__(ctx, records, rules)
        self.cases = CaseFacts(ctx, records, self.rules)
        self.restrictions = Restrictions(ctx, records, self.rules)
        self.listings = Listings(ctx, records, self.restrictions, self.rules)

    async def record_of(self, case_id: str, identity: Identity) -> Record:
        """A case's credit record, for the courts that may read the case."""
        record = await self.records.get(case_id)
        require_visible(identity, record["court_code"] if record else None, f"case {case_id}")
        assert record is not None
        return record

    async def subject(self, id_number: str) -> SubjectCredit:
        """Whether the person or company is listed or restricted now, by which courts, on
        which cases: asked nationwide on purpose (any court, a cooperating agency)."""
        number = valid_id_number(id_number)
        records = await self.records.cases_of_subject(number)
        return domain.subject_credit(number, records, self.today(), self.rules)


def valid_id_number(text: str) -> str:
    """A resident ID or unified social credit code with a valid check digit, upper-cased;
    anything else is refused (422)."""
    number = id_number_text(text)
    if not (ric.is_valid(number) or uscc.is_valid(number)):
        raise Invalid(
            "not a resident ID (居民身份证号码) or unified social credit code (统一社会信用代码) "
            "(its check digit, division and birth date)",
            loc=("path", "id_number"),
        )
    return number
