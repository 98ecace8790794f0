"""Built-in backends, one module each; a module imports its runtime only inside ``open``."""
