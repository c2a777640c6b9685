"""Audit notary (留痕公证): follows the audit chain outside the command service's Redis,
signs checkpoints of it and proves records against them. Its rules (the chain's links, the
Merkle tree, the signature) are the library's (``zhixing.anchor``, ``zhixing.merkle``),
shared with the verifier the CLI runs: it has no domain module of its own."""
