#!/usr/bin/python3
"""torch_bench.py -- PyTorch baseline for `lectern bench nn`: trains the SAME
architecture as lectern (built from the same description by
golden/lecnn_torch.py) on random data for a number of steps with Adam and
prints one line:  samples_per_s <float>
Optional: python3-torch (Debian). Not used by tests or the product.

usage: torch_bench.py --score HxW --spec BxF --buckets B --score-layers S
                      --spec-layers S --head-layers S --act elu|relu --bn 0|1
                      --batch N --steps N --threads T
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden"))
from lecnn_torch import Arch, LecNet, soft_xent  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--score", default="120x160")
    p.add_argument("--spec", default="70x40")
    p.add_argument("--buckets", type=int, default=32)
    p.add_argument("--score-layers", required=True)
    p.add_argument("--spec-layers", required=True)
    p.add_argument("--head-layers", default="")
    p.add_argument("--act", default="elu")
    p.add_argument("--bn", type=int, default=1)
    p.add_argument("--bucket-head", type=int, default=0)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    sh, sw = (int(v) for v in a.score.split("x"))
    bb, bf = (int(v) for v in a.spec.split("x"))
    arch = Arch(sh, sw, bb, bf, a.buckets, a.score_layers, a.spec_layers, a.head_layers,
                a.act, a.bn, bucket_head=a.bucket_head)
    torch.manual_seed(0)
    net = LecNet(arch)
    net.train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    score = torch.rand(a.batch, sh, sw)
    spec = torch.rand(a.batch, bb, bf)
    t = torch.softmax(torch.randn(a.batch, a.buckets), dim=1)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = soft_xent(net(score, spec), t)
        loss.backward()
        opt.step()
        return float(loss)

    for _ in range(3):  # warm-up: allocator, kernels
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    dt = time.perf_counter() - t0
    print("samples_per_s %.3f" % (a.steps * a.batch / dt))
    print("torch %s threads %d" % (torch.__version__, torch.get_num_threads()))


if __name__ == "__main__":
    main()
