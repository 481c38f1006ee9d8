"""``minitorch.utils.data`` against ``torch.utils.data``.

Deterministic semantics are compared with torch directly: batch shapes, dtypes and values of an
unshuffled DataLoader, ``len(loader)`` with and without ``drop_last``, what ``default_collate`` /
``default_convert`` make of every kind of sample, ``random_split``'s sizes from fractions, the
errors for bad arguments. Shuffling cannot match torch's numbers (NumPy draws them), so it is
tested for what it promises: each epoch is a permutation, a seeded generator (or
``minitorch.manual_seed``) repeats the order, and successive epochs differ.
"""
import collections
import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tud
from hypothesis import given
from hypothesis import strategies as st

import minitorch
import minitorch.utils.data as mud
from minitorch.utils.data import DataLoader, TensorDataset, random_split


def same(m, t, path="batch"):
    """Recursively: same container types and keys, tensors of the same dtype, shape and values."""
    if isinstance(t, torch.Tensor):
        assert isinstance(m, minitorch.Tensor), f"{path}: {type(m).__name__}, torch has a Tensor"
        assert m.dtype.name == str(t.dtype).split(".")[-1], f"{path}: {m.dtype} != {t.dtype}"
        assert tuple(m.shape) == tuple(t.shape), f"{path}: {tuple(m.shape)} != {tuple(t.shape)}"
        np.testing.assert_array_equal(np.asarray(m), t.numpy(), err_msg=path)
    elif isinstance(t, dict):
        assert type(m) is type(t) and list(m) == list(t), f"{path}: {m!r} vs {t!r}"
        for k in t:
            same(m[k], t[k], f"{path}[{k!r}]")
    elif isinstance(t, (list, tuple)):
        assert type(m) is type(t) and len(m) == len(t), f"{path}: {type(m)} vs {type(t)}"
        for i, (a, b) in enumerate(zip(m, t)):
            same(a, b, f"{path}[{i}]")
    else:
        assert type(m) is type(t) and m == t, f"{path}: {m!r} vs {t!r}"


def both(make):
    """``make(L)`` for L = minitorch's and torch's data modules (the same lambda for both)."""
    return make(mud), make(tud)


# ---- DataLoader over TensorDataset ------------------------------------------------------------
@given(n=st.integers(1, 23), batch_size=st.integers(1, 9), drop_last=st.booleans(),
       feat=st.lists(st.integers(1, 3), max_size=2))
def test_loader_batches_match_torch(n, batch_size, drop_last, feat):
    x = np.random.default_rng(n).standard_normal((n, *feat)).astype(np.float32)
    y = np.arange(n) % 3
    m_dl = DataLoader(TensorDataset(minitorch.tensor(x), minitorch.tensor(y)),
                      batch_size=batch_size, drop_last=drop_last)
    t_dl = tud.DataLoader(tud.TensorDataset(torch.tensor(x), torch.tensor(y)),
                          batch_size=batch_size, drop_last=drop_last)
    assert len(m_dl) == len(t_dl)
    m_batches, t_batches = list(m_dl), list(t_dl)
    assert len(m_batches) == len(t_batches) == len(m_dl)
    for mb, tb in zip(m_batches, t_batches):
        same(mb, tb)


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("n,bs", [(10, 3), (9, 3), (1, 5), (0, 2), (17, 1)])
def test_len_and_drop_last_match_torch(n, bs, drop_last):
    m, t = both(lambda L: L.DataLoader(list(range(n)), batch_size=bs, drop_last=drop_last))
    assert len(m) == len(t) == len(list(m)) == len(list(t))
    sizes = [len(b) for b in m]
    assert sizes == [len(b) for b in t]
    if drop_last:
        assert all(s == bs for s in sizes)
    else:
        assert sum(sizes) == n


def test_batch_size_none_converts_samples_like_torch():
    data = [np.arange(3, dtype=np.int32) + i for i in range(4)]
    m, t = both(lambda L: L.DataLoader(data, batch_size=None))
    assert len(m) == len(t) == 4
    for a, b in zip(m, t):
        same(a, b)
    m, t = both(lambda L: L.DataLoader(range(5), batch_size=None))
    assert list(m) == list(t) == [0, 1, 2, 3, 4]


def test_dict_samples_through_the_loader_match_torch():
    class DictSet(tud.Dataset):  # plain map-style: both loaders only need __getitem__/__len__
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": np.full((2, 2), i, np.float32), "y": i, "w": float(i) / 2, "name": f"s{i}"}

    m, t = both(lambda L: L.DataLoader(DictSet(), batch_size=2))
    for a, b in zip(m, t, strict=True):
        same(a, b)


# ---- collate -----------------------------------------------------------------------------------
Point = collections.namedtuple("Point", "x y")

COLLATE_CASES = {
    "python ints -> int64": [1, 2, 3],
    "python floats -> float64": [1.5, 2.0],
    "python bools": [True, False],
    "numpy float32 arrays": [np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)],
    "numpy float64 arrays": [np.ones(2), np.zeros(2)],
    "numpy uint8 arrays": [np.arange(4, dtype=np.uint8)] * 3,
    "numpy int32 arrays": [np.arange(4, dtype=np.int32)] * 2,
    "numpy bool arrays": [np.array([True, False])] * 2,
    "numpy float32 scalars": [np.float32(1), np.float32(2.5)],
    "numpy int64 scalars": [np.int64(3), np.int64(4)],
    "strings": ["a", "bc"],
    "tuples -> list": [(1, 2.0), (3, 4.0)],
    "lists": [[1, 2], [3, 4]],
    "dicts": [{"a": 1, "b": np.zeros(2, np.uint8)}, {"a": 2, "b": np.ones(2, np.uint8)}],
    "namedtuples": [Point(1, 2.0), Point(3, 4.0)],
    "nested": [({"k": (np.ones(2, np.float32), 1)}, "s"),
               ({"k": (np.zeros(2, np.float32), 2)}, "t")],
}


@pytest.mark.parametrize("case", list(COLLATE_CASES))
def test_default_collate_matches_torch(case):
    batch = COLLATE_CASES[case]
    same(mud.default_collate(batch), tud.default_collate(batch))


def test_default_collate_stacks_tensors():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 3)) for _ in range(4)]
    same(mud.default_collate([minitorch.tensor(a) for a in arrays]),
         tud.default_collate([torch.tensor(a) for a in arrays]))
    same(mud.default_collate([(minitorch.tensor(a), 1) for a in arrays]),
         tud.default_collate([(torch.tensor(a), 1) for a in arrays]))


@pytest.mark.parametrize("case", list(COLLATE_CASES))
def test_default_convert_matches_torch(case):
    sample = COLLATE_CASES[case][0]
    same(mud.default_convert(sample), tud.default_convert(sample))


@pytest.mark.parametrize("batch,err", [
    ([(1, 2), (3,)], RuntimeError),                    # ragged sequences
    ([object(), object()], TypeError),                 # unknown type
    ([np.array(["a"]), np.array(["b"])], TypeError),   # numpy strings
])
def test_default_collate_errors_match_torch(batch, err):
    with pytest.raises(err) as t_exc:
        tud.default_collate(batch)
    with pytest.raises(err) as m_exc:
        mud.default_collate(batch)
    assert str(m_exc.value).startswith(str(t_exc.value).split(" (")[0][:40])


def test_collate_of_tensors_with_different_shapes_names_them():
    with pytest.raises(RuntimeError, match=r"\(2, ?3\) at entry 0 and \(3, ?3\) at entry 1"):
        mud.default_collate([minitorch.zeros(2, 3), minitorch.zeros(3, 3)])


# ---- shuffling ---------------------------------------------------------------------------------
def order(loader):
    return [int(v) for batch in loader for v in batch]


@given(n=st.integers(2, 40), batch_size=st.integers(1, 7), seed=st.integers(0, 2**31))
def test_seeded_shuffle_is_a_reproducible_permutation(n, batch_size, seed):
    def make():
        g = minitorch.Generator().manual_seed(seed)
        return DataLoader(list(range(n)), batch_size=batch_size, shuffle=True, generator=g)

    a, b = make(), make()
    first = order(a)
    assert sorted(first) == list(range(n))
    assert order(b) == first                        # same seed, same first epoch
    second = order(a)
    assert sorted(second) == list(range(n))
    assert order(b) == second                       # the generator carries on across epochs


def test_shuffle_epochs_differ_and_global_seed_repeats_them():
    n = 60  # two equal epochs would happen with probability 1/60!
    loader = DataLoader(list(range(n)), batch_size=8, shuffle=True)
    minitorch.manual_seed(123)
    e1, e2 = order(loader), order(loader)
    assert sorted(e1) == sorted(e2) == list(range(n))
    assert e1 != e2 and e1 != list(range(n))
    minitorch.manual_seed(123)
    assert order(loader) == e1 and order(loader) == e2


def test_unshuffled_loader_keeps_order():
    assert order(DataLoader(list(range(11)), batch_size=4)) == list(range(11))


def test_random_sampler_with_replacement_and_num_samples():
    g = minitorch.Generator().manual_seed(0)
    s = mud.RandomSampler(range(5), replacement=True, num_samples=50, generator=g)
    draws = list(s)
    assert len(s) == len(draws) == 50 and set(draws) <= set(range(5))
    s = mud.RandomSampler(range(4), num_samples=10, generator=g)  # permutations chained
    draws = list(s)
    assert len(draws) == 10 and sorted(draws[:4]) == sorted(draws[4:8]) == [0, 1, 2, 3]
    sub = list(mud.SubsetRandomSampler([10, 20, 30], generator=g))
    assert sorted(sub) == [10, 20, 30]


@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_sampler_matches_torch(drop_last):
    m, t = both(lambda L: L.BatchSampler(L.SequentialSampler(range(10)), 4, drop_last))
    assert list(m) == list(t) and len(m) == len(t)
    loader_m = DataLoader(list(range(10)), batch_sampler=m)
    assert len(loader_m) == len(t) and [b.tolist() for b in loader_m] == list(t)


# ---- random_split, Subset, ConcatDataset --------------------------------------------------------
@given(n=st.integers(0, 60), weights=st.lists(st.integers(1, 9), min_size=1, max_size=5))
def test_random_split_fraction_sizes_match_torch(n, weights):
    fractions = [w / sum(weights) for w in weights]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empty splits warn in both libraries
        try:
            t_sizes = [len(s) for s in tud.random_split(range(n), fractions)]
        except ValueError:
            with pytest.raises(ValueError):
                random_split(range(n), fractions)
            return
        splits = random_split(range(n), fractions, generator=minitorch.Generator().manual_seed(1))
    assert [len(s) for s in splits] == t_sizes
    members = [i for s in splits for i in s]
    assert sorted(members) == list(range(n))      # disjoint and covering


def test_random_split_lengths_generator_and_errors():
    split = lambda: [list(s) for s in random_split(range(10), [3, 7],
                                                   generator=minitorch.Generator().manual_seed(4))]
    a = split()
    assert a == split() and [len(s) for s in a] == [3, 7]
    assert sorted(a[0] + a[1]) == list(range(10))
    minitorch.manual_seed(0)
    g1 = [list(s) for s in random_split(range(10), [5, 5])]
    minitorch.manual_seed(0)
    assert [list(s) for s in random_split(range(10), [5, 5])] == g1
    for lengths in ([3, 3], [0.5, 0.6], [-0.5, 1.5]):
        with pytest.raises(ValueError):
            tud.random_split(range(10), lengths)
        with pytest.raises(ValueError, match="Sum of input lengths|Fraction at index 0"):
            random_split(range(10), lengths)
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(range(1), [0.5, 0.5])


def test_subset_and_concat_match_torch():
    data = list(range(100, 110))
    m, t = both(lambda L: L.Subset(data, [4, 0, 7]))
    assert len(m) == len(t) == 3 and [m[i] for i in range(3)] == [t[i] for i in range(3)]
    m, t = both(lambda L: L.ConcatDataset([L.Subset(data, [1, 2]), L.Subset(data, [5, 6, 7])]))
    assert len(m) == len(t) == 5
    assert [m[i] for i in range(-5, 5)] == [t[i] for i in range(-5, 5)]
    with pytest.raises(IndexError):
        m[5]
    ds = TensorDataset(minitorch.arange(3)) + TensorDataset(minitorch.arange(3, 5))
    assert isinstance(ds, mud.ConcatDataset)
    assert [int(ds[i][0]) for i in range(5)] == [0, 1, 2, 3, 4]


def test_tensor_dataset_checks_first_dims():
    with pytest.raises(ValueError, match=r"Size mismatch.*\[3, 4\].*\(3, 2\), \(4,\)"):
        TensorDataset(minitorch.zeros(3, 2), minitorch.zeros(4))
    with pytest.raises(TypeError, match="argument 1 is a ndarray"):
        TensorDataset(minitorch.zeros(3), np.zeros(3))
    x, y = TensorDataset(minitorch.zeros(3, 2), minitorch.arange(3))[1]
    assert tuple(x.shape) == (2,) and int(y) == 1


# ---- iterable datasets -------------------------------------------------------------------------
def make_stream(L):
    """A seven-element IterableDataset of L (minitorch's or torch's utils.data)."""
    class Stream(L.IterableDataset):
        def __iter__(self):
            return iter([np.float32(i) for i in range(7)])

        def __len__(self):
            return 7
    return Stream()


@pytest.mark.parametrize("drop_last", [False, True])
def test_iterable_dataset_batches_like_torch(drop_last):
    m, t = both(lambda L: L.DataLoader(make_stream(L), batch_size=3, drop_last=drop_last))
    assert len(m) == len(t)
    for a, b in zip(m, t, strict=True):
        same(a, b)


def test_iterable_dataset_refuses_shuffle_like_torch():
    for L in (mud, tud):
        with pytest.raises(ValueError, match="expected unspecified shuffle option"):
            L.DataLoader(make_stream(L), shuffle=True)


# ---- argument errors ---------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,err,match", [
    (dict(batch_size=0), ValueError, "batch_size should be a positive integer"),
    (dict(batch_size=2, drop_last=1), ValueError, "drop_last should be a boolean"),
    (dict(num_workers=-1), ValueError, "num_workers option should be"),
    (dict(sampler=[0, 1], shuffle=True), ValueError, "mutually exclusive with shuffle"),
    (dict(batch_sampler=[[0]], batch_size=2), ValueError, "batch_sampler option is mutually"),
    (dict(batch_size=None, drop_last=True), ValueError, "batch_size=None option disables"),
    (dict(persistent_workers=True), ValueError, "persistent_workers option needs"),
])
def test_loader_argument_errors_match_torch(kwargs, err, match):
    with pytest.raises(err, match=match):
        tud.DataLoader(list(range(4)), **kwargs)
    with pytest.raises(err, match=match):
        DataLoader(list(range(4)), **kwargs)


def test_num_workers_loads_in_worker_processes():
    """Worker processes give num_workers=0's batches (more in test_dataloader_workers.py)."""
    assert order(DataLoader(list(range(4)), num_workers=2)) == [0, 1, 2, 3]
    assert order(DataLoader(list(range(4)), num_workers=0)) == [0, 1, 2, 3]


def test_sampler_argument_errors():
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        mud.RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        mud.RandomSampler(range(3), replacement=1)
