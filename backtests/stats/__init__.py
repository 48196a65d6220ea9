"""Statistics, pure computation: performance metrics, the event study and its tests, signal regressions,
the placebo null, event counts and per-event traded-window returns. Nothing here draws or writes files."""
