"""Command (统一指挥): projections of every court's cases, clocks and figures, the command
actions, the dashboard, and the platform's audit trail (留痕)."""
