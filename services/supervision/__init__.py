"""Supervision (监督): the 专人 tasks escalated clocks become, answered by the court's
supervisor, then its leaders, then the superior command centre (¶8, ¶12); petitions (信访,
¶30) entered and resolved on their clocks, with repeat petitions per case counted; the
interference register (干预过问案件登记), append-only, read by discipline inspection and
the command centre; and officers' postings, whose rotation clocks (¶42) remind the leader
before an officer's term in one post runs out."""
