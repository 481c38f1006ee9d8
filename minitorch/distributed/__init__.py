"""``minitorch.distributed``: torch.distributed's process group and collectives, on MPI
(processes, CPU tensors) and NCCL (GPU tensors).

    # mpiexec -n 2 python train.py
    import minitorch.distributed as dist
    dist.init_process_group("mpi")
    x = minitorch.tensor([float(dist.get_rank())])
    dist.all_reduce(x)                      # every rank now holds 0 + 1

Needs the extra ``pip install 'minitorch[distributed]'`` (mpi4py and the MPICH wheel, which puts
``mpiexec`` beside python); this module imports without it and says so when used. See
docs/distributed.md.
"""
from .errors import DistBackendError, DistributedTimeoutError
from .reduce_op import ReduceOp
from .work import Work
from .process_group import (destroy_process_group, get_backend, get_rank, get_world_size, group,
                            init_process_group, is_available, is_initialized)
from .collectives import (all_gather, all_gather_into_tensor, all_reduce, barrier, broadcast,
                          reduce_scatter, reduce_scatter_tensor)

__all__ = ["init_process_group", "destroy_process_group", "is_available", "is_initialized",
           "get_rank", "get_world_size", "get_backend", "group", "ReduceOp", "Work",
           "all_reduce", "broadcast", "all_gather", "all_gather_into_tensor", "reduce_scatter",
           "reduce_scatter_tensor", "barrier", "DistBackendError", "DistributedTimeoutError"]
