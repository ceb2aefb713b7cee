"""Data package: the project's iWmo 3.2 XSDs and Avro event schemas (no code)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent
IWMO_32 = ROOT / "iwmo" / "3.2"
EVENTS = ROOT / "events"
