"""``s3://`` paths through pyarrow's S3 filesystem (AWS or any S3-compatible endpoint).

Credentials are the AWS SDK's usual ones (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``,
a profile, an instance role); they never pass through sparkglue's settings.
"""

from __future__ import annotations

from typing import Any

__all__ = ["S3_SCHEMES", "s3_filesystem", "s3_key"]

S3_SCHEMES = ("s3://", "s3a://")


def s3_key(url: str) -> str:
    """``s3://bucket/prefix/`` → ``bucket/prefix`` (what pyarrow's S3 filesystem takes)."""
    for scheme in S3_SCHEMES:
        if url.startswith(scheme):
            return url[len(scheme) :].strip("/")
    raise ValueError(f"'{url}' is not an s3:// URL")


def s3_filesystem(endpoint_url: str | None, region: str | None) -> Any:
    """A pyarrow S3 filesystem for the endpoint (None: AWS) and region."""
    from pyarrow import fs

    options: dict[str, Any] = {}
    if region:
        options["region"] = region
    if endpoint_url:
        scheme, _, host = endpoint_url.partition("://")
        options["endpoint_override"] = host.rstrip("/")
        options["scheme"] = scheme
        # S3-compatible servers generally want path-style addressing.
        options["force_virtual_addressing"] = False
    # Fail within seconds, not minutes, when the endpoint is down.
    options["connect_timeout"] = 5
    options["request_timeout"] = 30
    return fs.S3FileSystem(**options)
