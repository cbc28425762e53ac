import numpy as np

def gpu_particle_gda(*a, **k):
    raise NotImplementedError
