"""Pascanu, Mikolov & Bengio (2013): exploding gradients, the cliff, norm clipping, the RNN tasks."""
