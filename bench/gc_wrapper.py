"""Run a server script under a traced (and optionally changed) garbage
collection policy: an experiment of ``bench/broadcast.py --gc-trace`` and
``--gc-threshold``, not part of the product.

    python bench/gc_wrapper.py [--threshold 50000,20,20] run.py --port 5000 ...

Every full collection (generation 2), and any collection longer than 50 ms, is
written to stderr as ``GC gen<g> <ms> ms collected=<n> tracked=<n> at=<epoch s>``
(the server's log in the benchmark). Nothing is imported before the script
but ``gc``, ``runpy``, ``sys`` and ``time``, so that the script can still
monkey-patch first.
"""
import gc
import runpy
import sys
import time

SLOW = 0.05
_started = [0.0]


def _trace(phase, info):
    if phase == "start":
        _started[0] = time.perf_counter()
        return
    took = time.perf_counter() - _started[0]
    generation = info["generation"]
    if generation == 2 or took > SLOW:
        tracked = len(gc.get_objects()) if generation == 2 else -1
        print(f"GC gen{generation} {took * 1000:.0f} ms collected={info['collected']} tracked={tracked} "
              f"at={time.time():.3f}", file=sys.stderr, flush=True)


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--threshold"]:
        gc.set_threshold(*(int(part) for part in args[1].split(",")))
        args = args[2:]
    if not args:
        sys.exit("usage: gc_wrapper.py [--threshold A,B,C] SCRIPT [ARGS...]")
    gc.callbacks.append(_trace)
    sys.argv = args
    runpy.run_path(args[0], run_name="__main__")


if __name__ == "__main__":
    main()
