"""A resumable training loop: cosine learning rate, periodic checkpoints, validation callback."""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable, Iterator

import torch


def start_from(model: torch.nn.Module, init: Path | None, checkpoint: Path, log: Callable[[str], None] = print,
               grown: bool = False) -> None:
    """Load the weights file ``init`` (a fine-tune's start) into ``model``, unless ``checkpoint`` exists: a
    resumed run goes on from its own state. ``grown``: ``model`` may have blocks that ``init`` lacks (added
    since, made to start as the identity); they keep their initial values."""
    if init and not checkpoint.exists():
        result = model.load_state_dict(torch.load(init, map_location="cpu", weights_only=True)["model"],
                                       strict=not grown)
        if result.unexpected_keys:
            raise ValueError(f"{init} holds tensors the model lacks, e.g. {result.unexpected_keys[0]}")
        grown_blocks = sorted({key.split(".")[0] for key in result.missing_keys})
        log(f"starting from {init}" + (f" (new blocks {', '.join(grown_blocks)})" if grown_blocks else ""))


def train(model: torch.nn.Module, batches: Iterator, loss_fn: Callable, steps: int, checkpoint: Path,
          lr: float = 2e-3, validate: Callable[[], dict] | None = None, every: int = 200,
          log: Callable[[str], None] = print) -> None:
    """Runs until ``steps``; restarts from ``checkpoint`` if it exists, saves it every ``every`` steps."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    step = 0
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
        log(f"resumed from {checkpoint} at step {step}")
    started, running = time.time(), 0.0
    model.train()
    while step < steps:
        warmup = min(1.0, (step + 1) / 200)
        for group in optimizer.param_groups:
            group["lr"] = lr * warmup * 0.5 * (1 + math.cos(math.pi * step / steps))
        inputs, targets = next(batches)
        loss = loss_fn(model(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
        if step % 20 == 0:
            log(f"step {step}/{steps} loss {running:.4f} lr {optimizer.param_groups[0]['lr']:.2e} "
                f"{(time.time() - started) / 60:.1f} min")
        if step % every == 0 or step == steps:
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step},
                       checkpoint.with_suffix(".tmp"))
            checkpoint.with_suffix(".tmp").replace(checkpoint)
            if validate:
                model.eval()
                log(f"step {step} validation {validate()}")
                model.train()
