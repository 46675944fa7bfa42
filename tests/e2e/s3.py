"""A local S3-compatible server (moto) with one bucket, for servers using the S3 file store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import boto3  # type: ignore[import-untyped]
from moto.server import ThreadedMotoServer

BUCKET = "e2e-uploads"

#: What a generated app needs to reach the bucket, apart from ``S3_ENDPOINT_URL``.
CREDENTIALS = {
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "e2e-access-key",
    "AWS_SECRET_ACCESS_KEY": "e2e-secret-key",
}


@contextmanager
def s3_bucket() -> Iterator[dict[str, str]]:
    """Start moto on loopback with ``BUCKET`` created; yield the app's environment for it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=CREDENTIALS["AWS_REGION"],
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        s3.create_bucket(Bucket=BUCKET)
        yield {**CREDENTIALS, "UPLOAD_BUCKET": BUCKET, "S3_ENDPOINT_URL": endpoint}
    finally:
        server.stop()
