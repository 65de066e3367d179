"""Deprecated alias of `python -m obstacles.stages.no_mask_train` (see _renamed.py)."""

from obstacles.stages._renamed import renamed

main = renamed("unmask")

if __name__ == "__main__":
    main()
