"""Bundled strategy `seq`: sequence augmentation operators (crop, mask, reorder, substitute,
insert) as in CL4SRec and CoSeRec."""

from recaug_core import hookimpl


@hookimpl
def register_strategies(register):
    from recaug_seq.strategy import SeqStrategy

    register(SeqStrategy)
