"""Item 9 (S3 part) and item 3 through S3: an unreachable endpoint and a damaged archive in a bucket are clear
errors (exit 2, structured JSON, no traceback) that leave nothing in the cache. A real S3 API on loopback (moto)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tao_skill.home import data_cache_root

SKILL = "tao-train-optical-inspection"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when this returns: nothing listens there


def test_unreachable_s3_endpoint_is_a_clear_error(packaged_data, tao_skill) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    secret = "secret-key-NOT-TO-BE-PRINTED"
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_MAX_ATTEMPTS": "2",
    }
    run = tao_skill(
        "run", SKILL, "train", "--automl-policy", "off", "--data", "train_datasets=s3://bucket/train",
        "--data", f"eval_dataset={packaged_data['val']}", "--json", env=env,
    )  # fmt: skip
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    issue = json.loads(run.stdout)["issues"][0]
    assert issue["rule"] == "s3_unreachable" and endpoint in issue["message"]
    assert issue["path"] == "data.train_datasets"
    assert secret not in run.stdout + run.stderr


def test_damaged_archive_in_a_bucket_is_not_cached(tmp_path: Path, packaged_data, s3_env, tao_skill) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=s3_env)
    client.create_bucket(Bucket="oi-faults")
    data = (packaged_data["train"] / "images.tar.gz").read_bytes()
    client.put_object(Bucket="oi-faults", Key="train/images.tar.gz", Body=data[: len(data) // 2])
    client.upload_file(str(packaged_data["train"] / "dataset.csv"), "oi-faults", "train/dataset.csv")
    for _attempt in range(2):
        run = tao_skill(
            "run", SKILL, "train", "--automl-policy", "off", "--data", "train_datasets=s3://oi-faults/train",
            "--data", f"eval_dataset={packaged_data['val']}", "--json",
        )  # fmt: skip
        assert run.returncode == 2, run.stdout + run.stderr
        issue = json.loads(run.stdout)["issues"][0]
        assert issue["rule"] == "archive_damaged" and "truncated" in issue["message"]
        entries = list(data_cache_root().iterdir()) if data_cache_root().exists() else []
        assert not any(p.name.startswith(".") or (p / "dataset.csv").is_file() for p in entries), entries
