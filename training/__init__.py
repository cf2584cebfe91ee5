"""Training scripts and their data: the reader (``python -m training.reader``, ``make reader``)
and the learned intent rail (``python -m training.intents``, ``make intents``). Nothing here is
imported at run time; the runtime package ``assistant`` only loads what these scripts write to
``models/``."""
