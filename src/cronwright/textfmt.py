"""Human-readable sizes and durations for messages ("1.5 MB", "2 minutes 5 seconds")."""

from __future__ import annotations

_UNITS = ("bytes", "K", "MB", "GB", "TB")


def human_bytes(value: float) -> str:
    """xyOps style: 512 → "512 bytes", 1536 → "1.5 K", 3*1024**2 → "3 MB"."""
    amount = float(value)
    unit = 0
    while abs(amount) >= 1024 and unit < len(_UNITS) - 1:
        amount /= 1024
        unit += 1
    if unit == 0:
        return f"{int(amount)} bytes" if amount != 1 else "1 byte"
    text = f"{amount:.1f}".rstrip("0").rstrip(".")
    return f"{text} {_UNITS[unit]}"


def human_duration(seconds: float) -> str:
    """3725 → "1 hour 2 minutes", 65 → "1 minute 5 seconds", 0.5 → "0.5 seconds"."""
    if seconds < 60 and not float(seconds).is_integer():
        return f"{seconds:g} seconds"
    total = round(seconds)
    parts = []
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count} {name}" + ("s" if count != 1 else ""))
    return " ".join(parts[:2]) or "0 seconds"
