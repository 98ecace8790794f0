"""From ``load()``'s arguments to an ordered list of candidates: device strings, detection of the
machine's accelerators, model formats, the backend registry and the plan itself."""
