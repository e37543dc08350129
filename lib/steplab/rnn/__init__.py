"""Pascanu, Mikolov & Bengio (2013): exploding gradients, the cliff, norm clipping, the RNN tasks.

Dashboard entry points (the cliff): ``cliff_surface``, ``wall_line``, ``valley_line``, ``descend``.
"""

from steplab.rnn.cliff import cliff_surface, descend, step_lengths, valley_line, wall_line

__all__ = ["cliff_surface", "descend", "step_lengths", "valley_line", "wall_line"]
