"""``python -m bench`` (``make bench``): the same as ``kintsugi bench``; see bench/_suite.py."""

from bench._suite import main

if __name__ == "__main__":
    raise SystemExit(main())
