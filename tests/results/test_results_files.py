"""Result files and a damaged history (issue #15): results are readable like any new file, and
a corrupt history is named as such, not taken for a missing id."""

from __future__ import annotations

import json
import os
import stat

from mcubench.core.fileio import write_json_atomic

from helpers import mcubench


def test_result_files_get_the_umask_permissions_not_mkstemps_0600(tmp_path):
    mask = os.umask(0)
    os.umask(mask)
    path = write_json_atomic(tmp_path / "r.json", {"a": 1})
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert json.loads(path.read_text()) == {"a": 1}


def test_compare_by_id_with_a_corrupt_history_names_the_history(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "history.sqlite").write_bytes(b"this is not an SQLite file" * 100)
    proc = mcubench("compare", "0123abcd", "4567ef01", env={"MCUBENCH_RESULTS": str(results)})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "not a usable history database" in proc.stderr
    assert "is not a result file, a history id or a git revision" not in proc.stderr
    assert "Traceback" not in proc.stderr
