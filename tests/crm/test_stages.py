from __future__ import annotations

from pathlib import Path

import pytest

from dealcast.crm.stages import STANDARD_STAGES, StageConfig

EXAMPLE = Path(__file__).parents[2] / "docs" / "stages.example.yaml"


def test_standard_stages_follow_salesforce() -> None:
    assert STANDARD_STAGES.names[0] == "Prospecting"
    assert STANDARD_STAGES.get("Negotiation/Review").probability == 90
    won = STANDARD_STAGES.get("Closed Won")
    assert won.is_closed and won.is_won and won.forecast_category == "Closed"
    assert STANDARD_STAGES.index("Qualification") == 1
    assert STANDARD_STAGES.index("Closed Lost") == len(STANDARD_STAGES.open_stages)


def test_custom_stage_file_loads() -> None:
    stages = StageConfig.from_yaml(EXAMPLE)
    assert stages.names == ["Discovery", "Evaluation", "Proposal", "Contracting", "Won", "Lost"]
    assert stages.get("Won").is_won and not stages.get("Lost").is_won


def test_unknown_stage_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid stages: Prospecting, Qualification"):
        STANDARD_STAGES.get("Signed")


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("stages: []", "non-empty"),
        ("stages:\n  - {name: A, probability: 10}", "missing 'forecast_category'"),
        ("stages:\n  - {name: A, probability: 10, forecast_category: Maybe}", "Pipeline"),
        (
            "stages:\n  - {name: W, probability: 100, forecast_category: Closed, closed: true,"
            " won: true}",
            "lost stage",
        ),
    ],
)
def test_bad_stage_files_are_rejected(tmp_path: Path, yaml_text: str, message: str) -> None:
    path = tmp_path / "stages.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        StageConfig.from_yaml(path)
