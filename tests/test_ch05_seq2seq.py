"""Chapter 5's exercise (ch05_seq2seq): the four graded reference functions against independent
computations (hand values, the Seq2Seq class's fused teacher-forced decoder), the hidden checks
called directly, and the visible self-checks run in-process. Torch single-threaded."""
import numpy as np
import pytest

from solutions import forecast as F

RTOL = 1e-10  # float64 comparisons


# ----------------------------------------------------------------------------- the references
def test_make_windows_by_hand():
    y = np.array([10.0, 11, 12, 13, 14, 15, 16])
    X, Y = F.make_windows(y, window=3, horizon=2, stop=6)  # starts 0, 1: 1 + 3 + 2 = 6
    np.testing.assert_array_equal(X, [[10, 11, 12], [11, 12, 13]])
    np.testing.assert_array_equal(Y, [[13, 14], [14, 15]])
    X, Y = F.make_windows(y, 3, 2)  # stop = len(y): one more window
    np.testing.assert_array_equal(Y[-1], [15, 16])
    X, Y = F.make_windows(y, 2, 1, stride=2)  # starts 0, 2, 4
    np.testing.assert_array_equal(X[:, 0], [10, 12, 14])
    X, Y = F.make_windows(y, 5, 3, stop=7)  # 5 + 3 > 7: no window at all
    assert X.shape == (0, 5) and Y.shape == (0, 3)
    poisoned = y.copy()
    poisoned[6:] = np.nan  # nothing at or after stop may be read
    assert np.all(np.isfinite(F.make_windows(poisoned, 3, 2, stop=6)[1]))


def test_mase_by_hand():
    x = np.array([1.0, 3.0, 2.0, 5.0, 4.0])  # m = 2: |2-1|, |5-3|, |4-2| -> 5/3
    y, f = np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 2.0])  # MAE 1
    assert F.mase(y, f, x, 2) == pytest.approx(3 / 5, rel=RTOL)
    assert F.mase(y, f, x, 1) == pytest.approx(4 / 7, rel=RTOL)  # naive scale (2+1+3+1)/4
    assert F.mase(np.stack([y, f]), np.stack([f, f]), x, 2) == pytest.approx([3 / 5, 0])


@pytest.fixture(scope="module")
def S(torch):
    from solutions import seq2seq
    return seq2seq


def _seq2seq(torch, S, hidden=5, layers=2, seed=0):
    torch.manual_seed(seed)
    model = S.Seq2Seq(hidden=hidden, layers=layers).double()
    with torch.no_grad():  # non-zero biases everywhere
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def test_decode_by_hand(torch, S):
    """step: pred = 2 prev + state, state counts steps; first = 1, h = 3."""
    def step(prev, state):
        return 2 * prev + state, state + 1
    first = torch.ones(1, 1, 1)
    free = S.decode(step, torch.zeros(1, 1, 1), first, 3)
    torch.testing.assert_close(free, torch.tensor([[2.0, 5.0, 12.0]]))  # 2*1+0, 2*2+1, 2*5+2
    y = torch.tensor([[10.0, 20.0, 30.0]])  # teacher forcing: inputs 1, 10, 20
    forced = S.decode(step, torch.zeros(1, 1, 1), first, 3, targets=y)
    torch.testing.assert_close(forced, torch.tensor([[2.0, 21.0, 42.0]]))


def test_decode_is_the_seq2seq_decoder_both_ways(torch, S):
    model = _seq2seq(torch, S)
    rng = np.random.default_rng(0)
    x, y = torch.tensor(rng.normal(size=(3, 6, 1))), torch.tensor(rng.normal(size=(3, 4)))
    first = x[:, -1:, :1]
    forced = S.decode(model.decode_step, model.encode(x), first, 4, targets=y)
    torch.testing.assert_close(forced, model.train_forward(x, y), rtol=RTOL, atol=1e-12)  # fused
    with torch.no_grad():
        free = S.decode(model.decode_step, model.encode(x), first, 4)
        state, prev, preds = model.encode(x), first, []
        for _ in range(4):  # the free-running loop written out
            out, state = model.decoder(prev, state)
            prev = model.head(out)
            preds.append(prev[:, 0, 0])
    torch.testing.assert_close(free, torch.stack(preds, dim=1), rtol=RTOL, atol=1e-12)
    torch.testing.assert_close(model(x, 4), free.detach(), rtol=RTOL, atol=1e-12)


def test_forecast_recursive_feeds_its_own_predictions_in_eval_mode(torch, S):
    torch.manual_seed(0)
    one = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(4, 1))
    one = one.double().train()
    x = torch.tensor([[[1.0], [2.0], [3.0], [4.0]]], dtype=torch.float64)
    w, b = one[2].weight[0].detach(), one[2].bias.detach()
    window, expected = [1.0, 2.0, 3.0, 4.0], []
    for _ in range(3):  # by hand, no dropout: each prediction enters the window
        p = float(torch.tensor(window, dtype=torch.float64) @ w + b)
        expected.append(p)
        window = window[1:] + [p]
    got = S.forecast_recursive(one, x, 3)
    torch.testing.assert_close(got, torch.tensor([expected], dtype=torch.float64))
    assert one.training and not got.requires_grad  # mode restored, no graph kept
