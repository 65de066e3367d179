"""What the tests share, imported one way: `from tests.helpers.<module> import <name>`.

- `project`: the repository's root and configs composed as the stages see them, and file digests.
- `recordings`: recorder-like frames written by hand (triplet images, score files, stems).
- `commands`: a command in a fresh `python -m` process, and W&B kept offline inside a test's folder.
- `training`: tiny pair datasets, training configs, and the `trained_run` fixture (one short run per
  test process, copied into each test's folder).
- `curation`: a simulated recording and the review page's config and data.
- `html`: the hostile file names every page must survive, and the `browser` fixture.

`tests/conftest.py` registers the fixtures (`pytest_plugins`).
"""
