"""The store suite on SQLite, the embedded default (fixture in tests/crm/conftest.py)."""

from tests.crm.store_suite import *  # noqa: F403
