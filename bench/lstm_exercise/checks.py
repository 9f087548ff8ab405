"""Hidden checks of the benchmark's LSTM exercise, against torch.nn.LSTMCell and nn.LSTM."""
import numpy as np

from autograder.checking import check_function


def _case(seed, N=3, T=5, D=3, H=4):
    import torch

    rng = np.random.default_rng(seed)
    state = {"weight_ih": rng.normal(size=(4 * H, D)), "weight_hh": rng.normal(size=(4 * H, H)) / H,
             "bias_ih": rng.normal(size=4 * H), "bias_hh": rng.normal(size=4 * H)}
    tensors = lambda *shape: torch.from_numpy(rng.normal(size=shape))
    return ({k: torch.from_numpy(v) for k, v in state.items()}, tensors(N, T, D), tensors(N, H), tensors(N, H))


def _torch_module(cls, state, D, H):
    import torch

    module = cls(D, H).double()
    with torch.no_grad():
        for name, value in state.items():
            getattr(module, name if cls is torch.nn.LSTMCell else name + "_l0").copy_(value)
    return module


def _student_cell(student, state, D, H):
    cell = student.LSTMCell(D, H)
    cell.call("double")
    cell.call("load_state_dict", state)
    return cell


def test_lstm_cell(student):
    """Part 1: an LSTM cell"""
    import torch

    for seed in range(2):
        state, x, h0, c0 = _case(seed)
        expected = _torch_module(torch.nn.LSTMCell, state, x.shape[2], h0.shape[1])
        cell = _student_cell(student, state, x.shape[2], h0.shape[1])
        with torch.no_grad():
            check_function(lambda x, h, c: cell(x, (h, c)), lambda x, h, c: expected(x, (h, c)),
                           [{"x": x[:, 0], "h": h0, "c": c0}], name="LSTMCell.forward")


def test_lstm_sequence(student):
    """Part 2: the cell over a sequence"""
    import torch

    state, x, h0, c0 = _case(7)
    expected = _torch_module(torch.nn.LSTM, state, x.shape[2], h0.shape[1])
    expected.batch_first = True
    cell = _student_cell(student, state, x.shape[2], h0.shape[1])
    with torch.no_grad():
        check_function(lambda x, h0, c0: student.lstm_sequence(cell, x, h0, c0),
                       lambda x, h0, c0: expected(x, (h0[None], c0[None]))[0],
                       [{"x": x, "h0": h0, "c0": c0}], name="lstm_sequence")
