"""Deterministic orchestration. Modules here import only temporalio, sla and their messages."""
