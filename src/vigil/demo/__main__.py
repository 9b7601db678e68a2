"""`python -m vigil.demo [--duration S] [--headless] [--day S] [--port N]`: the same as `vigil demo`."""

from __future__ import annotations

import argparse
import sys

from vigil.demo.run import run_demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vigil.demo", description=__doc__)
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--headless", action="store_true", help="no live view; a summary at the end")
    parser.add_argument("--day", type=float, default=600.0, help="seconds per simulated day of traffic")
    parser.add_argument("--port", type=int, default=None, help="vigil's API port (default: a free one)")
    args = parser.parse_args(argv)
    return run_demo(duration=args.duration, headless=args.headless, day_seconds=args.day, port=args.port)


if __name__ == "__main__":
    sys.exit(main())
