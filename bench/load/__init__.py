"""The load and fault harness (security.md §4): a clinic's mix of requests from simulated
staff against gunicorn, and the checks that nothing acknowledged was lost.

`bench/loadtest.py` is the command; `tests/test_load_and_faults.py` runs it small and adds
the faults (the database stopping, the app server killed mid-write)."""
