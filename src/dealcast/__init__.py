"""dealcast: open-source, self-hostable AI sales forecasting."""

__version__ = "0.1.0"
