"""
The edge of stability in scalar networks
========================================

Gradient descent on a batch of depth-3 scalar networks f(x) = w_1 w_2 w_3 x at two step sizes: the
sharpness of the gradient-flow solution (Kreisler et al.'s phi) decreases monotonically, and at the larger
step the sharpness settles at 2/lr.
"""

import matplotlib.pyplot as plt
import numpy as np

import gdsim.scalar as sc

w0 = np.full((2, 3), [0.6, 1.2, 1.3])          # the same start twice, depth 3
phi0 = sc.gfs_sharpness(w0[0])
lr = np.array([1.2, 2.4]) / phi0                # eta phi0 / 2 = 0.6 and 1.2
res = sc.gd(w0, lr=lr, steps=300, record_every=1, observe=("loss", "sharpness", "gfs_sharpness"))

fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), constrained_layout=True)
for i, ax in enumerate(axes):
    ax.plot(res.t, res.sharpness[:, i], label=r"sharpness $S(w_t)$")
    ax.plot(res.t, res.gfs_sharpness[:, i], label=r"GFS sharpness $\phi(w_t)$")
    ax.axhline(2 / lr[i], ls="--", color="0.4", label=r"$2/\eta$")
    ax.set_xlabel("step $t$")
    ax.set_ylabel("sharpness")
    ax.set_title(rf"$\eta\,\phi_0/2 = {lr[i] * phi0 / 2:.2g}$")
axes[1].legend(loc="upper left", bbox_to_anchor=(1.02, 1))
print("final sharpness x lr/2:", (res.sharpness[-1] * lr / 2).round(3))
