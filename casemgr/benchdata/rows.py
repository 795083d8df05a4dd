"""Rows waiting to be written, and the primary keys handed out before they are."""

from __future__ import annotations

from collections import defaultdict


class Ids:
    """Primary keys assigned here, in order, so child rows need no round trip for them."""

    def __init__(self, start: dict[str, int]):
        self._next = defaultdict(lambda: 1, start)

    def take(self, table: str) -> int:
        value = self._next[table]
        self._next[table] = value + 1
        return value

    def peek(self, table: str) -> int:
        return self._next[table]


class Rows:
    """Rows per table (dicts naming every column), in the order they were added."""

    def __init__(self):
        self.tables: dict[str, list[dict]] = defaultdict(list)

    def add(self, table: str, row: dict) -> None:
        self.tables[table].append(row)

    def count(self) -> int:
        return sum(len(rows) for rows in self.tables.values())

    def clear(self) -> None:
        self.tables.clear()
