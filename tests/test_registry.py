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


# ---------------------------------------------------------------------- plugins: entry points, imported on lookup
def _plugin_dist(root, entry_points: str, modules: dict[str, str]):
    """An installed distribution ``fakeplug 1.0`` in ``root`` (its dist-info and modules), for sys.path."""
    info = root / "fakeplug-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplug\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)
    for name, text in modules.items():
        (root / f"{name}.py").write_text(text)
    return root


MODULES = {
    "fakeplug_ok": "def make_gadget(size=1):\n    return {'gadget': size}\nVALUE = 3\n",
    "fakeplug_self": "from tests.test_registry import SELF_REG\n\n@SELF_REG.register('selfreg')\n"
                     "def make(size=2):\n    return {'self': size}\n\ndef other():\n    raise AssertionError\n",
    "fakeplug_raises": "raise RuntimeError('cannot start:\\nthe second line of a long message')\n",
}
ENTRY_POINTS = """[surrogate_nas.test_widgets]
gadget = fakeplug_ok:make_gadget
selfreg = fakeplug_self:other
missing = fakeplug_nowhere:make
raising = fakeplug_raises:make
value = fakeplug_ok:VALUE
box = fakeplug_ok:make_gadget
"""
SELF_REG: Registry = Registry("widget", entry_points="surrogate_nas.test_widgets")


def test_plugins_are_listed_and_imported_on_lookup_only(tmp_path, monkeypatch):
    import sys

    monkeypatch.syspath_prepend(str(_plugin_dist(tmp_path, ENTRY_POINTS, MODULES)))
    for m in MODULES:
        monkeypatch.delitem(sys.modules, m, raising=False)
    reg = Registry("widget", entry_points="surrogate_nas.test_widgets")
    reg.register("box")(lambda: "built-in")
    assert reg.names() == ["box", "gadget", "missing", "raising", "selfreg", "value"]
    assert "gadget" in reg and "nothing" not in reg and "fakeplug_ok" not in sys.modules  # listed, not imported
    assert reg.get("gadget", size=4) == {"gadget": 4} and "fakeplug_ok" in sys.modules
    assert reg.get("box") == "built-in"  # a registered name wins over a plugin of the same name
    with pytest.raises(SurrogateNASError, match=r"unknown widget 'nothing'; choose one of box, gadget, missing, "):
        reg.get("nothing")
    # a module that registers its own name on import (as the package's own train evaluator does) keeps it
    assert SELF_REG.get("selfreg") == {"self": 2}
    assert Registry("widget").names() == []  # no group, no plugins


@pytest.mark.parametrize("name, why", [
    ("missing", "failed to load: ModuleNotFoundError: No module named 'fakeplug_nowhere'"),
    ("raising", "failed to load: RuntimeError: cannot start:"),
    ("value", "is not a factory: int 3"),
])
def test_a_broken_plugin_is_one_line_naming_it(tmp_path, monkeypatch, name, why):
    monkeypatch.syspath_prepend(str(_plugin_dist(tmp_path, ENTRY_POINTS, MODULES)))
    reg = Registry("widget", entry_points="surrogate_nas.test_widgets")
    with pytest.raises(SurrogateNASError) as e:
        reg.get(name)
    value = [ln.split(" = ")[1] for ln in ENTRY_POINTS.splitlines() if ln.startswith(f"{name} = ")][0]
    assert str(e.value) == (f"widget plugin {name!r} (entry point {name} = {value} in group surrogate_nas.test_widgets "
                            f"of fakeplug 1.0) {why}")
    assert reg.names() == ["box", "gadget", "missing", "raising", "selfreg", "value"]  # the others still listed
