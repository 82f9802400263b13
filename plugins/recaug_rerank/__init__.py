"""Bundled strategy `rerank`: a teacher recommender's candidates, kept where independent
scorers agree (LLMRec-style edge augmentation, VoteGCL-style voting)."""

from recaug_core import hookimpl


@hookimpl
def register_strategies(register):
    from recaug_rerank.strategy import RerankStrategy

    register(RerankStrategy)
