"""Training: data sets, GAN models and the training loop (imports torch).

The runtime in ``synth/`` never imports this package.
"""
