"""Shared pieces of the curation tools (similar, audit, review, export): image loading,
embeddings with a content-hash cache, similarity maths and static HTML pages."""
