"""Training data: continued-pretraining documents and packing (``cpt``), SFT formats (``formats``), the
dataset registry and weighted mixing (``registry``), prompt masking (``masking``) and SFT examples
generated from the article store (``generate``)."""
