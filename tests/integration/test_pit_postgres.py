"""Point-in-time suite on PostgreSQL."""

from tests.crm.pit_suite import *  # noqa: F403
