#!/usr/bin/python3
"""Writes Fashion-MNIST as .npy files for agnx's training jobs and tests.

Reads the IDX gzip files of Debian's dataset-fashion-mnist package
(/usr/share/datasets/fashion-mnist) and writes to --out DIR:
  train_x.npy  float32 [N, 1, 28, 28], normalized (pixel / 255 - 0.2860) / 0.3530
               (with --uint8: the pixels as uint8; agnx's --uint8 0.00392156862745098,0.2860,0.3530
               normalizes them the same way on the server)
  train_y.npy  int64 [N]
  test_x.npy   float32 [M, 1, 28, 28], normalized the same way
  test_y.npy   int64 [M]
N is --train-limit (default all 60000), M is --test-limit (default all 10000).
Nothing is downloaded. Exit status 77 (a skip for ctest) when the package is missing.

  scripts/fashion_mnist_npy.py --out /tmp/fmnist --train-limit 4000 --test-limit 1000
"""
import argparse
import gzip
import os
import struct
import sys

import numpy as np

MEAN, STD = 0.2860, 0.3530
SKIP = 77


def read_idx(path, ndim):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def write_split(data_dir, prefix, limit, out, name, as_uint8):
    x = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"), 3)
    y = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"), 1)
    if limit:
        x, y = x[:limit], y[:limit]
    x = x[:, None, :, :] if as_uint8 else ((x.astype(np.float32) / 255.0 - MEAN) / STD).astype(np.float32)[:, None, :, :]
    np.save(os.path.join(out, f"{name}_x.npy"), np.ascontiguousarray(x))
    np.save(os.path.join(out, f"{name}_y.npy"), y.astype(np.int64))
    return len(y)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (created if missing)")
    p.add_argument("--train-limit", type=int, default=0, metavar="N", help="first N training images (0: all)")
    p.add_argument("--test-limit", type=int, default=0, metavar="M", help="first M test images (0: all)")
    p.add_argument("--uint8", action="store_true", help="write the images as uint8 pixels (4x smaller)")
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist", metavar="DIR",
                   help="the IDX .gz files (default %(default)s)")
    a = p.parse_args(argv)
    if not os.path.isfile(os.path.join(a.data_dir, "train-images-idx3-ubyte.gz")):
        print(f"SKIP: no Fashion-MNIST in {a.data_dir} (apt-get install dataset-fashion-mnist; "
              f"scripts/setup.sh does it)")
        return SKIP
    os.makedirs(a.out, exist_ok=True)
    n = write_split(a.data_dir, "train", a.train_limit, a.out, "train", a.uint8)
    m = write_split(a.data_dir, "t10k", a.test_limit, a.out, "test", a.uint8)
    print(f"wrote {n} training and {m} test images to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
