"""The recipes ``edgeinfer.optimize`` applies; the bench's reference workloads quantise through
the same functions."""
