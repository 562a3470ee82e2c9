"""A loopback Salesforce: serves an export folder over Salesforce's wire protocol so the
real simple-salesforce client runs against it (see `server.Emulator`)."""

from __future__ import annotations

from dealcast.crm.sfdc_emulator.auth import Credentials
from dealcast.crm.sfdc_emulator.data import OrgData
from dealcast.crm.sfdc_emulator.faults import Faults
from dealcast.crm.sfdc_emulator.server import Emulator, EmulatorOptions

__all__ = ["Credentials", "Emulator", "EmulatorOptions", "Faults", "OrgData"]
