"""TOTP codes (RFC 6238), recovery codes, the enrolment QR code, and sealing seeds at rest.

Pure helpers: no database, no request. The services in `two_factor` decide what is accepted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from flask import current_app
from markupsafe import Markup
from reportlab.graphics.barcode.qr import QrCodeWidget

from ..config import instance_secret

STEP_SECONDS = 30
SEED_BYTES = (16, 20)  # at least 128 bits (RFC 4226 R6), at most what the column holds sealed
RECOVERY_CODES = 10
# Crockford's base32: no I, L, O or U, so a code read aloud or copied by hand survives.
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_RECOVERY_LENGTH = 16  # 80 bits: out of reach of offline guessing, so a plain SHA-256 will do
_SEALED = "1."


class SeedUnreadable(Exception):
    """The stored seed does not open with this instance's TOTP key (restored elsewhere?)."""


# --- seeds --------------------------------------------------------------------------------


def new_seed() -> str:
    return pyotp.random_base32()  # 160 bits from `secrets`


def seed_problem(seed: str) -> str | None:
    """Why a seed typed by an operator is unusable, or None."""
    raw = _seed_bytes(seed)
    if raw is None:
        return "The TOTP seed must be base32 (letters A-Z and digits 2-7)."
    if not SEED_BYTES[0] <= len(raw) <= SEED_BYTES[1]:
        return "The TOTP seed must be 26 to 32 base32 characters (128 to 160 bits)."
    return None


def _seed_bytes(seed: str) -> bytes | None:
    text = seed.strip().replace(" ", "").upper()
    try:
        return base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        return None


def ensure_key() -> str:
    """The key that seals seeds: CASEMGR_TOTP_KEY, else instance/totp_key (made once)."""
    cfg = current_app.config
    if not cfg.get("TOTP_KEY"):
        cfg["TOTP_KEY"] = instance_secret(current_app.instance_path, "totp_key")
    return cfg["TOTP_KEY"]


def _keys() -> tuple[bytes, bytes]:
    master = ensure_key().encode()
    return (
        hmac.new(master, b"casemgr totp seal: encrypt", hashlib.sha256).digest(),
        hmac.new(master, b"casemgr totp seal: authenticate", hashlib.sha256).digest(),
    )


def seal(seed: str) -> str:
    """Encrypt-then-MAC a seed for the users table, so a copied database (a stray backup)
    does not hand out everyone's second factor. HMAC-SHA256 serves as the keystream and as
    the tag; the key lives outside the database (instance/totp_key or CASEMGR_TOTP_KEY)."""
    raw = _seed_bytes(seed)
    if raw is None or len(raw) > SEED_BYTES[1]:
        raise ValueError("not a usable TOTP seed")
    enc_key, mac_key = _keys()
    nonce = secrets.token_bytes(8)
    stream = hmac.new(enc_key, nonce, hashlib.sha256).digest()
    body = nonce + bytes(a ^ b for a, b in zip(raw, stream, strict=False))
    tag = hmac.new(mac_key, _SEALED.encode() + body, hashlib.sha256).digest()[:16]
    return _SEALED + base64.urlsafe_b64encode(body + tag).decode().rstrip("=")


def unseal(sealed: str) -> str:
    if not sealed.startswith(_SEALED):
        raise SeedUnreadable("unknown seal format")
    try:
        blob = base64.urlsafe_b64decode(sealed[len(_SEALED) :] + "=" * (-len(sealed) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SeedUnreadable("damaged seal") from exc
    enc_key, mac_key = _keys()
    body, tag = blob[:-16], blob[-16:]
    expected = hmac.new(mac_key, _SEALED.encode() + body, hashlib.sha256).digest()[:16]
    if len(body) <= 8 or not hmac.compare_digest(tag, expected):
        raise SeedUnreadable("the TOTP key does not open this seed")
    nonce, cipher = body[:8], body[8:]
    stream = hmac.new(enc_key, nonce, hashlib.sha256).digest()
    raw = bytes(a ^ b for a, b in zip(cipher, stream, strict=False))
    return base64.b32encode(raw).decode().rstrip("=")


# --- codes --------------------------------------------------------------------------------


def step_at(when: datetime) -> int:
    return int(when.timestamp()) // STEP_SECONDS


def code_at(seed: str, step: int) -> str:
    return pyotp.TOTP(seed).generate_otp(step)


@dataclass(frozen=True)
class Match:
    step: int | None  # the time step the code belongs to, when it may be accepted
    replayed: bool = False  # right code, but its step (or a later one) was already used


def match(seed: str, code: str, *, now: datetime, last_step: int | None) -> Match:
    """Accept the code of the current 30-second step or either neighbour (clock drift), but
    only for a step after the last one accepted: each code works once (ASVS 6.5.1)."""
    here = step_at(now)
    for step in (here - 1, here, here + 1):
        if hmac.compare_digest(code_at(seed, step), code):
            if last_step is not None and step <= last_step:
                return Match(None, replayed=True)
            return Match(step)
    return Match(None)


def normalize_code(text: str) -> str:
    return re.sub(r"[\s-]", "", text or "").lower()


def is_totp_code(text: str) -> bool:
    return re.fullmatch(r"[0-9]{6}", normalize_code(text)) is not None


# --- recovery codes -----------------------------------------------------------------------


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_CROCKFORD) for _ in range(_RECOVERY_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4)))
    return codes


def recovery_digest(code: str) -> str | None:
    """SHA-256 of a recovery code as typed (case, spaces, dashes and look-alike letters
    forgiven), or None when it cannot be one."""
    text = normalize_code(code).translate(str.maketrans("ilo", "110"))
    if len(text) != _RECOVERY_LENGTH or any(ch not in _CROCKFORD for ch in text):
        return None
    return hashlib.sha256(text.encode()).hexdigest()


# --- enrolment ----------------------------------------------------------------------------


def provisioning_uri(seed: str, *, login: str, issuer: str) -> str:
    return pyotp.TOTP(seed).provisioning_uri(name=login, issuer_name=issuer)


def qr_svg(text: str, *, label: str, size_px: int = 240) -> Markup:
    """The QR code for `text`, drawn here with reportlab's encoder as one inline SVG path.

    reportlab's renderSVG writes `style` attributes, which the content-security policy
    (style-src 'self') refuses, so the modules are emitted with presentation attributes.
    No external service, no script, no URL in the markup.
    """
    qr = QrCodeWidget(text, barLevel="M").qr
    qr.make()
    border, count = 4, qr.getModuleCount()
    runs = []
    for r, row in enumerate(qr.modules):
        c = 0
        while c < count:
            if row[c]:
                start = c
                while c < count and row[c]:
                    c += 1
                runs.append(f"M{start + border} {r + border}h{c - start}v1h-{c - start}z")
            else:
                c += 1
    side = count + 2 * border
    return Markup(
        '<svg class="qr-code" viewBox="0 0 {side} {side}" width="{px}" height="{px}" '
        'role="img" aria-label="{label}" shape-rendering="crispEdges">'
        '<rect width="{side}" height="{side}" fill="#ffffff"/>'
        '<path fill="#000000" d="{path}"/></svg>'
    ).format(side=side, px=size_px, label=label, path="".join(runs))
