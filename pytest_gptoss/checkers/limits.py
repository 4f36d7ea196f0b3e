"""The sandbox limits a checker spec may set for the programs it runs: ``timeout`` and ``memory_mb``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_gptoss.verdict import SpecError

#: CPU seconds a program may use, when the spec does not say
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 3600.0
#: memory a program may use, in MiB, when the spec does not say
DEFAULT_MEMORY_MB = 1024
MIN_MEMORY_MB = 32


def sandbox_limits(spec: Mapping[str, Any]) -> tuple[float, int]:
    """``(timeout, memory_mb)`` from ``spec``, defaults applied, or :class:`SpecError` naming the bad key."""
    timeout = spec.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_TIMEOUT:
        raise SpecError(f"'timeout' must be a number of seconds, above 0 and at most {MAX_TIMEOUT:g}", ("timeout",))
    memory = spec.get("memory_mb", DEFAULT_MEMORY_MB)
    if isinstance(memory, bool) or not isinstance(memory, int) or memory < MIN_MEMORY_MB:
        raise SpecError(f"'memory_mb' must be a whole number of MiB, at least {MIN_MEMORY_MB}", ("memory_mb",))
    return float(timeout), memory
