"""Dispute coordinator (执行争议协调): Disputes between courts, or a court and an agency."""
