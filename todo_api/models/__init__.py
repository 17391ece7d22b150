"""Request bodies and query strings as pydantic models, and rows as JSON: one module per
domain (`auth`, `tasks`, `sync`), with what they share in `common`."""
