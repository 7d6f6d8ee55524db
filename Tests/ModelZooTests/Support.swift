import TestSupport

/// PyTorch-made checkpoints and their `.npy` reference pairs (Tools/make_zoo.py).
let fixtures = Fixtures("ModelZooTests")

func fixture(_ name: String) -> String { fixtures.path(name) }
