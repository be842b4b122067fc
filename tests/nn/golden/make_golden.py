#!/usr/bin/python3
"""make_golden.py -- golden tensors for tests/nn/test_nn_golden.c, produced by
PyTorch (Debian python3-torch), an implementation independent of lectern's C
layers. Run once offline; the outputs are committed (a few tens of kB):

    /usr/bin/python3 tests/nn/golden/make_golden.py tests/nn/golden

For each tiny configuration NAME it writes, in lectern's model file format
(written here by an independent Python writer, so the C loader is checked
against it too):
  NAME.model  the network: architecture metadata + seeded random weights
              (BN scales/shifts/running statistics random too, so they matter)
  NAME.io     tensors:
    in.score (N,H,W), in.spec (N,bands,frames), in.targets (N,B) soft targets
    out.logits (N,B)       train-mode forward (batch statistics)
    out.loss (1)           mean soft-target cross-entropy
    grad.<tensor>          gradient of the mean loss w.r.t. every parameter
    grad.in.score, grad.in.spec   gradient w.r.t. the raw inputs
    after.<tensor>         BN running statistics after that one train step's
                           update (momentum 0.1, unbiased variance)
    out.logits_eval (N,B)  eval-mode forward with the updated running stats
Dropout is left out (its masks are lectern's own hash; tested in C).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lecnn_torch import Arch, LecNet, soft_xent, write_model_file  # noqa: E402

CONFIGS = {
    # BN + ReLU, a 5x5 kernel, odd map sizes (pooling drops a row/column),
    # dense layers on both towers and one in the head
    "tiny_bn_relu": (Arch(score_h=11, score_w=16, spec_bands=9, spec_frames=8, n_out=6,
                          score_layers="c4,p,c6k5,p,d10", spec_layers="c3,p,c5,d7",
                          head_layers="d9", act="relu", batchnorm=1,
                          score_mean=0.3, score_std=2.0, spec_mean=-0.5, spec_std=0.5), 5),
    # no BN (biases instead) + ELU, global average pooling, no head layers
    "tiny_elu_gap": (Arch(score_h=8, score_w=12, spec_bands=6, spec_frames=10, n_out=5,
                          score_layers="c4,c4,p,g", spec_layers="c3,p,c4,g",
                          head_layers="", act="elu", batchnorm=0), 4),
    # the bucket head (engine/nn/lec_nn.h): the score map's width (16 / 2 = 8)
    # is the number of buckets, one shared head row per bucket, with BN in the
    # head (batch statistics over N x B rows) and a second head layer
    "tiny_bucket": (Arch(score_h=10, score_w=16, spec_bands=7, spec_frames=8, n_out=8,
                         score_layers="c4,p,c5", spec_layers="c3,p,d6",
                         head_layers="d7,d5", act="elu", batchnorm=1,
                         score_mean=0.2, score_std=1.5, spec_mean=0.1, spec_std=0.8,
                         bucket_head=1), 3),
}


def main(outdir):
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)
    for name, (arch, N) in CONFIGS.items():
        torch.manual_seed(20161215)  # the date of Dorfer et al.'s arXiv version
        net = LecNet(arch)
        with torch.no_grad():
            for cn in net.c_names():
                t = net.tensor(cn)
                if cn.endswith(".bn.rv"):
                    t.copy_(0.5 + torch.rand_like(t))
                elif cn.endswith(".bn.g"):
                    t.copy_(0.5 + torch.rand_like(t))
                else:
                    t.copy_(0.4 * torch.randn_like(t))
        meta = arch.meta()
        meta.update({
            "lectern.kind": ("str", "model"),
            "frontend.sample_rate": ("int", 22050), "frontend.frame_size": ("int", 2048),
            "frontend.hop_size": ("int", 1102), "frontend.fmin_hz": ("float", 60.0),
            "frontend.fmax_hz": ("float", 6000.0), "frontend.bands_per_octave": ("int", 12),
            "unroll.staff_space_px": ("float", 4.0),
            "unroll.window_width_px": ("int", arch.score_w),
            "unroll.window_height_px": ("int", arch.score_h),
            "unroll.buckets": ("int", arch.n_out),
            "golden.note": ("str", "made by tests/nn/golden/make_golden.py"),
        })
        write_model_file(os.path.join(outdir, name + ".model"), meta,
                         [(cn, net.tensor(cn)) for cn in net.c_names()])

        score = torch.rand(N, arch.score_h, arch.score_w, requires_grad=True)
        spec = (2.0 * torch.rand(N, arch.spec_bands, arch.spec_frames) - 1.0).requires_grad_()
        targets = torch.rand(N, arch.n_out) ** 4
        targets = targets / targets.sum(dim=1, keepdim=True)
        net.train()
        logits = net(score, spec)
        loss = soft_xent(logits, targets)
        loss.backward()
        io = [("in.score", score), ("in.spec", spec), ("in.targets", targets),
              ("out.logits", logits), ("out.loss", loss.reshape(1)),
              ("grad.in.score", score.grad), ("grad.in.spec", spec.grad)]
        for cn in net.c_names():
            t = net.tensor(cn)
            if isinstance(t, torch.nn.Parameter):
                io.append(("grad." + cn, t.grad))
            else:
                io.append(("after." + cn, t))
        net.eval()
        with torch.no_grad():
            io.append(("out.logits_eval", net(score, spec)))
        write_model_file(os.path.join(outdir, name + ".io"), {"golden.config": ("str", name)}, io)
        print(name, "loss", float(loss))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
