"""optical_inspection.machine: cores from affinity and cgroup quota (real files), thread sizing, OMP_NUM_THREADS, and a
training process that sizes its pool from them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from optical_inspection.machine import allowed_cpus, compute_threads, peak_rss_mib


def test_cgroup_v2_and_v1_quotas_cap_the_affinity(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.max").write_text("150000 100000\n")  # 1.5 CPUs -> 2 cores
    assert allowed_cpus(v2) == min(affinity, 2)
    (v2 / "cpu.max").write_text("max 100000\n")
    assert allowed_cpus(v2) == affinity
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert allowed_cpus(v1) == 1
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert allowed_cpus(v1) == affinity
    assert allowed_cpus(tmp_path / "absent") == affinity


def test_threads_leave_a_core_per_busy_worker_and_honour_omp() -> None:
    assert compute_threads(0, env={}, cpus=8) == 8
    assert compute_threads(2, env={}, cpus=8) == 6
    assert compute_threads(4, env={}, cpus=2) == 1
    assert compute_threads(2, env={"OMP_NUM_THREADS": "3"}, cpus=8) == 3
    assert compute_threads(0, env={"OMP_NUM_THREADS": "junk"}, cpus=4) == 4
    assert peak_rss_mib() is None or peak_rss_mib() > 1


def test_a_training_process_under_an_affinity_mask_uses_one_thread(tmp_path: Path) -> None:
    """A process pinned to one core (taskset-like, through sched_setaffinity in the child) sizes torch's pool to 1,
    whatever the machine's core count; with OMP_NUM_THREADS it takes that."""
    code = (
        "import os, torch\n"
        "os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})\n"
        "from optical_inspection.machine import configure_threads\n"
        "print(configure_threads(busy_workers=0), torch.get_num_threads())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "1"]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**env, "OMP_NUM_THREADS": "2"}, timeout=120
    )
    assert out.stdout.split() == ["2", "2"]


def test_openmp_threads_wait_passively_unless_the_user_chose() -> None:
    from optical_inspection.machine import passive_openmp_waits

    env: dict[str, str] = {}
    assert passive_openmp_waits(env) and env["OMP_WAIT_POLICY"] == "PASSIVE"
    env = {"OMP_WAIT_POLICY": "ACTIVE"}
    assert not passive_openmp_waits(env) and env["OMP_WAIT_POLICY"] == "ACTIVE"
    # the trainer CLI sets it before torch is imported (the OpenMP runtime reads it once, when it loads)
    code = (
        "import os, sys\n"
        "from optical_inspection import cli\n"
        "try:\n    cli.main(['synth', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(os.environ.get('OMP_WAIT_POLICY'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "PASSIVE", out.stderr
