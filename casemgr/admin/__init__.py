"""Staff administration and facility settings."""
