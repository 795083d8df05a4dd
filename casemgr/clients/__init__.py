"""Clients: the face sheet and intake details."""
