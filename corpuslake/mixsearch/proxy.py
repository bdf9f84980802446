"""One proxy run: a small causal language model trained on CPU, then its loss on the target tokens.

Same config, seed and tokens give the same loss: the initialisation and the batch order come from the
seed, torch runs deterministic kernels on a fixed number of threads, and nothing reads the clock.
"""

import math
import resource
import time
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from corpuslake.mixsearch.config import ProxyConfig
from corpuslake.mixsearch.streams import Tokens

PROXY_CODE = "2"
"""Changes whenever the model or its training changes: part of every search id, so runs recorded by an
older proxy are never reused."""


@dataclass(frozen=True)
class ProxyResult:
    """What one proxy run measured."""

    tokens_trained: int
    """Training tokens seen (windows times context: the first token of a window is only an input)."""
    target_loss: float
    """Mean cross-entropy (nats per token) on the target."""
    cpu_seconds: float
    """User and system CPU of this process while the proxy trained and was scored."""
    wall_seconds: float
    """Elapsed time of the same."""


class _Block(nn.Module):
    def __init__(self, config: ProxyConfig) -> None:
        super().__init__()
        self.heads = config.heads
        self.norm1, self.norm2 = nn.LayerNorm(config.d_model), nn.LayerNorm(config.d_model)
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.out = nn.Linear(config.d_model, config.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(config.d_model, 4 * config.d_model), nn.GELU(), nn.Linear(4 * config.d_model, config.d_model)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(batch, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        attended = functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.out(attended.transpose(1, 2).reshape(batch, length, width))
        return cast(torch.Tensor, x + self.mlp(self.norm2(x)))


class ProxyModel(nn.Module):
    """A GPT-style decoder: token and position embeddings, pre-norm blocks, output tied to the embedding."""

    def __init__(self, config: ProxyConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(config.vocab, config.d_model)
        self.position = nn.Embedding(config.context, config.d_model)
        self.blocks = nn.ModuleList(_Block(config) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.d_model)
        # GPT-2's initialisation: with the output tied to the embedding, torch's default N(0, 1) makes the
        # first logits as wide as the model (loss far above log(vocab)) and a short proxy never recovers.
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids) + self.position(torch.arange(ids.shape[1]))
        for block in self.blocks:
            x = block(x)
        return cast(torch.Tensor, self.norm(x) @ self.embed.weight.T)


def train_and_score(config: ProxyConfig, windows: Tokens, target: Tokens, seed: int) -> ProxyResult:
    """Train a fresh proxy (initialised from ``seed``) for one pass over ``windows`` (rows of
    ``context + 1`` tokens), then score it on ``target``."""
    start_cpu, start_wall = _cpu(), time.monotonic()
    torch.set_num_threads(config.threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    model = ProxyModel(config)
    data = torch.from_numpy(windows)
    steps = max(1, math.ceil(len(data) / config.batch))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.1)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _rate(step, steps))
    model.train()
    for step in range(steps):
        batch = data[step * config.batch : (step + 1) * config.batch]
        logits = model(batch[:, :-1])
        loss = functional.cross_entropy(logits.reshape(-1, config.vocab), batch[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
    return ProxyResult(
        len(data) * config.context, evaluate(model, config, target), _cpu() - start_cpu, time.monotonic() - start_wall
    )


def evaluate(model: ProxyModel, config: ProxyConfig, target: Tokens) -> float:
    """Mean cross-entropy of ``model`` over the target, cut into windows of ``context + 1`` tokens (the
    last partial window dropped)."""
    width = config.context + 1
    windows = torch.from_numpy(target[: len(target) // width * width].reshape(-1, width))
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for first in range(0, len(windows), config.batch):
            batch = windows[first : first + config.batch]
            logits = model(batch[:, :-1])
            total += float(
                functional.cross_entropy(logits.reshape(-1, config.vocab), batch[:, 1:].reshape(-1), reduction="sum")
            )
            count += batch[:, 1:].numel()
    return total / count


def _rate(step: int, steps: int) -> float:
    """Linear warm-up over the first tenth of the steps, then cosine decay to a tenth of the peak."""
    warm = max(1, steps // 10)
    if step < warm:
        return (step + 1) / warm
    progress = (step - warm) / max(1, steps - warm)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def parameter_count(config: ProxyConfig) -> int:
    return sum(int(np.prod(p.shape)) for p in ProxyModel(config).parameters())
