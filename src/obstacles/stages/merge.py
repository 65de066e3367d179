"""Deprecated alias of `python -m obstacles.stages.balanced` (see _renamed.py)."""

from obstacles.stages._renamed import renamed

main = renamed("merge")

if __name__ == "__main__":
    main()
