"""``load(..., isolate=True)``: a backend run in its own process, so that a crash is an error."""
