"""The iWmo 3.2 intra-message rules. Importing this package registers every rule."""

from __future__ import annotations

from hub.rules.base import Rule, RuleContext, RuleRegistry, registry

__all__ = ["Rule", "RuleContext", "RuleRegistry", "registry"]
