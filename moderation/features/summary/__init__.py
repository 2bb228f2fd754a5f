"""The summary: the rapporteurs' narrative sections and the document built for States."""
