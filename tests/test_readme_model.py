"""The README's bring-your-own-model example runs as printed and shows what its text says."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_custom_model_example_runs(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg", force=True)
    text = README.read_text()
    section = text[text.index("## Bring your own model"):text.index("## Labelled results")]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    ns = {}
    exec(compile(code, "README.md", "exec"), ns)  # noqa: S102 - the README's own example
    m, res, lrs = ns["m"], ns["res"], ns["lrs"]
    assert (tmp_path / "eos.png").exists()
    assert m.hvp_method == "complex_step"  # the text says the complex step gives exact HVPs
    assert res.sharpness.shape == (res.t.size, 4, 5)
    # the text's claim: progressive sharpening, then the edge of stability at lr = 0.8 and 1.0 (sharpness
    # hovering at 2 / lr: the ratio over the last half of the records within 3% of 1 for most seeds)
    for i in (1, 2):
        ratio = res.eos_ratio[i][~res.diverged[i]]
        assert np.median(np.abs(ratio - 1)) < 0.03, (lrs[i], ratio)
