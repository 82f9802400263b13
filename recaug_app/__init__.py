"""recaug's application: the `recaug` command line, experiments, evaluation and reports.

Built on ``recaug_core`` (hook specs, data model, contracts, the augmentation run) and on
nothing else of recaug; the core and the plugins never import this package
(tests/core/test_import_graph.py). Every module here is private: scripts use the `recaug`
command, plugins the names of ``recaug_core.__all__``.
"""
