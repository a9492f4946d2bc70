"""The `slatrack` console command."""
