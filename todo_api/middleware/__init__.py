"""The ASGI layers around the routes, each in its own module."""
