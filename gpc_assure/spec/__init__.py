"""Facts about the specifications themselves (their pages and where they are published)."""
