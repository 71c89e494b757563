"""Reference handlers: patients (filled in by the Foundations work)."""
