"""Files a target file names (certificates, keys, CA bundles, attestation files).

A relative path is relative to the target file, so a target and the files it names move together; the
target loader passes the target file's folder as the validation context's `base_dir`. Every section of
the target validates its file fields through `existing_file`, so they resolve and fail alike.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationInfo


def existing_file(v: Path | None, info: ValidationInfo) -> Path | None:
    """The path resolved against the target file's folder; a file that is not there is a one-line error."""
    if v is None:
        return None
    base = (info.context or {}).get("base_dir")
    if base is not None and not v.is_absolute():
        v = Path(base) / v
    if not v.is_file():
        raise ValueError(f"file not found: {v}")
    return v
