"""Seeded examples give the same bytes in a fresh process and under a Dask worker (issue #15:
two fresh sweeps trained different models under one job key)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

# Trains the example and makes the variant from scratch in the work dir it is given; prints the sha256.
MAKE_VARIANT = """
import hashlib, os, sys
os.environ["MCUBENCH_WORK"] = sys.argv[1]
from mcubench.recipes.variants import prepare_example_variant
print(hashlib.sha256(prepare_example_variant("digits", "qat_int8", {"epochs": 1}).path.read_bytes()).hexdigest())
"""


def variant_sha_in_a_fresh_process(work: str) -> str:
    proc = subprocess.run([sys.executable, "-c", MAKE_VARIANT, work], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


def variant_sha_on_a_dask_worker(work: str) -> str:
    from distributed import Client, LocalCluster

    def job(directory: str) -> str:
        os.environ["MCUBENCH_WORK"] = directory
        from mcubench.recipes.variants import prepare_example_variant

        return hashlib.sha256(prepare_example_variant("digits", "qat_int8", {"epochs": 1}).path.read_bytes()).hexdigest()

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as cluster:
        with Client(cluster) as client:
            return client.submit(job, work, pure=False).result(timeout=600)


def test_the_same_example_variant_bytes_in_fresh_processes_and_on_a_worker(tmp_path):
    first = variant_sha_in_a_fresh_process(str(tmp_path / "a"))
    second = variant_sha_in_a_fresh_process(str(tmp_path / "b"))
    on_worker = variant_sha_on_a_dask_worker(str(tmp_path / "c"))
    assert first == second == on_worker
