"""Proof that this implementation equals the official code: `python -m avfmae.conformance DIR`."""
