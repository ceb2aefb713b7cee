"""Realistic iWmo 3.2 traffic with ground truth, for tests, benchmarks and the demo.

    config = GeneratorConfig(gemeenten=3, aanbieders=10, clients=1_000, months=1, seed=7)
    for item in generate(config):
        if isinstance(item, Emitted):
            data = render(item.message)            # one 301/305/307, in arrival order
            model = build(item.message)            # the same as a hub.model object
        else:
            item.truth                             # a finished case's ground truth

Pure scenario logic, no file I/O: `adapters.cli.generate` writes the files. See
docs/generator.md for the life cycles, the anomalies and the ground truth's semantics.
"""

from __future__ import annotations

from hub.generator.build import build
from hub.generator.cases import ANOMALY_KINDS
from hub.generator.config import GeneratorConfig
from hub.generator.plan import Planned
from hub.generator.render import render
from hub.generator.results import STATUSES, CaseTruth, MismatchTruth, ToewijzingTruth
from hub.generator.stream import Emitted, Finished, generate

__all__ = [
    "ANOMALY_KINDS",
    "STATUSES",
    "CaseTruth",
    "Emitted",
    "Finished",
    "GeneratorConfig",
    "MismatchTruth",
    "Planned",
    "ToewijzingTruth",
    "build",
    "generate",
    "render",
]
