"""Staff accounts, sign-in (password, then a TOTP code), server-side sessions, throttling
and passwords."""
