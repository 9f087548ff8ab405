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

Numpy only: modules that need torch import it themselves, lazily.
"""
