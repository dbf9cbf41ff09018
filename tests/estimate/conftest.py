import shutil

import pytest

from mcubench.estimate import load_cost_model


def _need_tools(*tools):
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} on PATH")


@pytest.fixture(scope="session")
def need_tools():
    """Skips (naming what is missing) unless the given programs are on PATH."""
    return _need_tools


@pytest.fixture(scope="session")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("estimate-work")


@pytest.fixture(autouse=True)
def isolated_dirs(work, tmp_path, monkeypatch):
    # plugin and image caches shared by the session; results (calibrations) per test
    monkeypatch.setenv("MCUBENCH_WORK", str(work))
    monkeypatch.setenv("MCUBENCH_RESULTS", str(tmp_path / "results"))


@pytest.fixture(scope="session")
def costs():
    return load_cost_model().costs
