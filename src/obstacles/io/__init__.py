"""Reading and writing samples, recordings and stage outputs."""
