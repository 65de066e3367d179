"""The curation tools' library (the commands `similar`, `audit`, `review` are thin entry points
over it, and a notebook can call it directly): `search` (similarity search), `audit`, `review`
(the review page), and their shared pieces: image loading, embeddings (built from
conf/embedder/) with a content-hash cache, and similarity maths. Their pages: `obstacles.io.html`."""
