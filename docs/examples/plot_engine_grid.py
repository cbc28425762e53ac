"""
A learning-rate x seed grid with the engine
===========================================

One call of :func:`gdsim.dynamics.run` over four learning rates and three seeds of a small tanh MLP, with the
exact sharpness at every record; the result is labelled, so runs are selected by value. Each dashed line is
2/lr for the curve of its colour: at lr = 1.2 the start is sharper than 2/lr, and GD leaves for a flatter
region below it within a few steps; the smaller step sizes stay near the start's sharpness.
"""

import matplotlib.pyplot as plt
import numpy as np

import gdsim.dynamics as gdyn
import gdsim.models as gm

X = np.random.default_rng(0).standard_normal((40, 3))
Y = np.tanh(X[:, :1])
m = gm.mlp([3, 8, 1], "tanh", data=(X, Y))
lrs = np.array([0.4, 0.8, 1.0, 1.2])
res = gdyn.run(m, gdyn.GD(), m.init(seed=np.arange(3)), lr=lrs[:, None], steps=300, record_every=10,
               observe=("loss", "sharpness"))
ds = res.to_xarray()

fig, ax = plt.subplots(figsize=(6, 3.4), constrained_layout=True)
for lr in lrs:
    (line,) = ax.plot(ds["step"], ds["sharpness"].sel(lr=lr).median("seed"), label=rf"$\eta = {lr:g}$")
    ax.axhline(2 / lr, ls="--", color=line.get_color(), lw=0.8)
ax.set_xlabel("step $t$")
ax.set_ylabel(r"sharpness $\lambda_{\max}$ (median over seeds)")
ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1))
print(ds["eos_ratio"].to_pandas().round(2))
