"""The HTTP API behind `dealcast serve` (`dealcast.server.create_app` assembles it)."""
