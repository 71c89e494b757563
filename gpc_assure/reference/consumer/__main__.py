"""`python -m gpc_assure.reference.consumer --step STEP --base-url URL ...`: one step of the reference consumer.

The same command as `gpc-assure reference consumer`; every driver placeholder is an option
(`--nhs-number`, `--provider-asid`, ...), so a target file can drive the reference consumer as an
external command: driver = "python -m gpc_assure.reference.consumer --step {step} --base-url {base_url} ..."
"""

from __future__ import annotations

import sys

from gpc_assure.reference.consumer.cli import main

if __name__ == "__main__":
    sys.exit(main())
