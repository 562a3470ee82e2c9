"""Prompt texts, one module per task, as UPPER_SNAKE constants (reviewable in one place).

Untrusted text (CRM emails, notes) only ever goes inside XML-style tags that the prompt
declares to be data, never instructions.
"""
