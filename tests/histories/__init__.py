"""The replay corpus. Its payloads are encrypted with the TEST-ONLY key of harness/keys.py."""
