"""Imports every rule module so that its rules register; the validator imports this."""

from __future__ import annotations

from hub.rules import client, contact, dates, keys, products

#: The rule modules, in the order their rules run.
MODULES = (client, contact, dates, products, keys)
