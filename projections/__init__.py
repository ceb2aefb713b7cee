"""The read side: each gemeente's arrangements and the mismatches between what it assigned and
what aanbieders report, folded from the hub's events.

- `projections.facts`: an event as a fact of its group (one toewijzing, or one client's lines
  without ToewijzingNummer); a group's facts are a set.
- `projections.derive` and `projections.rules`: the arrangement and the mismatches of a group,
  pure functions of its set of facts, so arrival order never matters (OP080).
- `projections.timed`: the flags that depend on the date they are judged at.
- `projections.state`: the pure fold (events in, changes out).
- `projections.store` and `projections.projector`: the SQLite projection store with its
  checkpoint, and the projector that folds the event log into it.
- `projections.queries` and `projections.views`: the read side the CLI shows.
"""
