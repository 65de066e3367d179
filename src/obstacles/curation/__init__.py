"""Shared pieces of the curation tools (similar, audit, review, export): image loading,
embeddings with a content-hash cache and similarity maths (their pages: `obstacles.io.html`)."""
