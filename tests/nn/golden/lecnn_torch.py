"""lecnn_torch -- the lectern network rebuilt in PyTorch, independently of the
C code, from the same architecture description (engine/nn/lec_nn.h), plus a
writer/reader for lectern's model file format (engine/nn/lec_model.h).

Used offline only: by make_golden.py (golden tensors for tests/nn) and by
torch_bench.py (`lectern bench nn` compares training speed). The product and
CI never need Python.
"""
import struct
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F


class Arch:
    def __init__(self, score_h, score_w, spec_bands, spec_frames, n_out,
                 score_layers, spec_layers, head_layers, act="elu", batchnorm=1,
                 score_mean=0.0, score_std=1.0, spec_mean=0.0, spec_std=1.0, bucket_head=0):
        self.__dict__.update(locals())
        del self.__dict__["self"]

    def meta(self):
        return {
            "arch.score_h": ("int", self.score_h), "arch.score_w": ("int", self.score_w),
            "arch.spec_bands": ("int", self.spec_bands),
            "arch.spec_frames": ("int", self.spec_frames),
            "arch.n_out": ("int", self.n_out),
            "arch.score_layers": ("str", self.score_layers),
            "arch.spec_layers": ("str", self.spec_layers),
            "arch.head_layers": ("str", self.head_layers),
            "arch.activation": ("str", self.act), "arch.batchnorm": ("int", self.batchnorm),
            "norm.score_mean": ("float", self.score_mean),
            "norm.score_std": ("float", self.score_std),
            "norm.spec_mean": ("float", self.spec_mean),
            "norm.spec_std": ("float", self.spec_std),
            **({"arch.bucket_head": ("int", 1)} if self.bucket_head else {}),
        }


class Block(nn.Module):
    """conv or dense, then optional BN, then the activation (or nothing)."""

    def __init__(self, kind, cin, cout, k, bn, act):
        super().__init__()
        self.kind = kind
        if kind == "c":
            self.lin = nn.Conv2d(cin, cout, k, padding=k // 2, bias=not bn)
            self.bn = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1) if bn else None
        else:
            self.lin = nn.Linear(cin, cout, bias=not bn)
            self.bn = nn.BatchNorm1d(cout, eps=1e-5, momentum=0.1) if bn else None
        self.act = act

    def forward(self, x):
        if self.kind == "d" and x.dim() > 2:
            x = x.flatten(1)
        x = self.lin(x)
        if self.bn is not None:
            x = self.bn(x)
        if self.act == "relu":
            x = F.relu(x)
        elif self.act == "elu":
            x = F.elu(x)
        return x


class Flat(nn.Module):
    def forward(self, x):
        return x.flatten(1)


class GAP(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


def build_tower(spec, c, h, w, arch, prefix, names):
    """Returns (nn.Sequential, output features); names maps C tensor names to
    torch parameter/buffer paths inside the sequential."""
    layers = []
    toks = [t.strip() for t in spec.split(",") if t.strip()]
    for i, t in enumerate(toks):
        if t[0] in "cd":
            k = 3
            body = t[1:]
            if t[0] == "c" and "k" in body:
                body, ks = body.split("k")
                k = int(ks)
            n = int(body)
            cin = c if t[0] == "c" else c * h * w
            blk = Block(t[0], cin, n, k, arch.batchnorm, arch.act)
            p = f"{prefix}.{i}"
            names[p + ".w"] = (len(layers), "lin.weight")
            if arch.batchnorm:
                names[p + ".bn.g"] = (len(layers), "bn.weight")
                names[p + ".bn.b"] = (len(layers), "bn.bias")
                names[p + ".bn.rm"] = (len(layers), "bn.running_mean")
                names[p + ".bn.rv"] = (len(layers), "bn.running_var")
            else:
                names[p + ".b"] = (len(layers), "lin.bias")
            layers.append(blk)
            if t[0] == "d":
                c, h, w = n, 1, 1
            else:
                c = n
        elif t == "p":
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
        elif t == "g":
            layers.append(GAP())
            h, w = 1, 1
        elif t[0] == "o":
            layers.append(nn.Dropout(int(t[1:]) / 100.0))
        else:
            raise ValueError(t)
    layers.append(Flat())
    return nn.Sequential(*layers), c * h * w


class LecNet(nn.Module):
    def __init__(self, arch):
        super().__init__()
        self.arch = arch
        self.names = {"score": {}, "spec": {}, "head": {}}
        self.score, fs = build_tower(arch.score_layers, 1, arch.score_h, arch.score_w, arch,
                                     "score", self.names["score"])
        self.spec, fa = build_tower(arch.spec_layers, 1, arch.spec_bands, arch.spec_frames, arch,
                                    "spec", self.names["spec"])
        if arch.bucket_head:
            # the score map's width is n_out: each column is one bucket's row
            fs //= arch.n_out
        self.head, fh = build_tower(arch.head_layers, fs + fa, 1, 1, arch, "head",
                                    self.names["head"])
        self.out = nn.Linear(fh, 1 if arch.bucket_head else arch.n_out)

    def forward(self, score, spec):
        a = self.arch
        xs = ((score - a.score_mean) / a.score_std).unsqueeze(1)
        xa = ((spec - a.spec_mean) / a.spec_std).unsqueeze(1)
        if not a.bucket_head:
            z = torch.cat([self.score(xs), self.spec(xa)], dim=1)
            return self.out(self.head(z))
        # bucket head: the score tower without its final flatten gives
        # (N, C, h, B); row (n, b) = [map[n, :, :, b] flattened, spec embedding[n]]
        m = self.score[:-1](xs)
        N, C, h, B = m.shape
        assert B == a.n_out
        rows = m.permute(0, 3, 1, 2).reshape(N * B, C * h)
        e = self.spec(xa)
        z = torch.cat([rows, e.repeat_interleave(B, dim=0)], dim=1)
        return self.out(self.head(z)).reshape(N, B)

    def tensor(self, cname):
        """The torch tensor (parameter or buffer) behind a C tensor name."""
        if cname == "out.w":
            return self.out.weight
        if cname == "out.b":
            return self.out.bias
        tower = cname.split(".")[0]
        idx, path = self.names[tower][cname]
        mod = getattr(self, tower)[idx]
        for p in path.split("."):
            mod = getattr(mod, p)
        return mod

    def c_names(self):
        """Tensor names in the C network's table order."""
        out = []
        for t in ("score", "spec", "head"):
            out += list(self.names[t].keys())
        out += ["out.w", "out.b"]
        return out


def soft_xent(logits, targets):
    """Mean over the batch of -sum_k t_k log softmax(z)_k."""
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


# ---------------------------------------------------------------- model files

MAGIC = b"LECTNNMF"
VERSION = 1
ALIGN = 64


def write_model_file(path, meta, tensors):
    """meta: {key: (type, value)}, type in int/float/str/floats;
    tensors: list of (name, numpy-able float32 array)."""
    idx = bytearray()
    for k, (t, v) in meta.items():
        kb = k.encode()
        idx += struct.pack("<H", len(kb)) + kb
        if t == "int":
            idx += struct.pack("<Bq", 1, v)
        elif t == "float":
            idx += struct.pack("<Bd", 2, v)
        elif t == "str":
            vb = v.encode()
            idx += struct.pack("<BI", 3, len(vb)) + vb
        elif t == "floats":
            idx += struct.pack("<BI", 4, len(v)) + struct.pack("<%df" % len(v), *v)
        else:
            raise ValueError(t)
    data = bytearray()
    for name, arr in tensors:
        arr = torch.as_tensor(arr).detach().cpu().contiguous().float()
        shape = list(arr.shape) if arr.dim() else [1]
        raw = arr.numpy().astype("<f4").tobytes()
        nb = name.encode()
        idx += struct.pack("<H", len(nb)) + nb + struct.pack("<BB", 1, len(shape))
        idx += struct.pack("<%dQ" % len(shape), *shape)
        idx += struct.pack("<QQ", len(data), len(raw))
        data += raw
        data += b"\0" * ((-len(raw)) % ALIGN)
    data_off = 64 + len(idx)
    data_off += (-data_off) % ALIGN
    body = bytes(idx) + b"\0" * (data_off - 64 - len(idx)) + bytes(data)
    total = 64 + len(body)
    hdr = MAGIC + struct.pack("<IIIIQQQQ", VERSION, 64, len(meta), len(tensors), len(idx),
                              data_off, len(data), total)
    hdr += struct.pack("<I", zlib.crc32(body))
    hdr += struct.pack("<I", zlib.crc32(hdr))
    assert len(hdr) == 64
    with open(path, "wb") as f:
        f.write(hdr + body)
