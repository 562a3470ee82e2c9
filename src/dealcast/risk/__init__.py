"""Risk detection: detectors with evidence, text signals, next best actions."""
