"""todo-api: the backend of a todo web app."""

__version__ = "0.1.0"
