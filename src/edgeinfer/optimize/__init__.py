"""``edgeinfer.optimize``: int8 and fp16 variants of a model, measured."""
