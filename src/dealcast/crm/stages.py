"""Opportunity stages are org configuration: names, order, probability, forecast category.

The default is Salesforce's standard stage set. Orgs with custom picklists describe theirs
in a YAML file (see `stages.example.yaml`), loaded with `StageConfig.from_yaml`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

FORECAST_CATEGORIES = ("Pipeline", "Best Case", "Most Likely", "Commit", "Closed", "Omitted")


@dataclass(frozen=True)
class Stage:
    name: str
    probability: float
    forecast_category: str
    is_closed: bool = False
    is_won: bool = False

    def __post_init__(self) -> None:
        if self.forecast_category not in FORECAST_CATEGORIES:
            raise ValueError(
                f"stage {self.name!r}: forecast category {self.forecast_category!r} is not one "
                f"of {', '.join(FORECAST_CATEGORIES)}"
            )
        if not 0 <= self.probability <= 100:
            raise ValueError(f"stage {self.name!r}: probability must be between 0 and 100")
        if self.is_won and not self.is_closed:
            raise ValueError(f"stage {self.name!r}: a won stage must also be closed")


@dataclass(frozen=True)
class StageConfig:
    """Stages in sales-process order (open stages first, then the closed ones)."""

    stages: tuple[Stage, ...]

    def __post_init__(self) -> None:
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError("stage names must be unique")
        if not any(s.is_won for s in self.stages):
            raise ValueError("the stage set needs at least one won stage")
        if not any(s.is_closed and not s.is_won for s in self.stages):
            raise ValueError("the stage set needs at least one lost stage")

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    @property
    def open_stages(self) -> list[Stage]:
        return [s for s in self.stages if not s.is_closed]

    def get(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise ValueError(f"unknown stage {name!r}; valid stages: {', '.join(self.names)}")

    def knows(self, name: str) -> bool:
        return any(s.name == name for s in self.stages)

    def index(self, name: str) -> int:
        """Position of an open stage in the process (0 = first); closed stages rank last."""
        open_names = [s.name for s in self.open_stages]
        return open_names.index(name) if name in open_names else len(open_names)

    @classmethod
    def from_yaml(cls, path: Path) -> StageConfig:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        items = raw.get("stages")
        if not isinstance(items, list) or not items:
            raise ValueError(f"{path}: expected a non-empty 'stages:' list")
        stages = []
        for i, item in enumerate(items, start=1):
            try:
                stages.append(
                    Stage(
                        name=str(item["name"]),
                        probability=float(item["probability"]),
                        forecast_category=str(item["forecast_category"]),
                        is_closed=bool(item.get("closed", False)),
                        is_won=bool(item.get("won", False)),
                    )
                )
            except KeyError as exc:
                raise ValueError(f"{path}: stage #{i} is missing {exc.args[0]!r}") from exc
        return cls(tuple(stages))


STANDARD_STAGES = StageConfig(
    (
        Stage("Prospecting", 10, "Pipeline"),
        Stage("Qualification", 10, "Pipeline"),
        Stage("Needs Analysis", 20, "Pipeline"),
        Stage("Value Proposition", 50, "Pipeline"),
        Stage("Id. Decision Makers", 60, "Best Case"),
        Stage("Perception Analysis", 70, "Best Case"),
        Stage("Proposal/Price Quote", 75, "Best Case"),
        Stage("Negotiation/Review", 90, "Commit"),
        Stage("Closed Won", 100, "Closed", is_closed=True, is_won=True),
        Stage("Closed Lost", 0, "Omitted", is_closed=True),
    )
)


def load_stages(path: Path | None) -> StageConfig:
    return STANDARD_STAGES if path is None else StageConfig.from_yaml(path)
