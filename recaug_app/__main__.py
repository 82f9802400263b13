"""`python -m recaug_app ...` and `accelerate launch -m recaug_app ...` run the CLI."""

from recaug_app.cli import main

if __name__ == "__main__":
    main()
