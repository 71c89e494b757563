"""Reference handlers: directory (filled in by the Foundations work)."""
