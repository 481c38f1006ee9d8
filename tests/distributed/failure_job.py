"""Run under ``mpiexec -n 2``: rank 1 fails in the way argv[1] names while rank 0 waits in an
all_reduce; the job must end, with a clear error, without hanging.

raise: rank 1 raises (its excepthook ends the job); die: rank 1 is killed by SIGKILL (the
launcher ends the job); hang: rank 1 sleeps instead of joining the collective (rank 0's all_reduce
times out after argv[2] seconds and ends the job)."""
from __future__ import annotations

import datetime
import os
import signal
import sys
import time


def main(mode: str, timeout_s: float) -> None:
    import minitorch as mt
    import minitorch.distributed as dist
    dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=timeout_s))
    if dist.get_rank() == 1:
        if mode == "raise":
            raise ValueError("rank 1 fails on purpose")
        if mode == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "hang":
            time.sleep(60)
    dist.all_reduce(mt.ones(3, dtype=mt.float64))
    print(f"rank {dist.get_rank()}: the all_reduce completed (it should not have)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
