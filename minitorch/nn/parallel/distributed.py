"""``DistributedDataParallel``: the same model on every rank, each rank on its own part of the
batch, gradients averaged so every rank takes the same optimizer step.

Why the average is the big-batch gradient. With the loss a mean over a batch B split into equal
parts B_0 .. B_{W-1} (|B_r| = |B| / W),

    ∇ (1/|B|) Σ_{i∈B} ℓ_i  =  (1/W) Σ_r ∇ (1/|B_r|) Σ_{i∈B_r} ℓ_i  =  (1/W) Σ_r g_r,

so all_reduce(AVG) of the per-rank gradients g_r gives each rank the gradient of the whole
batch, and identical weights stay identical after any optimizer's step (the optimizer sees the
same gradient on every rank; nothing else of its state depends on the data).

Buckets. The parameters are grouped, in reverse registration order (roughly the order in which
backward produces their gradients), into buckets of at most ``bucket_cap_mb`` MiB of one dtype
and device. Each parameter's AccumulateGrad node is replaced by one that, after adding the
gradient, marks the parameter ready; when a bucket's parameters are all ready its gradients are
copied into one flat buffer and a non-blocking all-reduce starts while backward goes on with the
earlier layers. Buckets start strictly in index order, so every rank issues the same collectives
in the same order. When the last bucket has started, backward's last AccumulateGrad waits for all
of them and writes the averages back into ``.grad``: when ``loss.backward()`` returns, the
gradients are synchronised.

``no_sync()``: backward inside it accumulates local gradients only; the first backward after it
averages the accumulated sums (gradient accumulation without a collective per micro-batch).
"""
from __future__ import annotations

import contextlib

from ... import distributed as dist  # also makes minitorch.distributed an attribute, as in torch
from ...autograd import AccumulateGrad, is_grad_enabled, topological_order
from ...backend import array_module
from ..modules.module import Module


class _SyncingAccumulateGrad(AccumulateGrad):
    """A parameter's AccumulateGrad that tells its DDP wrapper when the gradient is in."""

    def __init__(self, variable, reducer, index: int):
        super().__init__(variable)
        self.reducer, self.index = reducer, index

    def accumulate(self, grad, owned: bool = False):
        super().accumulate(grad, owned)
        self.reducer.mark_ready(self.index)


class _Bucket:
    def __init__(self, indices, dtype):
        self.indices, self.dtype = indices, dtype
        self.pending = set(indices)
        self.flat = None
        self.work = None


class _Reducer:
    """The bucketed gradient averaging of one DDP module."""

    def __init__(self, params, names, backend, bucket_cap_bytes: int):
        self.params, self.names, self.backend = params, names, backend
        self.buckets, self.bucket_of = [], {}
        current, size, key = [], 0, None
        for i in reversed(range(len(params))):
            p = params[i]
            p_key = (p._data.dtype, str(p.device))
            nbytes = p._data.nbytes
            if current and (p_key != key or size + nbytes > bucket_cap_bytes):
                self.buckets.append(_Bucket(current, key[0]))
                current, size = [], 0
            current.append(i)
            size, key = size + nbytes, p_key
        if current:
            self.buckets.append(_Bucket(current, key[0]))
        for b, bucket in enumerate(self.buckets):
            for i in bucket.indices:
                self.bucket_of[i] = b
        self.active = False           # a synchronising backward is expected
        self.next_bucket = 0

    def prepare(self, unused=()) -> None:
        """Start an iteration: every parameter pending, except ``unused`` (ready at once, with
        a zero gradient: find_unused_parameters)."""
        for bucket in self.buckets:
            bucket.pending, bucket.flat, bucket.work = set(bucket.indices), None, None
        self.next_bucket, self.active = 0, True
        for i in unused:
            self.mark_ready(i)

    def started(self) -> bool:
        """True when some, but not all, parameters of the current iteration are ready."""
        touched = any(len(b.pending) < len(b.indices) for b in self.buckets)
        return self.active and touched

    def not_ready(self) -> list:
        return [self.names[i] for b in self.buckets for i in sorted(b.pending)]

    def mark_ready(self, index: int) -> None:
        if not self.active:
            return
        bucket = self.buckets[self.bucket_of[index]]
        bucket.pending.discard(index)
        while self.next_bucket < len(self.buckets) and not self.buckets[self.next_bucket].pending:
            self._launch(self.buckets[self.next_bucket])
            self.next_bucket += 1
        for b in self.buckets[:self.next_bucket]:
            b.work.is_completed()     # MPI progresses a non-blocking collective when tested
        if self.next_bucket == len(self.buckets):
            self._finish()

    def _launch(self, bucket: _Bucket) -> None:
        grads = []
        for i in bucket.indices:
            p = self.params[i]
            xp = array_module(p._data)
            grads.append(xp.zeros(p._data.size, p._data.dtype) if p.grad is None
                         else p.grad._data.reshape(-1))
        bucket.flat = array_module(*grads).concatenate(grads)
        bucket.work = self.backend.all_reduce(bucket.flat, dist.ReduceOp.AVG)

    def _finish(self) -> None:
        self.active = False
        for bucket in self.buckets:
            bucket.work.wait()
            offset = 0
            for i in bucket.indices:
                p = self.params[i]
                n = p._data.size
                average = bucket.flat[offset:offset + n].reshape(p._data.shape)
                offset += n
                if p.grad is None:
                    p.grad = p._wrap(average.copy())
                else:
                    p.grad._data[...] = average
            bucket.flat, bucket.work = None, None


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training on the default process group.

    At construction rank 0's parameters and buffers are broadcast to every rank. In training,
    ``forward`` runs the module on this rank's inputs; the following ``backward`` averages the
    gradients over the ranks (module docstring). ``broadcast_buffers``: rank 0's buffers (e.g.
    BatchNorm's running statistics) are broadcast at every training forward, as torch does.
    ``find_unused_parameters``: parameters the forward did not use are averaged with a zero
    gradient from this rank (otherwise such a parameter stops the next forward with an error).
    ``device_ids``/``output_device``/``dim`` are accepted for torch compatibility and ignored
    (one device per process).
    """

    def __init__(self, module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, process_group=None, bucket_cap_mb: float = 25,
                 find_unused_parameters: bool = False, gradient_as_bucket_view: bool = False,
                 static_graph: bool = False):
        super().__init__()
        if process_group is not None:
            raise ValueError("DistributedDataParallel: only the default process group is "
                             "supported (process_group=None)")
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got "
                             f"{bucket_cap_mb}")
        self.module = module
        backend = dist.process_group.default_group().backend
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._backend = backend
        self._sync_params_and_buffers(include_params=True)
        self._reducer = _Reducer([p for _, p in named], [n for n, _ in named], backend,
                                 int(bucket_cap_mb * 2**20))
        self._install_hooks()

    @property
    def bucket_sizes(self) -> list:
        """Elements per gradient bucket, in the order they are reduced."""
        return [sum(self._reducer.params[i]._data.size for i in b.indices)
                for b in self._reducer.buckets]

    def _install_hooks(self) -> None:
        for index, p in enumerate(self._reducer.params):
            node = p._accumulator
            if not (isinstance(node, _SyncingAccumulateGrad) and node.reducer is self._reducer):
                p._accumulator = _SyncingAccumulateGrad(p, self._reducer, index)

    def _sync_params_and_buffers(self, include_params: bool) -> None:
        """Broadcast rank 0's parameters (with ``include_params``) and buffers, one flat message
        per dtype and device."""
        tensors = list(self.module.parameters()) if include_params else []
        tensors += [b for b in self.module.buffers() if b is not None]
        groups = {}
        for t in tensors:
            groups.setdefault((t._data.dtype, str(t.device)), []).append(t)
        for group in groups.values():
            xp = array_module(group[0]._data)
            flat = xp.concatenate([t._data.reshape(-1) for t in group])
            self._backend.broadcast(flat, 0).wait()
            offset = 0
            for t in group:
                n = t._data.size
                t._data[...] = flat[offset:offset + n].reshape(t._data.shape)
                offset += n

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside accumulate local gradients without averaging them."""
        previous, self.require_backward_grad_sync = self.require_backward_grad_sync, False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def forward(self, *inputs, **kwargs):
        reducer = self._reducer
        if reducer.started():
            raise RuntimeError(
                f"DistributedDataParallel: the previous backward produced no gradient for "
                f"{', '.join(reducer.not_ready())}; if the forward does not use them, pass "
                f"find_unused_parameters=True")
        reducer.active = False
        syncing = self.training and is_grad_enabled() and self.require_backward_grad_sync
        if self.training and self.broadcast_buffers and self._backend.world_size > 1:
            self._sync_params_and_buffers(include_params=False)
        if syncing:  # before the forward: its graph records the parameters' nodes
            self._install_hooks()
        output = self.module(*inputs, **kwargs)
        if syncing:
            unused = self._unused(output) if self.find_unused_parameters else ()
            reducer.prepare(unused)
        return output

    def _unused(self, output) -> list:
        """Indices of the parameters the autograd graph of ``output`` does not reach."""
        outputs = output if isinstance(output, (tuple, list)) else \
            list(output.values()) if isinstance(output, dict) else [output]
        reached = set()
        for out in outputs:
            if getattr(out, "requires_grad", False):
                reached.update(id(node) for node in topological_order(out._graph_node()))
        return [i for i, p in enumerate(self._reducer.params) if id(p._accumulator) not in reached]
