"""Models every stage that generates uses: loading a causal LM with its adapter (``loader``, used by the
answer backends and by training) and the one definition of backend / model / adapter / generation options
(``options``, used by ``ask``, ``chat``, ``api``, ``serve`` and ``eval qa``)."""
