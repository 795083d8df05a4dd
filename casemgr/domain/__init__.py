"""Pure domain rules: no Flask, no SQLAlchemy. Everything here is testable without an app."""
