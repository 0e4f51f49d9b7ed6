"""K = 0: with an empty support the meta-predictor predicts what zero-shot source transfer predicts (the transfer
prior with every source weighed alike), for one checkpoint, an ensemble and `predict`; no std; refused where the
checkpoint reads no source task or was trained on the named task."""

import numpy as np
import pandas as pd
import pytest

from surrogate_nas.benchmarks import TargetLeakError
from surrogate_nas.cli import main
from surrogate_nas.errors import DataError
from surrogate_nas.meta.adapt import MetaGNNPredictor
from surrogate_nas.meta.checkpoint import save_checkpoint
from surrogate_nas.meta.ensemble import MetaEnsemble
from surrogate_nas.predictors import make_predictor
from surrogate_nas.predictors.metrics import kendall_tau

TARGET = "ImageNet16-120"


@pytest.fixture(scope="module")
def query(nb201_table):
    return nb201_table.archs(TARGET, "test_acc")[:3000]


@pytest.fixture(scope="module")
def transfer(nb201_table, query):
    """source-transfer's prediction of the query (fitted on two cells it ignores)."""
    from surrogate_nas.predictors.inputs import SourceValues

    sources = SourceValues(nb201_table, ("cifar10", "cifar100"), "test_acc")
    a = nb201_table.archs(TARGET, "test_acc")[:2]
    p = make_predictor("source-transfer", space="nb201", sources=sources)
    return p.fit(a, nb201_table.vector(TARGET, "test_acc", a)).predict(query)


def test_an_empty_support_predicts_exactly_what_source_transfer_predicts(dkt, nb201_ckpt, nb201_table, query,
                                                                         transfer):
    one = MetaGNNPredictor(dkt, task=TARGET).fit([], [])
    assert one.zero_shot_ and np.array_equal(one.predict(query), transfer)
    both = MetaEnsemble([dkt, nb201_ckpt], task=TARGET).fit([], np.zeros(0))  # a GP head and a MAML member alike
    assert np.array_equal(both.predict(query), transfer)
    for call in (lambda: one.predict(query, return_std=True), lambda: one.predict_cov(query[:5]),
                 lambda: both.predict(query, return_std=True)):
        with pytest.raises(DataError, match="zero-shot fit .* has no std"):
            call()
    y = nb201_table.vector(TARGET, "test_acc", query)
    assert kendall_tau(y, transfer) > 0.8  # the real ImageNet16-120 values rank as the sources do


def test_a_fit_on_measurements_after_a_zero_shot_one_adapts_again(dkt, nb201_table, query, transfer):
    p = MetaGNNPredictor(dkt, task=TARGET).fit([], [])
    sup = nb201_table.archs(TARGET, "test_acc")[3000:3020]
    p.fit(sup, nb201_table.vector(TARGET, "test_acc", sup))
    assert not p.zero_shot_ and p.gp_ is not None
    mean, std = p.predict(query[:50], return_std=True)
    assert (std > 0).all() and not np.array_equal(mean, transfer[:50])


def test_zero_shot_is_refused_without_sources_or_for_a_task_the_checkpoint_read(nb201_table, dkt):
    from surrogate_nas.meta.maml import MetaConfig
    from surrogate_nas.meta.pretrain import pretrain
    from surrogate_nas.predictors.gnn import ModelConfig

    blind = pretrain(nb201_table, ["cifar10", "cifar100"], "test_acc", ModelConfig(hidden=8, layers=1),
                     MetaConfig(iterations=2, val_every=1, meta_batch=2), benchmark_name="nb201", progress=False,
                     use_sources=False)
    with pytest.raises(DataError, match="empty support .* this checkpoint reads none: measure at least 2"):
        MetaGNNPredictor(blind).fit([], [])
    with pytest.raises(TargetLeakError, match="cifar10"):
        MetaGNNPredictor(dkt, task="cifar10").fit([], [])
    with pytest.raises(DataError, match="1 architecture"):  # one measurement is neither zero-shot nor a support
        MetaGNNPredictor(dkt).fit(nb201_table.archs(TARGET, "test_acc")[:1], [50.0])


def test_predict_zero_shot_ranks_by_the_sources_and_an_empty_support_file_stays_refused(dkt, nb201_table, query, transfer, tmp_path,
                                                                   capsys):
    model = save_checkpoint(dkt, tmp_path / "model")
    fmt = nb201_table.space.format
    (tmp_path / "archs.txt").write_text("\n".join(fmt(a) for a in query[:200]) + "\n")
    argv = ["predict", "--model", str(model), "--task", TARGET, "--archs", str(tmp_path / "archs.txt"), "--out",
            str(tmp_path / "p.csv")]
    assert main(argv + ["--zero-shot"]) == 0
    assert "zero-shot" in capsys.readouterr().out
    got = pd.read_csv(tmp_path / "p.csv")
    assert got["std"].isna().all() and got["measured"].isna().all()
    by_arch = dict(zip(map(fmt, query[:200]), transfer[:200]))
    np.testing.assert_allclose(got["predicted"], [by_arch[a] for a in got["arch"]], rtol=1e-12)
    assert (np.diff(got["predicted"]) <= 0).all()  # best first
    pd.DataFrame({"arch": [], "value": []}).to_csv(tmp_path / "none.csv", index=False)
    for extra, fragment in (([], "give the measured architectures (--support FILE) or --zero-shot"),
                            (["--zero-shot", "--support", str(tmp_path / "none.csv")], "one of them"),
                            (["--support", str(tmp_path / "none.csv")], "no records (only a header)")):
        assert main(argv + extra) == 2
        assert fragment in capsys.readouterr().err
