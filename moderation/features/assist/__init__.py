"""The rapporteur's assistant: possible duplicates, theme suggestions and
themes found from scratch, computed on this machine.

``similarity`` holds the backends (TF-IDF built in, all-MiniLM-L6-v2
embeddings with the ``embeddings`` extra) and ``analysis`` what is computed
from their vectors; ``bench/assist.py`` measures both on the labelled set in
``bench/assist_data``. The commands, reads and pages that put them in the
rapporteur's hands are not registered yet (the package is not in
``FEATURES``)."""
