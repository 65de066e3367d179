"""Training plumbing: weighting modes, DDP-safe sampler, run folders, callbacks, tracking."""
