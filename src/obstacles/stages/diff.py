"""Deprecated alias of `python -m obstacles.stages.diff_metrics` (see _renamed.py)."""

from obstacles.stages._renamed import renamed

main = renamed("diff")

if __name__ == "__main__":
    main()
