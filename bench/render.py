"""``python -m bench.render RESULTS.json``: one suite run's summary as a Markdown table.

The results table in docs/benchmarks.md is pasted from this output, so every figure in it
comes from the same run (the JSON that ``kintsugi bench --json`` wrote).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench._suite import markdown_summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", help="a JSON file written by `kintsugi bench --json`")
    args = parser.parse_args(argv)
    try:
        report = json.loads(Path(args.results).read_text())
        text = markdown_summary(report)
    except (OSError, ValueError, KeyError) as exc:
        print(f"bench.render: {args.results}: not a kintsugi bench result ({exc})",
              file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
