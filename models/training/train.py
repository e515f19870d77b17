"""Train the bundled demo detector (plain PyTorch, CPU) and export it as YOLOv8-raw ONNX.

A small YOLO-family detector: a conv backbone to stride 32, a top-down FPN, and
anchor-free decoupled heads at strides 8 and 16 (per cell: box distances l, t, r, b and
sigmoid class scores, no objectness). Positives are cells near a box centre (centre
sampling); each positive's class target is its box IoU normalised per object (task-aligned,
as YOLOv8 does), so the best-placed box scores highest and survives NMS.

    pip install -e .[train]
    python models/training/train.py            # writes models/demo_parts.onnx

Everything is seeded; the same command gives the same model on the same torch build.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate_scene as scene  # noqa: E402

MODELS_DIR = Path(__file__).resolve().parents[1]
INPUT_H, INPUT_W = 384, 640  # the camera's 1920x1200 letterboxes to 614x384 (+13 px pad left/right)
STRIDES = (8, 16)
NUM_CLASSES = len(scene.CLASS_NAMES)
PAD_VALUE = 114


# --- data -------------------------------------------------------------------------------------


def letterbox(image: np.ndarray, size: tuple[int, int] = (INPUT_H, INPUT_W), interpolation: int = cv2.INTER_LINEAR) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Resize keeping aspect, pad 114 centred: the same geometry and default resize as
    inspection_station.core.detect.letterbox, so training sees what the station feeds."""
    h, w = image.shape[:2]
    r = min(size[0] / h, size[1] / w)
    nw, nh = max(1, round(w * r)), max(1, round(h * r))
    out = np.full((size[0], size[1], 3), PAD_VALUE, np.uint8)
    x0, y0 = (size[1] - nw) // 2, (size[0] - nh) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(image, (nw, nh), interpolation=interpolation)
    return out, r, (x0, y0)


def _render_sample(args: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    seed, index = args
    rng = np.random.default_rng([seed, index])  # per-sample streams: same set whatever the worker count
    if index % 2 == 0:
        image, boxes, _ = scene.render_scene(rng, scene.defect_cycle(index // 2))
    else:
        image, boxes = scene.render_random_scene(rng)
    # mostly the station's INTER_LINEAR; some INTER_AREA so other preprocessing works too
    img, r, (x0, y0) = letterbox(image, interpolation=cv2.INTER_AREA if rng.random() < 0.25 else cv2.INTER_LINEAR)
    b = np.array([(c, x1 * r + x0, y1 * r + y0, x2 * r + x0, y2 * r + y0) for c, x1, y1, x2, y2 in boxes], np.float32).reshape(-1, 5)
    return img, b


def build_dataset(count: int, seed: int, workers: int, cache: Path | None) -> tuple[np.ndarray, list[np.ndarray]]:
    if cache and cache.is_file():
        data = np.load(cache, allow_pickle=True)
        return data["images"], list(data["boxes"])
    with Pool(workers) as pool:
        samples = pool.map(_render_sample, [(seed, i) for i in range(count)], chunksize=8)
    images = np.stack([s[0] for s in samples])
    boxes = [s[1] for s in samples]
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, images=images, boxes=np.array(boxes, dtype=object))
    return images, boxes


def augment(rng: np.random.Generator, img: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Small shift/scale, flips and photometric changes (the camera is fixed; keep sizes real)."""
    s = rng.uniform(0.92, 1.08)
    tx, ty = rng.uniform(-24, 24), rng.uniform(-16, 16)
    cx, cy = INPUT_W / 2, INPUT_H / 2
    m = np.array([[s, 0, cx - s * cx + tx], [0, s, cy - s * cy + ty]], np.float32)
    if rng.random() < 0.5:
        m[0] *= -1
        m[0, 2] += INPUT_W
    if rng.random() < 0.5:
        m[1] *= -1
        m[1, 2] += INPUT_H
    out = cv2.warpAffine(img, m, (INPUT_W, INPUT_H), flags=cv2.INTER_LINEAR, borderValue=(PAD_VALUE,) * 3)
    b = boxes.copy()
    if len(b):
        xs = b[:, [1, 3]] * m[0, 0] + m[0, 2]
        ys = b[:, [2, 4]] * m[1, 1] + m[1, 2]
        b[:, 1], b[:, 3] = xs.min(1), xs.max(1)
        b[:, 2], b[:, 4] = ys.min(1), ys.max(1)
        area0 = (xs.max(1) - xs.min(1)) * (ys.max(1) - ys.min(1))
        b[:, [1, 3]] = b[:, [1, 3]].clip(0, INPUT_W)
        b[:, [2, 4]] = b[:, [2, 4]].clip(0, INPUT_H)
        area = (b[:, 3] - b[:, 1]) * (b[:, 4] - b[:, 2])
        b = b[area > 0.6 * area0]
    gain = rng.uniform(0.75, 1.25) * rng.uniform(0.95, 1.05, 3)
    out = np.clip(out.astype(np.float32) * gain + rng.uniform(-12, 12), 0, 255).astype(np.uint8)
    return out, b


# --- model ------------------------------------------------------------------------------------


class Conv(nn.Sequential):
    def __init__(self, c1: int, c2: int, k: int = 3, s: int = 1):
        super().__init__(nn.Conv2d(c1, c2, k, s, k // 2, bias=False), nn.BatchNorm2d(c2), nn.SiLU(inplace=True))


class Residual(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.a, self.b = Conv(c, c), Conv(c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(self.a(x))


class Head(nn.Module):
    """Decoupled: a box branch (l, t, r, b in stride units) and a class branch (logits)."""

    def __init__(self, c: int, num_classes: int):
        super().__init__()
        self.box = nn.Sequential(Conv(c, c), nn.Conv2d(c, 4, 1))
        self.cls = nn.Sequential(Conv(c, c), nn.Conv2d(c, num_classes, 1))
        nn.init.constant_(self.cls[-1].bias, -4.6)  # start at p = 0.01: no flood of false positives
        nn.init.constant_(self.box[-1].bias, 0.5)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.box(x), self.cls(x)


class DemoDetector(nn.Module):
    def __init__(self, num_classes: int = NUM_CLASSES, widths: tuple[int, ...] = (16, 24, 32, 64, 96)):
        super().__init__()
        c1, c2, c3, c4, c5 = widths
        # a 4x4 "patchify" stem: stride 4 at a tenth of the cost of two 3x3 convs (CPU training)
        self.stem = nn.Sequential(nn.Conv2d(3, c2, 4, 4, 0, bias=False), nn.BatchNorm2d(c2), nn.SiLU(inplace=True))
        self.s8 = nn.Sequential(Conv(c2, c3, 3, 2), Residual(c3))
        self.s16 = nn.Sequential(Conv(c3, c4, 3, 2), Residual(c4))
        self.s32 = nn.Sequential(Conv(c4, c5, 3, 2), Residual(c5))
        self.lat32 = Conv(c5, c4, 1)
        self.top16 = nn.Sequential(Conv(2 * c4, c4, 1), Conv(c4, c4))
        self.lat16 = Conv(c4, c3, 1)
        self.top8 = nn.Sequential(Conv(2 * c3, c3, 1), Conv(c3, c3))
        self.heads = nn.ModuleList([Head(c3, num_classes), Head(c4, num_classes)])
        self.export = False

    def raw(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        p8 = self.s8(self.stem(x))
        p16 = self.s16(p8)
        p32 = self.s32(p16)
        n16 = self.top16(torch.cat([F.interpolate(self.lat32(p32), scale_factor=2.0, mode="nearest"), p16], 1))
        n8 = self.top8(torch.cat([F.interpolate(self.lat16(n16), scale_factor=2.0, mode="nearest"), p8], 1))
        return [self.heads[0](n8), self.heads[1](n16)]

    def forward(self, x: torch.Tensor):
        outs = self.raw(x)
        if not self.export:
            return outs
        # YOLOv8 raw layout: [1, 4 + C, N], cx cy w h in input pixels, sigmoided class scores
        boxes, scores = [], []
        for (reg, cls), stride, anchors in zip(outs, STRIDES, self.anchor_buffers(), strict=True):
            ltrb = F.softplus(reg.flatten(2)) * stride  # [B, 4, HW]
            x1y1 = anchors - ltrb[:, :2]
            x2y2 = anchors + ltrb[:, 2:]
            boxes.append(torch.cat([(x1y1 + x2y2) / 2, x2y2 - x1y1], 1))
            scores.append(cls.flatten(2).sigmoid())
        return torch.cat([torch.cat(boxes, 2), torch.cat(scores, 2)], 1)

    def anchor_buffers(self) -> list[torch.Tensor]:
        return [anchor_points(INPUT_H // s, INPUT_W // s, s).T[None] for s in STRIDES]


def anchor_points(h: int, w: int, stride: int) -> torch.Tensor:
    """[h*w, 2] cell centres in input pixels, row-major (the order flatten(2) gives)."""
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    return torch.stack([(xs.flatten() + 0.5) * stride, (ys.flatten() + 0.5) * stride], 1)


# --- loss -------------------------------------------------------------------------------------


def box_iou_giou(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Element-wise IoU and GIoU of x1y1x2y2 boxes [..., 4]."""
    iw = (torch.min(a[..., 2], b[..., 2]) - torch.max(a[..., 0], b[..., 0])).clamp(min=0)
    ih = (torch.min(a[..., 3], b[..., 3]) - torch.max(a[..., 1], b[..., 1])).clamp(min=0)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter + 1e-7
    iou = inter / union
    cw = torch.max(a[..., 2], b[..., 2]) - torch.min(a[..., 0], b[..., 0])
    ch = torch.max(a[..., 3], b[..., 3]) - torch.min(a[..., 1], b[..., 1])
    hull = cw * ch + 1e-7
    return iou, iou - (hull - union) / hull


class DetectionLoss:
    def __init__(self, radius: float = 2.5):
        self.radius = radius
        self.anchors = [anchor_points(INPUT_H // s, INPUT_W // s, s) for s in STRIDES]
        self.strides = torch.cat([torch.full((len(a),), float(s)) for a, s in zip(self.anchors, STRIDES, strict=True)])
        self.points = torch.cat(self.anchors)

    def __call__(self, outs, targets: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        reg = torch.cat([r.flatten(2) for r, _ in outs], 2).transpose(1, 2)  # [B, N, 4]
        cls = torch.cat([c.flatten(2) for _, c in outs], 2).transpose(1, 2)  # [B, N, C]
        ltrb = F.softplus(reg) * self.strides[None, :, None]
        pred = torch.cat([self.points - ltrb[..., :2], self.points + ltrb[..., 2:]], -1)
        cls_target = torch.zeros_like(cls)
        box_losses, l1_losses, n_pos = [], [], 0
        for i, gt in enumerate(targets):
            if len(gt) == 0:
                continue
            g = gt[:, 1:]  # [M, 4]
            px, py = self.points[:, 0:1], self.points[:, 1:2]  # [N, 1]
            inside = (px > g[:, 0]) & (px < g[:, 2]) & (py > g[:, 1]) & (py < g[:, 3])
            gcx, gcy = (g[:, 0] + g[:, 2]) / 2, (g[:, 1] + g[:, 3]) / 2
            r = self.radius * self.strides[:, None]
            near = ((px - gcx).abs() < r) & ((py - gcy).abs() < r)
            cand = inside & near  # [N, M]
            area = ((g[:, 2] - g[:, 0]) * (g[:, 3] - g[:, 1]))[None].expand_as(cand)
            area = torch.where(cand, area, torch.full_like(area, float("inf")))
            best_area, owner = area.min(1)  # a cell inside two objects learns the smaller one
            pos = torch.isfinite(best_area)
            if not pos.any():
                continue
            idx = pos.nonzero().squeeze(1)
            gt_box = g[owner[idx]]
            iou, giou = box_iou_giou(pred[i, idx], gt_box)
            # task-aligned class target: IoU normalised so each object's best cell aims at 1
            q = iou.detach()
            best = torch.zeros(len(g)).scatter_reduce(0, owner[idx], q, "amax", include_self=True)
            q = (q / best[owner[idx]].clamp(min=1e-6)).clamp(0, 1)
            cls_target[i, idx, gt[owner[idx], 0].long()] = q
            box_losses.append((1 - giou) * q.clamp(min=0.2))
            target_ltrb = torch.cat([self.points[idx] - gt_box[:, :2], gt_box[:, 2:] - self.points[idx]], 1)
            l1_losses.append(((ltrb[i, idx] - target_ltrb).abs() / self.strides[idx, None]).mean(1))
            n_pos += len(idx)
        norm = max(float(cls_target.sum()), 1.0)
        loss_cls = F.binary_cross_entropy_with_logits(cls, cls_target, reduction="sum") / norm
        if box_losses:
            loss_box = torch.cat(box_losses).mean()
            loss_l1 = torch.cat(l1_losses).mean()
        else:
            loss_box = loss_l1 = reg.sum() * 0
        loss = loss_cls + 5.0 * loss_box + 1.0 * loss_l1
        return loss, {"cls": loss_cls.item(), "box": loss_box.item(), "l1": loss_l1.item(), "pos": n_pos}


# --- training ---------------------------------------------------------------------------------


class ModelEMA:
    """Exponential moving average of the weights: steadier boxes than the last step's."""

    def __init__(self, model: nn.Module, decay: float = 0.998):
        import copy

        self.ema = copy.deepcopy(model).eval()
        self.decay = decay
        self.updates = 0
        for p in self.ema.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = self.decay * (1 - math.exp(-self.updates / 300))  # ramp up early on
        msd = model.state_dict()
        for k, v in self.ema.state_dict().items():
            if v.dtype.is_floating_point:
                v.mul_(d).add_(msd[k].detach(), alpha=1 - d)
            else:
                v.copy_(msd[k])


def batch_tensors(images: np.ndarray, boxes: list[np.ndarray], rng: np.random.Generator, idx: np.ndarray):
    imgs, targets = [], []
    for j in idx:
        img, b = augment(rng, images[j], boxes[j])
        imgs.append(img)
        targets.append(torch.from_numpy(b))
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float().div_(255.0)
    return x.contiguous(memory_format=torch.channels_last), targets


def export_onnx(model: DemoDetector, path: Path, train_info: str) -> None:
    import onnx

    model = model.eval()
    model.export = True
    dummy = torch.zeros(1, 3, INPUT_H, INPUT_W)
    tmp = path.with_suffix(".tmp.onnx")
    torch.onnx.export(model, (dummy,), str(tmp), input_names=["images"], output_names=["output0"],
                      opset_version=17, dynamo=False, do_constant_folding=True)
    m = onnx.load(str(tmp))
    names = {i: n for i, n in enumerate(scene.CLASS_NAMES)}
    meta = {
        "description": "Inspection Station demo parts detector (synthetic PCB scene). " + train_info,
        "author": "Inspection Station",
        "task": "detect",
        "stride": str(max(STRIDES)),
        "batch": "1",
        "imgsz": str([INPUT_H, INPUT_W]),
        "names": str(names),
    }
    del m.metadata_props[:]
    for k, v in meta.items():
        m.metadata_props.add(key=k, value=v)
    m.producer_name = "inspection-station models/training/train.py"
    onnx.checker.check_model(m)
    onnx.save(m, str(path))
    tmp.unlink()
    model.export = False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1200, help="rendered training scenes")
    ap.add_argument("--iterations", type=int, default=700)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1234)
    # One torch thread: on a CPU shared with other work, OpenMP's spinning barriers made two
    # threads slower than one (measured); rendering uses `--workers` processes instead.
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--workers", type=int, default=2, help="processes rendering the training set")
    ap.add_argument("--cache", type=Path, default=None, help="npz cache of the rendered set")
    ap.add_argument("--out", type=Path, default=MODELS_DIR / "demo_parts.onnx")
    ap.add_argument("--checkpoint", type=Path, default=None, help="also save the torch weights here")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    images, boxes = build_dataset(args.images, args.seed, args.workers, args.cache)
    print(f"dataset: {len(images)} scenes, {sum(len(b) for b in boxes)} boxes, {time.time() - t0:.0f} s", flush=True)

    model = DemoDetector().to(memory_format=torch.channels_last)
    print(f"parameters: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M", flush=True)
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    warmup = min(300, args.iterations // 10)

    def lr_at(it: int) -> float:
        if it < warmup:
            return args.lr * (it + 1) / warmup
        t = (it - warmup) / max(1, args.iterations - warmup)
        return args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))

    loss_fn = DetectionLoss()
    ema = ModelEMA(model)
    order = rng.permutation(len(images))
    cursor = 0
    t1 = time.time()
    model.train()
    for it in range(args.iterations):
        if cursor + args.batch > len(order):
            order, cursor = rng.permutation(len(images)), 0
        idx = order[cursor : cursor + args.batch]
        cursor += args.batch
        for g in opt.param_groups:
            g["lr"] = lr_at(it)
        x, targets = batch_tensors(images, boxes, rng, idx)
        loss, parts = loss_fn(model(x), targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        ema.update(model)
        if it % 50 == 0 or it == args.iterations - 1:
            el = time.time() - t1
            print(f"it {it:5d}/{args.iterations} loss {float(loss):.3f} cls {parts['cls']:.3f} box {parts['box']:.3f} "
                  f"l1 {parts['l1']:.3f} pos {parts['pos']} lr {lr_at(it):.2e} {el:.0f}s "
                  f"eta {el / (it + 1) * (args.iterations - it - 1):.0f}s", flush=True)
    minutes = (time.time() - t0) / 60
    if args.checkpoint:
        torch.save(ema.ema.state_dict(), args.checkpoint)
    info = (f"Trained {args.iterations} iterations x batch {args.batch} on {args.images} rendered scenes, "
            f"seed {args.seed}, {minutes:.0f} min on CPU.")
    export_onnx(ema.ema, args.out, info)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB); {minutes:.1f} min in all", flush=True)


if __name__ == "__main__":
    main()
