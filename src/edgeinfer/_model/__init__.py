"""``load()`` and ``Model``: the warm-up, input checks, the run-time fallback chain, latency
statistics, profiles, model health and ``explain()``, written once on top of every backend."""
