"""The store suite on PostgreSQL (fixture in tests/integration/conftest.py)."""

from tests.crm.store_suite import *  # noqa: F403
