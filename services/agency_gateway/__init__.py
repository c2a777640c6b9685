"""Agency gateway: a stand-in for the outside query, control and transfer systems
(总对总/点对点).

It exists for development, tests and demos; asset control reaches it only through a client
interface that a real connector can replace. It answers the way the outside systems do:
asynchronous feedback per channel, a caller-fixed request id, deterministic synthetic
assets from a seed, and injectable latency, timeouts, failures and duplicate feedback.
"""
