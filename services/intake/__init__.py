"""Intake (立案): files enforcement cases and records them as CaseFiled events."""
