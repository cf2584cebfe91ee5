"""A question-answering assistant over one article, answering in verbatim, cited quotes."""
