"""`python -m recaug_core ...` and `accelerate launch -m recaug_core ...` run the CLI."""

from recaug_core.cli import main

if __name__ == "__main__":
    main()
