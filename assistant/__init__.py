"""A question-answering assistant over a corpus of documents, answering in verbatim, cited quotes."""
