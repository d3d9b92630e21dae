"""Data every stage reads: labelled rows and their formats (``datasets``), gold-article keys (``gold``) and
conversation histories (``history``). Depends only on ``assistant.corpus``, so search, answer, train and
eval may all import it."""
