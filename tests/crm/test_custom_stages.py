"""An org with its own stage picklist imports and reconstructs with a stage file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from dealcast.crm.export_import import import_export
from dealcast.crm.stages import StageConfig
from dealcast.crm.store import Store
from tests.crm.export_builder import O1, O2, minimal_export

EXAMPLE = Path(__file__).parents[2] / "docs" / "stages.example.yaml"
RENAME = {
    "Prospecting": "Discovery",
    "Qualification": "Evaluation",
    "Proposal/Price Quote": "Proposal",
    "Negotiation/Review": "Contracting",
    "Closed Won": "Won",
}


def test_custom_stage_set(tmp_path: Path) -> None:
    folder = minimal_export(tmp_path / "exp")
    for name in ("Opportunity.csv", "OpportunityHistory.csv"):
        text = (folder / name).read_text(encoding="utf-8")
        for old, new in RENAME.items():
            text = text.replace(f",{old},", f",{new},")
        (folder / name).write_text(text, encoding="utf-8")

    standard = Store.open(f"sqlite:///{tmp_path / 'std.db'}")
    report = import_export(standard, folder, actor="t", as_of=datetime(2025, 6, 1))
    # 3 opportunities and 6 history rows (unknown stages), then 2 roles of those deals
    assert report.quarantined == 11

    custom = Store.open(f"sqlite:///{tmp_path / 'custom.db'}", StageConfig.from_yaml(EXAMPLE))
    assert import_export(custom, folder, actor="t", as_of=datetime(2025, 6, 1)).quarantined == 0
    opps = custom.as_of("2025-04-01").opportunities().set_index("Id")
    assert opps.loc[O1, "StageName"] == "Proposal"
    assert opps.loc[O2, "IsWon"] and opps.loc[O2, "ForecastCategoryName"] == "Closed"
