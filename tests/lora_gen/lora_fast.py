"""lora-gen options small enough that a fit takes about a second on one CPU thread."""

FAST = {
    "tiny_hidden": 32,
    "pretrain_epochs": 1,
    "epochs": 1,
    "per_user": 3,
    "max_length": 64,
    "cuts_per_user": 2,
    "checkpoint_every": 0,
}
