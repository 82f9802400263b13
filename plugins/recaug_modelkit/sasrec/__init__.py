"""SASRec (Kang & McAuley, ICDM 2018) as a library: the network (``model``), CSR item
sequences (``sequences``) and the training loop with early stopping (``training``).

The `sasrec` backend trains it on users' histories, with optional contrastive views; the
`seq` strategy's ``pseudo-prior`` mode trains it on reversed histories (ASReP).
"""
