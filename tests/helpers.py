"""Small helpers shared by test files (not strategies, not fixtures)."""
import tracemalloc


def peak_bytes(fn) -> int:
    """Peak bytes Python allocated (tracemalloc) while ``fn()`` ran: proves a reader refused a
    huge claim without allocating it."""
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak
