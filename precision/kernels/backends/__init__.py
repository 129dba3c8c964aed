"""The built-in kernels' code, one module per framework: each computes softmax or log-softmax on a dtype's storage
arrays, names the emulated model that explains it, and exposes the framework's exp alone. The registry
(`precision.kernels.registry`) holds the entries that put these together."""
