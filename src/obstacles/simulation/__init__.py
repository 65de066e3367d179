"""A deterministic stand-in for a site's recorder: scenes, obstacles, capture, scores, review.

`recorder` writes whole sites (recordings plus label file); `rendering` draws and writes one burst.
Every random draw comes from a generator seeded by (seed, site, purpose, burst, frame), so a
burst renders the same bytes whichever process renders it and in whatever order.
"""
