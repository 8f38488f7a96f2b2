"""Fixtures every test module may use by name (pytest finds them here): `workspace`, a fresh private workspace."""
from app_harness import workspace  # noqa: F401 - re-exported as a fixture for every test module
