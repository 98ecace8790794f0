"""What backends share: the contract, option checks, error translation, the ONNX safety scan,
native stderr capture, installed versions, quantisation arithmetic and the cache folder.

The public face of this package is ``edgeinfer.backend``; modules here are its implementation.
"""
