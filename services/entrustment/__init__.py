"""Entrustment (事项委托): One court asks another to do a matter in its region."""
