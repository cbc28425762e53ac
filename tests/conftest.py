import os

# Must happen before numba is imported anywhere (numba#3075): run the gpu_* kernels on the CUDA
# simulator unless the caller asked for a real GPU with NUMBA_ENABLE_CUDASIM=0.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
# Thread-count determinism tests need at least two numba threads, even on a one-core machine.
if (os.cpu_count() or 1) < 2:
    os.environ.setdefault("NUMBA_NUM_THREADS", "2")
