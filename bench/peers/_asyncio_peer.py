# Shared by the asyncio/uvloop peers (imported, never run by bench/run: its
# name matches no workload): the common command line and the event loop.
import argparse
import asyncio
import sys


def parse_args(default_n):
    """--impl asyncio|uvloop and an optional positive N; returns (impl, n)."""
    p = argparse.ArgumentParser()
    p.add_argument("--impl", choices=("asyncio", "uvloop"), default="asyncio")
    p.add_argument("n", nargs="?", type=int, default=default_n)
    a = p.parse_args()
    if a.n <= 0:
        p.error("N must be positive")
    return a.impl, a.n


def new_loop(impl):
    """A new event loop of the given kind; exits 77 (skip) without uvloop."""
    if impl == "uvloop":
        try:
            import uvloop
        except ImportError:
            print("# skip: uvloop is not installed for " + sys.executable, file=sys.stderr)
            sys.exit(77)
        return uvloop.new_event_loop()
    return asyncio.new_event_loop()
