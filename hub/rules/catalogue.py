"""Imports every rule module so that its rules register; the validator imports this."""

from __future__ import annotations
