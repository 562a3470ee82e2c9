"""Safety library for the chat output path: PII redaction, caller visibility, the output
guard and the sanitiser for retrieved (untrusted) text. Pure Python, no LangChain.

- `pii`: `redact(text, policy)`, `redact_data(obj, policy)`.
- `policy`: `Caller`, `Visibility`, `PiiPolicy`, `pii_policy_for(caller, ...)`.
- `guard`: `guard_output(text, data, citations, caller, visibility, policy)`, fail-safe.
- `sanitizer`: `sanitize_untrusted(text)` for retrieved email/note text.
"""

from dealcast.safety.guard import GuardResult, guard_output
from dealcast.safety.pii import (
    DataFinding,
    DataRedaction,
    Finding,
    PiiKind,
    Redaction,
    find_pii,
    redact,
    redact_data,
)
from dealcast.safety.policy import (
    Caller,
    PiiPolicy,
    Role,
    Visibility,
    contact_names_split,
    pii_policy_for,
)
from dealcast.safety.sanitizer import UNTRUSTED_NOTICE, injection_markers, sanitize_untrusted

__all__ = [
    "UNTRUSTED_NOTICE",
    "Caller",
    "DataFinding",
    "DataRedaction",
    "Finding",
    "GuardResult",
    "PiiKind",
    "PiiPolicy",
    "Redaction",
    "Role",
    "Visibility",
    "contact_names_split",
    "find_pii",
    "guard_output",
    "injection_markers",
    "pii_policy_for",
    "redact",
    "redact_data",
    "sanitize_untrusted",
]
