"""Password rules after NIST SP 800-63B-4: length and a blocklist, no composition rules."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .errors import DomainError

COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt"
MAX_LENGTH = 512


class WeakPassword(DomainError):
    pass


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 15
    max_length: int = MAX_LENGTH


def normalize(password: str) -> str:
    """NFKC so that the same passphrase typed on two keyboards (NFC or NFD) matches."""
    return unicodedata.normalize("NFKC", password)


def normalize_login(login: str) -> str:
    """Login names compare case-insensitively and by compatibility form (ｎurse1 == nurse1)."""
    return unicodedata.normalize("NFKC", login).casefold().strip()


@cache
def common_passwords() -> frozenset[str]:
    with COMMON_PASSWORDS_FILE.open(encoding="utf-8") as fh:
        return frozenset(line.strip().casefold() for line in fh if line.strip())


def check_password(
    password: str,
    *,
    policy: PasswordPolicy,
    context_words: Collection[str] = (),
    blocklist: Collection[str] | None = None,
) -> None:
    """Raise WeakPassword with the reason a user can act on; return None when acceptable."""
    pw = normalize(password)
    if len(pw) < policy.min_length:
        raise WeakPassword(
            f"Use at least {policy.min_length} characters; a short phrase works well."
        )
    if len(pw) > policy.max_length:
        raise WeakPassword(f"Use at most {policy.max_length} characters.")
    folded = pw.casefold()
    if len(set(folded)) == 1:
        raise WeakPassword("A single repeated character is too easy to guess.")
    for word in context_words:
        w = normalize(word).casefold().strip()
        if len(w) >= 3 and w in folded:
            raise WeakPassword(f"Do not include “{word.strip()}” in the password.")
    listed = common_passwords() if blocklist is None else blocklist
    if folded in listed or folded.replace(" ", "") in listed:
        raise WeakPassword("That password appears in lists of commonly used passwords.")
