"""Where the project's own files live, found from the package location (works from a checkout)."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
SUITES_DIR = PROJECT_ROOT / "suites"
PROFILES_DIR = PROJECT_ROOT / "profiles"
REQUIREMENTS_DIR = PROFILES_DIR / "requirements"
FIXTURES_DIR = PROJECT_ROOT / "fixtures"
PACKS_DIR = FIXTURES_DIR / "packs"
REPORTS_DIR = PROJECT_ROOT / "reports"
# Official artefacts are read from the shared folder beside the checkout, never copied in.
SHARED_SPECS_DIR = PROJECT_ROOT.parent / "shared" / "specs"
