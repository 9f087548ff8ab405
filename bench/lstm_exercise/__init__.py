"""The benchmark's torch assignment: an LSTM cell as an nn.Module, and a sequence loop over it.

Small on purpose (chapter 3 will bring the real one): it makes each grader pay for torch in the
student's process, which is what the torch row of `make bench-autograde` measures.
"""
from autograder import authoring

NAME = "bench_lstm"
POINTS = {"test_lstm_cell": 3, "test_lstm_sequence": 2}

MANIFEST = """\
title = "An LSTM cell in torch (benchmark)"
checks = "bench.lstm_exercise.checks"
preload = ["torch"]

[limits]
cell_timeout = 30
notebook_timeout = 120
memory_mb = 1024

[parts.test_lstm_cell]
points = 3
answers = ["lstm_cell"]

[parts.test_lstm_sequence]
points = 2
answers = ["lstm_sequence"]
depends = ["test_lstm_cell"]
"""

CELL = """\
class LSTMCell(nn.Module):
    \"\"\"x (N, D), (h, c) each (N, H) -> (h', c'); gates stacked i, f, g, o as in nn.LSTMCell.\"\"\"

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.weight_ih = nn.Parameter(torch.randn(4 * hidden_size, input_size) * 0.1)
        self.weight_hh = nn.Parameter(torch.randn(4 * hidden_size, hidden_size) * 0.1)
        self.bias_ih = nn.Parameter(torch.zeros(4 * hidden_size))
        self.bias_hh = nn.Parameter(torch.zeros(4 * hidden_size))

    def forward(self, x, state):
        h, c = state
        gates = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        i, f, g, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c"""

SEQUENCE = """\
def lstm_sequence(cell, x, h0, c0):
    \"\"\"Run ``cell`` over x (N, T, D) from (h0, c0); returns out (N, T, H).\"\"\"
    h, c, outs = h0, c0, []
    for t in range(x.shape[1]):
        h, c = cell(x[:, t], (h, c))
        outs.append(h)
    return torch.stack(outs, dim=1)"""

# Plausible mistakes: (what, answer cell, source).
MISTAKES = [
    ("gates in the order i, g, f, o", "lstm_cell", CELL.replace("i, f, g, o = gates", "i, g, f, o = gates")),
    ("no forget gate", "lstm_cell", CELL.replace("torch.sigmoid(f) * c + ", "c + ")),
    ("sigmoid for the candidate g", "lstm_cell", CELL.replace("torch.tanh(g)", "torch.sigmoid(g)")),
    ("state not carried", "lstm_sequence", SEQUENCE.replace("h, c = cell(x[:, t], (h, c))", "h, _ = cell(x[:, t], (h0, c0))")),
]

VISIBLE_CELL = """\
cell = LSTMCell(3, 4)
h, c = cell(torch.zeros(2, 3), (torch.zeros(2, 4), torch.zeros(2, 4)))
assert tuple(h.shape) == (2, 4) and tuple(c.shape) == (2, 4), "h' and c' have shape (N, H)"
"""
VISIBLE_SEQUENCE = """\
out = lstm_sequence(LSTMCell(3, 4), torch.zeros(2, 5, 3), torch.zeros(2, 4), torch.zeros(2, 4))
assert tuple(out.shape) == (2, 5, 4), "out has shape (N, T, H)"
"""


def cells():
    return [
        authoring.text("intro", "# An LSTM cell in torch"),
        authoring.given("setup", "import torch\nfrom torch import nn"),
        authoring.answer("lstm_cell", CELL),
        authoring.test(NAME, "test_lstm_cell", POINTS["test_lstm_cell"], VISIBLE_CELL),
        authoring.answer("lstm_sequence", SEQUENCE),
        authoring.test(NAME, "test_lstm_sequence", POINTS["test_lstm_sequence"], VISIBLE_SEQUENCE),
    ]


def write_course(root):
    return authoring.write_course(root, NAME, cells(), MANIFEST)
