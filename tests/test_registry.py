"""The name -> factory registry every component family uses."""

import pytest

from surrogate_nas.errors import SurrogateNASError
from surrogate_nas.registry import Registry


def test_register_get_factory_and_refusals():
    reg = Registry("widget", instance_type=dict)

    @reg.register("box")
    def box(size=1):
        return {"size": size}

    assert reg.names() == ["box"] and "box" in reg and "ball" not in reg
    assert reg.get("box", size=3) == {"size": 3}
    assert reg.factory("box") is box
    inst = {"size": 9}
    assert reg.get(inst) is inst  # an instance passes straight through
    with pytest.raises(SurrogateNASError, match=r"unknown widget 'ball'; choose one of box"):
        reg.get("ball")
    with pytest.raises(SurrogateNASError, match="unknown widget 'ball'"):
        reg.factory("ball")
    with pytest.raises(KeyError, match="already registered"):
        reg.register("box")(box)
