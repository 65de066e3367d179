"""Deprecated alias of `python -m obstacles.stages.src` (see _renamed.py)."""

from obstacles.stages._renamed import renamed

main = renamed("triage")

if __name__ == "__main__":
    main()
