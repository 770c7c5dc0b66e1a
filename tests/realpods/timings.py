"""Timings the real-pods tier measures (cluster start, chart ready, first interface, CDN up), printed as they come
and again at the end of the run, so that CI logs show them."""
from __future__ import annotations

import sys

TIMINGS: list[str] = []


def report_timing(line: str) -> None:
    TIMINGS.append(line)
    print(f"\nreal-pods tier: {line}", file=sys.stderr)
