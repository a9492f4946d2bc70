"""The read model rebuilt from, and verified against, the request workflows."""
