"""The pages people read (DESIGN.md's web/): server-rendered HTML from the same read side as the API."""
