"""SkeletonMAE training-step throughput: visible-only encoder (MAE) vs. encoder over all tokens.

For each preset at mask ratio 0.9 it times forward+backward of
  drop: the MAE as built - the encoder sees only the visible tokens;
  full: the same masks, loss and decoder, but the encoder runs over every token (masked ones zeroed),
        i.e. what a masked model costs without dropping tokens (BERT/SimMIM style);
and prints sequences/s (a sequence = one sample [T, 2, 25, 3], both actors), the drop/full speed-up,
FLOPs per sequence (torch's FlopCounterMode, matmuls + attention), achieved TFLOP/s and peak memory.
With a CUDA GPU it also runs `base` under bf16 autocast and reports the fraction of the GPU's dense
bf16 peak (H100/H200 SXM: 989 TFLOP/s; override with --peak-tflops). Without one it prints "no GPU".

Each measurement runs in its own child process so peak memory is that configuration's own: peak
RSS on CPU (includes the ~0.3-0.5 GB of the torch runtime), max_memory_allocated on GPU.

    .venv/bin/python benchmarks/bench_model.py                 # tiny + base, CPU (and GPU if present)
    .venv/bin/python benchmarks/bench_model.py --presets tiny --iters 20
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from skelmae.model.config import ModelConfig
from skelmae.model.mae import SkeletonMAE, count_parameters
from skelmae.model.masking import sample_mask

PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "GH200": 989.0, "A100": 312.0, "L40S": 362.0}


def step_drop(model: SkeletonMAE, x: torch.Tensor, ratio: float) -> torch.Tensor:
    return model(x, mask_ratio=ratio)[0]


def step_full(model: SkeletonMAE, x: torch.Tensor, ratio: float) -> torch.Tensor:
    """Same masks, decoder and loss as the MAE, but the encoder processes all Ts * V tokens."""
    p = model.patchify(x).flatten(0, 1)  # [B, Ts, V, P]
    ids_keep, ids_restore, mask = sample_mask(model.cfg, p, ratio)
    hidden = p * (1 - mask.reshape(p.shape[:3]))[..., None]  # masked content zeroed, positions kept
    latent = model.encoder(model.encoder.embed(hidden))  # [B, L, D]: every token
    visible = torch.gather(latent, 1, ids_keep[..., None].expand(-1, -1, latent.shape[-1]))
    pred = model.forward_decoder(visible, ids_restore)
    return model.forward_loss(x, pred, mask)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(preset: str, mode: str, dtype: str, batch: int, iters: int, warmup: int, ratio: float,
            device_name: str) -> dict:
    device = torch.device(device_name)
    torch.manual_seed(0)
    cfg = ModelConfig(preset=preset, mask_ratio=ratio)
    model = SkeletonMAE(cfg).to(device).train()
    x = torch.randn(batch, cfg.num_frames, cfg.num_persons, cfg.num_joints, cfg.in_chans, device=device)
    step = step_drop if mode == "drop" else step_full
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bf16")

    def run_once() -> None:
        with autocast:
            loss = step(model, x, ratio)
        loss.backward()
        for p in model.parameters():
            p.grad = None

    counter = FlopCounterMode(display=False)
    with counter:
        run_once()
    flops = counter.get_total_flops()
    for _ in range(max(warmup - 1, 0)):
        run_once()
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(iters):
        run_once()
    _sync(device)
    elapsed = time.perf_counter() - t0
    if device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {
        "preset": preset, "mode": mode, "dtype": dtype, "device": device.type, "batch": batch,
        "iters": iters, "seq_per_s": batch * iters / elapsed, "step_s": elapsed / iters,
        "gflop_per_seq": flops / batch / 1e9, "tflops": flops * iters / elapsed / 1e12,
        "peak_mb": peak_mb, "params_m": count_parameters(model) / 1e6,
        "visible_tokens": cfg.num_tokens - round(model.effective_mask_ratio * cfg.num_tokens),
        "tokens": cfg.num_tokens,
    }


def _child(spec: dict) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", json.dumps(spec)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"measurement {spec} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _print_table(rows: list[dict], peak_tflops: float | None) -> None:
    head = (f"{'preset':<6} {'dev':<4} {'dtype':<5} {'mode':<5} {'batch':>5} {'enc tokens':>11} "
            f"{'seq/s':>9} {'GFLOP/seq':>10} {'TFLOP/s':>8} {'peak MB':>9} {'vs full':>8}")
    print(head)
    print("-" * len(head))
    full = {(r["preset"], r["device"], r["dtype"]): r for r in rows if r["mode"] == "full"}
    for r in rows:
        ref = full.get((r["preset"], r["device"], r["dtype"]))
        speedup = f"{r['seq_per_s'] / ref['seq_per_s']:.2f}x" if ref and r["mode"] == "drop" else ""
        enc = f"{r['visible_tokens'] if r['mode'] == 'drop' else r['tokens']}/{r['tokens']}"
        print(f"{r['preset']:<6} {r['device']:<4} {r['dtype']:<5} {r['mode']:<5} {r['batch']:>5} {enc:>11} "
              f"{r['seq_per_s']:>9.1f} {r['gflop_per_seq']:>10.2f} {r['tflops']:>8.3f} {r['peak_mb']:>9.0f} "
              f"{speedup:>8}")
    for r in rows:
        if r["dtype"] == "bf16" and peak_tflops:
            print(f"{r['preset']} {r['mode']} bf16 on GPU: {r['seq_per_s']:.0f} seq/s, {r['tflops']:.1f} TFLOP/s "
                  f"= {r['tflops'] / peak_tflops:.1%} of the {peak_tflops:.0f} TFLOP/s dense bf16 peak")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--presets", default="tiny,base")
    ap.add_argument("--mask-ratio", type=float, default=0.9)
    ap.add_argument("--iters", type=int, default=0, help="timed steps (default: tiny 10 / base 2 on CPU)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--cpu-batch", default="tiny=16,base=2")
    ap.add_argument("--gpu-batch", default="tiny=512,base=128")
    ap.add_argument("--peak-tflops", type=float, default=0.0, help="GPU dense bf16 peak (default: by name)")
    ap.add_argument("--skip-cpu", action="store_true", help="GPU rows only")
    ap.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure(**json.loads(args.child))))
        return

    presets = [p for p in args.presets.split(",") if p]
    cpu_batch = dict((k, int(v)) for k, v in (kv.split("=") for kv in args.cpu_batch.split(",")))
    gpu_batch = dict((k, int(v)) for k, v in (kv.split("=") for kv in args.gpu_batch.split(",")))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"load average {os.getloadavg()[0]:.1f}, mask ratio {args.mask_ratio}")
    rows = []
    if not args.skip_cpu:
        for preset in presets:
            iters = args.iters or (10 if preset == "tiny" else 2)
            for mode in ("drop", "full"):
                rows.append(_child(dict(preset=preset, mode=mode, dtype="fp32", batch=cpu_batch.get(preset, 2),
                                        iters=iters, warmup=args.warmup, ratio=args.mask_ratio,
                                        device_name="cpu")))
    peak = None
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        peak = args.peak_tflops or next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
        print(f"GPU: {name}; dense bf16 peak {peak or 'unknown (pass --peak-tflops)'} TFLOP/s")
        runs = [(p, "fp32") for p in presets] + [("base", "bf16")]
        for preset, dtype in runs:
            for mode in ("drop", "full"):
                rows.append(_child(dict(preset=preset, mode=mode, dtype=dtype, batch=gpu_batch.get(preset, 64),
                                        iters=args.iters or 20, warmup=max(args.warmup, 3),
                                        ratio=args.mask_ratio, device_name="cuda")))
    else:
        print("no GPU: skipping the GPU fp32 and bf16-autocast runs")
    _print_table(rows, peak)


if __name__ == "__main__":
    main()
