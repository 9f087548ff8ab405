"""Reference solutions of the fixture assignment (CS231n-style layouts: x @ Wx)."""
import numpy as np


def step_forward(x, h_prev, Wx, Wh, b):
    """One tanh step: x (N, D), h_prev (N, H), Wx (D, H), Wh (H, H), b (H,) -> (h (N, H), cache)."""
    h = np.tanh(x @ Wx + h_prev @ Wh + b)
    return h, (x, h_prev, Wx, Wh, h)


def step_backward(dh, cache):
    """Gradients of step_forward given dh (N, H): a dict dx, dh_prev, dWx, dWh, db."""
    x, h_prev, Wx, Wh, h = cache
    dz = dh * (1 - h ** 2)
    return {"dx": dz @ Wx.T, "dh_prev": dz @ Wh.T, "dWx": x.T @ dz, "dWh": h_prev.T @ dz, "db": dz.sum(axis=0)}


def make_series(n, k=4, seed=0):
    """n independent windows of an AR(2) series: X (n, k) past values, y (n,) the next value."""
    rng = np.random.default_rng(seed)
    length = k + 1 + 20
    series = np.zeros((n, length))
    noise = rng.normal(scale=0.1, size=(n, length))
    series[:, :2] = rng.normal(size=(n, 2))
    for t in range(2, length):
        series[:, t] = 1.2 * series[:, t - 1] - 0.5 * series[:, t - 2] + noise[:, t]
    return series[:, -k - 1:-1].copy(), series[:, -1].copy()


TINY_RNN = '''\
class TinyRNN(nn.Module):
    """A tanh RNN over x (N, T, D) -> out (N, T, H), parameters named as nn.RNNCell's."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        bound = hidden_size ** -0.5
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size).uniform_(-bound, bound))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size).uniform_(-bound, bound))
        self.bias_ih = nn.Parameter(torch.zeros(hidden_size))
        self.bias_hh = nn.Parameter(torch.zeros(hidden_size))

    def forward(self, x):
        h = x.new_zeros(x.shape[0], self.weight_hh.shape[0])
        outs = []
        for t in range(x.shape[1]):
            h = torch.tanh(x[:, t] @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh)
            outs.append(h)
        return torch.stack(outs, dim=1)'''

FIT = '''\
def fit(X, y, seed=0, steps=300):
    """Train a linear one-step forecaster on windows X (n, k) and targets y (n,); returns the module."""
    torch.manual_seed(seed)
    model = nn.Linear(X.shape[1], 1).double()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
    inputs, targets = torch.as_tensor(X), torch.as_tensor(y)
    for _ in range(steps):
        optimiser.zero_grad()
        loss = ((model(inputs).squeeze(-1) - targets) ** 2).mean()
        loss.backward()
        optimiser.step()
    return model


def predict(model, X):
    """Forecasts (n,) of a trained model for windows X (n, k)."""
    with torch.no_grad():
        return model(torch.as_tensor(X)).squeeze(-1).numpy()'''
