"""The inner loop: the one implementation of few-shot adaptation, for meta-training and deployment alike.

Meta-training (MAML, first-order MAML, Reptile), meta-validation and ``adapt``/``predict`` all run
:func:`inner_loop`, and the number of steps deployed is the number meta-trained and validated
(:func:`deployment_steps`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..predictors.gnn import GraphRegressor, functional_forward, regression_rank_loss

#: grad modes of :func:`inner_loop`
GRAD_MODES = ("none", "first", "second")
#: Upper bound of inner-step counts (``inner_steps``, ``reptile_steps``, adapt's ``inner_steps``): every step
#: is a full forward/backward pass on the support set.
MAX_INNER_STEPS = 1000


def deployment_steps(meta: dict) -> int:
    """Inner steps a checkpoint was meta-trained *and validated* with (Reptile adapts with ``reptile_steps``;
    a deep-kernel GP head adapts by conditioning, with no gradient step)."""
    if meta.get("algorithm") == "dkt":
        return 0
    if meta.get("algorithm") == "reptile":
        return int(meta.get("reptile_steps", meta["inner_steps"]))
    return int(meta["inner_steps"])


def inner_loop(
    model: GraphRegressor,
    params: dict[str, torch.Tensor],
    inputs: tuple,
    y: torch.Tensor,
    corr: torch.Tensor,
    steps: int,
    lrs: dict[str, torch.Tensor] | float,
    rank_weight: float,
    grad: str = "none",
    keep: Sequence[int] = (),
) -> list[dict[str, torch.Tensor]]:
    """``steps`` gradient steps of the support loss from ``params``; the module itself is never touched.

    ``grad`` says what flows back to ``params``: ``"second"`` (MAML: differentiate through the
    inner gradients), ``"first"`` (first-order MAML / Reptile: the update path only), ``"none"``
    (deployment: every step detached). A step whose loss or whose updated parameters are not finite
    stops the loop, keeping the last finite parameters. Returns the parameters after each step count in ``keep``
    (in order), or ``[final]`` when ``keep`` is empty.
    """
    if grad not in GRAD_MODES:
        raise ValueError(f"inner_loop: grad must be one of {GRAD_MODES}, got {grad!r}")
    names = list(params)
    if grad == "none":
        params = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    out = [params] if 0 in keep else []
    with torch.enable_grad():
        for step in range(1, steps + 1):
            loss = regression_rank_loss(functional_forward(model, params, inputs, corr), y, rank_weight)
            new = None
            if torch.isfinite(loss):
                grads = torch.autograd.grad(
                    loss, [params[k] for k in names], create_graph=grad == "second", allow_unused=True
                )
                new = {}
                for k, g in zip(names, grads):
                    if g is None:
                        new[k] = params[k]
                        continue
                    lr = lrs[k] if isinstance(lrs, dict) else lrs
                    if grad == "none":
                        new[k] = (params[k] - lr * g).detach().requires_grad_(True)
                    else:
                        new[k] = params[k] - lr * (g if grad == "second" else g.detach())
            # a diverging loss, or a step that overflows (checked here: after the last step no loss would see it)
            if new is None or not all(bool(torch.isfinite(v).all()) for v in new.values()):
                out += [params] * sum(1 for k in keep if k >= step)
                break
            params = new
            if step in keep:
                out.append(params)
    if grad == "none":
        out = [{k: v.detach() for k, v in p.items()} for p in out]
        params = {k: v.detach() for k, v in params.items()}
    return out if keep else [params]
