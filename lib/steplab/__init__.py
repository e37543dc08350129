"""steplab: batched PyTorch reference implementations of step-size, momentum and clipping results.

Every algorithm runs many trajectories at once: tensors carry a leading ``runs`` dimension
(configurations x seeds/chains), so a sweep is one tensor program. See DESIGN.md.
"""

from steplab.device import default_device, default_dtype, seed_everything

__version__ = "0.1.0"
__all__ = ["default_device", "default_dtype", "seed_everything", "__version__"]
