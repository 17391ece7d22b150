"""AI agents' way in: the task operations as tools of the Model Context Protocol (tools.py),
served over Streamable HTTP at /mcp and over stdio by `todo-api mcp` (server.py)."""
