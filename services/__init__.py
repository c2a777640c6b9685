"""The platform's services. Each is its own bounded context: services share ``zhixing``
(libs/) and the generated contracts, never each other's code or Redis keys."""
