"""The built-in `recaug` commands, one module each; each module has ``register(cli)``."""
