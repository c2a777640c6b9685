"""Deadlines (节点管控): the statutory clocks of every case, asset, dispute and entrustment.

Opened, paused, moved and cleared by the other services' events; warned, breached and
escalated on time by its scheduler; read and extended (with an approval) over HTTP.
"""
