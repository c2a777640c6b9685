"""Notices to the parties (告知当事人, ¶11, ¶14): each node of a case that 322号 names (filing,
assets found and controlled, disposal, money received and paid, 终本 and resumption, command
actions, closure) is queued for the case's parties on their channels (SMS, the 12368 line,
the court app), sent through the outside notice gateway with retries and receipts, and what
could not be delivered is listed for the court; each party's case query code (案件查询码)
opens the case's public progress page."""
