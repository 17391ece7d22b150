"""`python -m todo_api` is `todo-api`."""

from todo_api.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
