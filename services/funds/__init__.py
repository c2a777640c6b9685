"""Case funds (执行案款): every case's own account (一案一账号), the money that arrives in it
(the debtor's payments, deductions of frozen money, sale proceeds), and its payout to the
applicant on time, with holds approved for a legal reason and payouts approved by someone
who neither handles the case nor controlled the asset (分段办理)."""
