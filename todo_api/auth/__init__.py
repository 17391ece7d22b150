"""Authentication: tokens, passwords, and the middleware backend."""
