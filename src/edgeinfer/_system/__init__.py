"""``edgeinfer.health()``: the machine's CPU, memory, temperatures, throttling and accelerators,
each reader in its own module; unknown values are ``None`` with the reason."""
