"""Real engines for the cluster tests, started once per module: a Ray cluster (a head and a second node, each its
own ``ray start`` process on this machine), a PostgreSQL server and moto's S3 server, all on loopback.

Engines that cannot be installed here make their tests skip with the reason; ``make engines`` (run by CI) installs
PostgreSQL, ``make venv`` installs Ray.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from devtools import engines  # noqa: E402


@pytest.fixture(scope="module")
def s3() -> Iterator[engines.MotoS3]:
    server = engines.MotoS3()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def data_uris(s3: engines.MotoS3, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Tiny packaged datasets uploaded to s3://data/{train,val}; a results bucket."""
    import boto3

    from optical_inspection.tools.synth import generate

    root = tmp_path_factory.mktemp("cluster_data")
    train = generate(root / "train", pairs=16, defect_fraction=0.25, seed=0, image_size=32, package=True)
    val = generate(root / "val", pairs=8, defect_fraction=0.25, seed=1, image_size=32, package=True)
    client = boto3.client("s3", **{k.lower(): v for k, v in _boto_args(s3).items()})
    for bucket in ("data", "results"):
        client.create_bucket(Bucket=bucket)
    for name, folder in (("train", train.root), ("val", val.root)):
        for file in ("images.tar.gz", "dataset.csv"):
            client.upload_file(str(Path(folder) / file), "data", f"{name}/{file}")
    return {"train_datasets": "s3://data/train", "eval_dataset": "s3://data/val"}


def _boto_args(s3: engines.MotoS3) -> dict[str, str]:
    env = s3.env()
    return {
        "endpoint_url": env["AWS_ENDPOINT_URL"],
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "region_name": env["AWS_DEFAULT_REGION"],
    }


@pytest.fixture(scope="module")
def ray_cluster(s3: engines.MotoS3, tmp_path_factory: pytest.TempPathFactory) -> Iterator[engines.RayCluster]:
    """A head (1 CPU) and a worker node (1 CPU): two one-CPU trials run at once only by using both nodes."""
    if importlib.util.find_spec("ray") is None or not (Path(sys.executable).parent / "ray").exists():
        pytest.skip("Ray is not installed in this Python (make venv installs the 'ray' extra)")
    worker_home = tmp_path_factory.mktemp("worker_home")  # the nodes' own TAO_SKILL_HOME, not the driver's
    cluster = engines.RayCluster(head_cpus=1, env={**s3.env(), "TAO_SKILL_HOME": str(worker_home)})
    try:
        cluster.add_node("node2", cpus=1)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def postgres() -> Iterator[engines.Postgres]:
    if engines.postgres_binaries() is None:
        pytest.skip("PostgreSQL's server is not installed here (make engines installs it: apt-get install postgresql)")
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("the PostgreSQL driver is not installed (make venv installs the 'postgres' extra)")
    server = engines.Postgres()
    yield server
    server.stop()


@pytest.fixture
def on_cluster(
    ray_cluster: engines.RayCluster, s3: engines.MotoS3, data_uris: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """This test's shell: the cluster's address, results under s3://results/<test>, S3 on loopback."""
    for key, value in s3.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("RAY_ADDRESS", ray_cluster.address)
    monkeypatch.setenv("TAO_SKILL_RESULTS_URI", "s3://results/runs")
    return data_uris
