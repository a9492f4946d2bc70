"""HTTP API v1: a thin translator between HTTP and the domain, the workflows and the read model."""
