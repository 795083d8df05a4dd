"""Staff accounts, sign-in, server-side sessions and passwords."""
