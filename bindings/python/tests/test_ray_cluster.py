"""Distributed ingestion on a two-node Ray cluster started on this machine (``ray
start --head`` and a second ``ray start --address``), driven from a subprocess. In a
module of its own: ``ray stop`` at the end stops every Ray process on the machine, so
no other cluster of the test run may be alive then."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

TWO_NODE_DRIVER = """
import sys, ray, trawl, trawl.ray
ray.init(address=sys.argv[1], log_to_driver=False)
nodes = [n for n in ray.nodes() if n["Alive"]]
assert len(nodes) == 2, nodes
rows = [{"id": f"d{i}", "text": f"Shared note {i} about glaciers and rivers."} for i in range(40)]
result = trawl.ray.ingest(sys.argv[2], rows, shards=2, model=sys.argv[3], embedders=2,
                          timeout=240)
assert result.added == 40, result
assert len(trawl.ShardSet(sys.argv[2]).search("glaciers", k=5)) == 5
print("two nodes ok")
"""


def test_ingest_on_a_two_node_cluster(tmp_path: Path, model_dir: Path) -> None:
    ray_bin = Path(sys.executable).parent / "ray"
    port = 6390 + os.getpid() % 100
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}

    def ray_cli(*args: str) -> None:
        subprocess.run(
            [os.fspath(ray_bin), *args], check=True, env=env, timeout=120, capture_output=True
        )

    try:
        ray_cli("start", "--head", f"--port={port}", "--num-cpus=1", "--include-dashboard=false")
        ray_cli("start", f"--address=127.0.0.1:{port}", "--num-cpus=1")
        deadline = time.monotonic() + 60
        driver = tmp_path / "driver.py"
        driver.write_text(TWO_NODE_DRIVER)
        out = subprocess.run(
            [
                sys.executable,
                os.fspath(driver),
                f"127.0.0.1:{port}",
                os.fspath(tmp_path / "set"),
                os.fspath(model_dir),
            ],
            env=env,
            timeout=max(60.0, deadline - time.monotonic() + 240),
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        assert "two nodes ok" in out.stdout
    finally:
        subprocess.run(
            [os.fspath(ray_bin), "stop", "--force"], env=env, timeout=120, capture_output=True
        )
