"""The garbage collector's settings for a service that allocates at a high rate.

CPython starts a young-generation collection every 700 net container allocations and
walks the survivors again in the older generations; at ingest's rates (a list, a tuple
and a record object per message, hundreds of thousands per second) that is thousands of
collections a second, each also visiting the long-lived heap every few rounds (hundreds
of thousands of objects from pyarrow, pandas and pydantic imports). Almost all of a
message's objects are freed by reference counting; the collector only needs to find
cycles, which ingest hardly makes.

Measured on ``bench.ingest_bench`` (200,000 records, no views, records per CPU-second):
Python's defaults 178-196k, the startup heap frozen 216k, frozen and collected every
50,000 allocations 242-247k.
"""

from __future__ import annotations

import gc


def tune_gc_for_throughput(gen0_threshold: int) -> None:
    """Freeze the heap built so far and collect the young generation less often.

    Call it once start-up is done (imports, settings, clients): :func:`gc.freeze` moves
    every object alive now out of the collector's sight, so later collections only walk
    what the service allocated since. ``gen0_threshold`` replaces the 700 allocations
    between young collections (the older generations follow every 50th and 100th of
    those); 0 or less leaves the collector as it is.
    """
    if gen0_threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(gen0_threshold, 50, 100)
