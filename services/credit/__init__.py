"""Credit punishment (信用惩戒): consumption restrictions (限制消费) ordered on a case's
debtors, served and lifted on time once the debtor performed, gave security or the applicant
consented; the list of dishonest debtors (失信被执行人名单) on its six statutory grounds only,
never a minor, with its term, extension and deletion; and the query any court or
cooperating agency asks: is this person or company listed or restricted now, by which
courts, on which cases."""
