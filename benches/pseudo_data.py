"""Pseudo validation data for a model that ships only a few sample inputs
(the corpus' `NAME.inputs.npz`): each sample is one of them, scaled by
U(0.8, 1.2), shifted along the last axis by up to 20 and with N(0, 0.15)
noise added; no labels (the main command then judges by agreement with the
original model). Seeded: the same files every time.

    python3 benches/pseudo_data.py INPUTS.npz OUT_DIR [--train 128] [--val 512]

Writes OUT_DIR/train.npz and OUT_DIR/val.npz with the inputs' key.
"""
import argparse, os
import numpy as np


def make(x, n, seed):
    r = np.random.default_rng(seed)
    pick = r.integers(0, len(x), n)
    scale = r.uniform(0.8, 1.2, (n,) + (1,) * (x.ndim - 1)).astype(np.float32)
    noise = r.normal(0, 0.15, (n,) + x.shape[1:]).astype(np.float32)
    out = x[pick] * scale + noise
    for i in range(n):
        out[i] = np.roll(out[i], r.integers(-20, 20), axis=-1)
    return out.astype(np.float32)


p = argparse.ArgumentParser()
p.add_argument("inputs")
p.add_argument("out")
p.add_argument("--train", type=int, default=128)
p.add_argument("--val", type=int, default=512)
a = p.parse_args()
data = np.load(a.inputs)
(key,) = data.files
os.makedirs(a.out, exist_ok=True)
np.savez(os.path.join(a.out, "train.npz"), **{key: make(data[key], a.train, 1)})
np.savez(os.path.join(a.out, "val.npz"), **{key: make(data[key], a.val, 2)})
