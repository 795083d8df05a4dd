"""Which post-login `next` targets are safe: same-site relative paths only."""

from urllib.parse import urlsplit


def safe_next(target: str | None) -> str | None:
    """Return `target` if it is a plain same-site path such as /clients/4, else None.

    Browsers treat backslashes as slashes and ignore tabs and newlines in URLs, so
    `/\\evil.example` or `/\t/evil.example` would leave the site; reject them outright.
    """
    if not target or len(target) > 2000:
        return None
    if any(ch in target for ch in "\\\t\r\n") or any(ord(ch) < 0x20 for ch in target):
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
