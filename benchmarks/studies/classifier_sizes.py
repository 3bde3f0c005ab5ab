"""Classifier accuracy vs the size of the judged windows (LOL/SOTS/LSUI; numbers in results/classifier_sizes.md).

Trains a from-scratch ResNet-18 clear-vs-degraded classifier on ``--crop`` windows (optionally a
random side per step from ``--scales``), recomputes the BN statistics on ``--crop`` windows
(or additionally on ``--recalcrop`` windows, reporting both), and prints the held-out accuracy on
``--ncrops`` random windows per image for each size in ``--evalcrops`` ("full": whole images).

    OMP_NUM_THREADS=1 HADAMARD_RESTORE_DATA=/work/shared/data PYTHONPATH=src \
        python benchmarks/studies/classifier_sizes.py --cfg configs/low-light.yaml --steps 100 --crop 64
"""

import argparse
import json
import os
import time

import torch
import torch.nn.functional as F

from hadamard_restore.classifier.model import build_classifier
from hadamard_restore.classifier.training import recalibrate_batchnorm
from hadamard_restore.config import load_config
from hadamard_restore.data.dataset import PairedImages
from hadamard_restore.data.task_data import load_pairs
from hadamard_restore.data.transforms import random_crop_box

p = argparse.ArgumentParser()
p.add_argument("--cfg", default="configs/low-light.yaml")
p.add_argument("--steps", type=int, default=100)
p.add_argument("--bs", type=int, default=8)
p.add_argument("--crop", type=int, default=64)
p.add_argument("--lr", type=float, default=1e-4)
p.add_argument("--opt", default="adam")
p.add_argument("--recal", type=int, default=1)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--maxval", type=int, default=32)
p.add_argument("--evalcrops", default="64,128,full")
p.add_argument("--ncrops", type=int, default=4)
p.add_argument("--logevery", type=int, default=0)
p.add_argument("--scales", default="")
p.add_argument("--recalcrop", type=int, default=0)
a = p.parse_args()
os.environ.setdefault("HADAMARD_RESTORE_DATA", "/work/shared/data")
cfg = load_config(a.cfg, ["device=cpu"])
tr, va = load_pairs(cfg.data, cfg.seed)
va = va[: a.maxval]
tds = PairedImages(tr, crop=a.crop, flip=True)
vds = PairedImages(va)
model = build_classifier("resnet18", False, seed=a.seed)
g = torch.Generator().manual_seed(a.seed)
opt = (
    torch.optim.Adam(model.parameters(), lr=a.lr, weight_decay=1e-4)
    if a.opt == "adam"
    else torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, weight_decay=1e-4)
)
n = max(1, a.bs // 2)
labels = torch.cat([torch.zeros(n), torch.ones(n)]).long()
t0 = time.time()
model.train()


def evaluate(tag):
    model.eval()
    res = {}
    eg = torch.Generator().manual_seed(123)
    for ec in a.evalcrops.split(","):
        hits = [0, 0]
        tot = 0
        pcl = [0.0, 0.0]
        for i in range(len(vds)):
            d, r = vds.full(i)
            for img, lab in ((d, 0), (r, 1)):
                if ec == "full":
                    crops = [img]
                else:
                    c = int(ec)
                    crops = []
                    for _ in range(a.ncrops):
                        t, l, _, _ = random_crop_box(img.shape[1], img.shape[2], c, eg)
                        crops.append(img[:, t : t + c, l : l + c])
                with torch.no_grad():
                    pr = model(torch.stack(crops)).softmax(1)[:, 1]
                hits[lab] += int(((pr > 0.5).long() == lab).sum())
                tot += len(crops)
                pcl[lab] += float(pr.sum())
        m = len(vds) * (1 if ec == "full" else a.ncrops)
        res[ec] = (
            f"acc {(hits[0] + hits[1]) / (2 * m):.3f} (deg {hits[0] / m:.2f} clr {hits[1] / m:.2f}; "
            f"p_clear deg {pcl[0] / m:.2f} clr {pcl[1] / m:.2f})"
        )
    model.train()
    print(tag, json.dumps(res, indent=0), flush=True)


for step in range(1, a.steps + 1):
    if a.scales:
        sc = [int(x) for x in a.scales.split(",")]
        tds.crop = sc[int(torch.randint(len(sc), (1,), generator=g))]
    d, r = tds.sample_batch(n, g)
    logits = model(torch.cat([d, r]))
    loss = F.cross_entropy(logits, labels)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if a.logevery and step % a.logevery == 0:
        print(f"step {step} loss {loss.item():.4f} t {time.time() - t0:.1f}", flush=True)
if a.recal:
    tds.crop = a.crop
    recalibrate_batchnorm(model, (torch.cat(tds.sample_batch(n, g)) for _ in range(20)))
    if a.recalcrop:
        evaluate("recal@train-crop")
        tds.crop = a.recalcrop
    recalibrate_batchnorm(model, (torch.cat(tds.sample_batch(n, g)) for _ in range(20)))
print(f"train {time.time() - t0:.1f}s", vars(a))
evaluate("final")
