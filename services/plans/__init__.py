"""plans service: built by its own issue; this package reserves its place."""
