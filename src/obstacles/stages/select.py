"""Deprecated alias of `python -m obstacles.stages.mask_train` (see _renamed.py)."""

from obstacles.stages._renamed import renamed

main = renamed("select")

if __name__ == "__main__":
    main()
