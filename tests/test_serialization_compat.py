"""``torch.serialization.safe_globals`` / ``add_safe_globals`` and ``load(weights_only=)``: the
same program runs with ``L = torch`` and ``L = minitorch`` and gives the same results.

minitorch never unpickles, so its allow-list changes nothing about loading; what is compared is
that a torch program using it runs unchanged: the loaded state dict, and what
``get_safe_globals()`` reports inside and after a ``safe_globals`` block.
"""
import numpy as np
import pytest
import torch

import minitorch


class Config:
    """A class a torch program would allow-list for weights_only loading."""


@pytest.mark.parametrize("weights_only", [True, False, None])
def test_safe_globals_program_runs_on_both_libraries(tmp_path, weights_only):
    results = {}
    for L in (torch, minitorch):
        L.manual_seed(0)
        model = L.nn.Linear(3, 2)
        path = tmp_path / f"{L.__name__}.pt"
        L.save(model.state_dict(), path)
        L.serialization.clear_safe_globals()
        L.serialization.add_safe_globals([Config])
        with L.serialization.safe_globals([L.nn.Linear]):
            inside = L.serialization.get_safe_globals()
            sd = L.load(path, map_location="cpu", weights_only=weights_only)
        after = L.serialization.get_safe_globals()
        L.serialization.clear_safe_globals()
        results[L.__name__] = (sd, inside, after, model)
    for name, (sd, _inside, _after, model) in results.items():
        assert list(sd) == ["weight", "bias"], name
        for key, value in sd.items():
            np.testing.assert_array_equal(np.asarray(value.detach()),
                                          np.asarray(model.state_dict()[key].detach()))
    t_inside, m_inside = results["torch"][1], results["minitorch"][1]
    assert Config in t_inside and torch.nn.Linear in t_inside
    assert Config in m_inside and minitorch.nn.Linear in m_inside
    assert results["torch"][2] == [Config] and results["minitorch"][2] == [Config]
    assert torch.serialization.get_safe_globals() == minitorch.serialization.get_safe_globals() \
        == []


def test_safe_globals_errors():
    with pytest.raises(TypeError, match="list of classes or functions.*got int"):
        minitorch.serialization.add_safe_globals(3)
    with pytest.raises(TypeError, match="got str"):
        minitorch.serialization.safe_globals("Config")
    with pytest.raises(TypeError, match="weights_only must be a bool"):
        minitorch.load("nowhere.pt", weights_only="yes")
