"""Where the domain's data comes from: the catalog and calendar files, chinese-calendar's package
data, and the overlay's YAML text. `sla/` receives what these read and parse (documents, YearData)
and does no I/O itself (tests/domain/test_architecture.py)."""
