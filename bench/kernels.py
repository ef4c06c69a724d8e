"""Which oneDNN kernels a training step really runs: optimized JIT/brgemm ones, or slow reference ones.

Runs a few training steps of each model (bakeoff's fast path: channels-last, bf16 autocast where the CPU has
it) in a child process with ONEDNN_VERBOSE=1, and counts the kernels oneDNN reports per primitive.
An implementation name starting with "ref" is the portable C++ fallback, many times slower: any is flagged.

    python bench/kernels.py --models fast-net-s,cnn4,simple-cnn --json bench/results/kernels.json
"""
from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys

from results_file import write_json

STEP = """
import sys, torch, torch.nn.functional as F
from bakeoff.models import create_model
from bakeoff.engine.device import autocast, resolve_precision
name, in_chans, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
precision = resolve_precision("auto", torch.device("cpu"))
model = create_model(name, num_classes=10, in_chans=in_chans, img_size=size).to(memory_format=torch.channels_last)
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, fused=True)
x = torch.randn(64, in_chans, size, size).contiguous(memory_format=torch.channels_last)
y = torch.randint(0, 10, (64,))
for _ in range(2):
    with autocast(torch.device("cpu"), precision):
        logits = model(x)
    opt.zero_grad()
    F.cross_entropy(logits.float(), y).backward()
    opt.step()
print("PRECISION", precision)
"""


def kernels(model: str, in_chans: int, size: int) -> tuple[str, collections.Counter]:
    """(precision, Counter of (primitive, implementation, propagation kind) executed)."""
    out = subprocess.run([sys.executable, "-c", STEP, model, str(in_chans), str(size)], capture_output=True,
                         text=True, env={**os.environ, "ONEDNN_VERBOSE": "1"}, check=True).stdout
    counts: collections.Counter = collections.Counter()
    precision = "?"
    for line in out.splitlines():
        fields = line.split(",")
        if line.startswith("PRECISION"):
            precision = line.split()[1]
        elif line.startswith("onednn_verbose") and "exec" in fields and len(fields) > 7:
            i = fields.index("exec")  # onednn_verbose[,timestamp],primitive,exec,cpu,KIND,IMPL,PROP,...
            counts[(fields[i + 2], fields[i + 3], fields[i + 4])] += 1
    return precision, counts


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="fast-net-s,cnn4,simple-cnn,resnet20", help="comma-separated")
    p.add_argument("--in-chans", type=int, default=1)
    p.add_argument("--img-size", type=int, default=28)
    p.add_argument("--json", help="write the counts here")
    args = p.parse_args()
    results, any_ref = {}, False
    for model in args.models.split(","):
        precision, counts = kernels(model, args.in_chans, args.img_size)
        ref = sum(n for (_, impl, _), n in counts.items() if impl.startswith("ref"))
        any_ref |= ref > 0
        print(f"{model} ({precision}, {args.in_chans}x{args.img_size}x{args.img_size}): "
              f"{sum(counts.values())} oneDNN calls, {ref} to reference kernels")
        for (kind, impl, prop), n in sorted(counts.items(), key=lambda kv: -kv[1]):
            print(f"  {n:4d}  {kind:<12} {impl:<55} {prop}")
        results[model] = {"precision": precision, "reference_calls": ref,
                          "kernels": [{"primitive": k, "implementation": i, "propagation": pr, "calls": n}
                                      for (k, i, pr), n in counts.items()]}
    print("reference kernels found: " + ("YES, see above" if any_ref else "none"))
    if args.json:
        write_json(args.json, results)
    return 1 if any_ref else 0


if __name__ == "__main__":
    sys.exit(main())
