"""Point-in-time suite on SQLite."""

from tests.crm.pit_suite import *  # noqa: F403
