from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.rag.org import tiny_store
from tests.test_cli import run_cli


def test_index_command_is_incremental(tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    tiny_store(tmp_path).close()
    args = ["index", "--db", str(tmp_path / "tiny.db"), "--path", str(tmp_path / "ix")]
    code, out, _ = run_cli([*args, "--format", "json"], capsys, monkeypatch)
    assert code == 0
    first = json.loads(out)
    assert first["embedded"] == first["documents"] == 23
    assert first["path"] == str(tmp_path / "ix")
    code, _, err = run_cli(args, capsys, monkeypatch)
    assert code == 0
    assert "23 chunks" in err and "0 embedded" in err
