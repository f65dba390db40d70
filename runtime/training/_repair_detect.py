"""GoldenRepair's detection: running per-feature statistics and the checks that prove a
batch clean.

A fracture is a non-finite activation, or a finite one whose ``|z|`` against the running
statistics exceeds the threshold. The statistics start from the first batch's finite values
and fold in training batches (repaired first) with weight ``max(momentum, 1/(n + 1))``.

On the CPU a forward is first checked cheaply: the batch's global range against the band
every feature accepts (one pass), then the range of its z-scores (two passes, exact); only
a batch that fails both goes element by element (``_repair_blend``).
"""

from __future__ import annotations

import math

import torch

from runtime.training._repair_site import COUNTER_NAMES, RANGE, ZSCORES, Site


def init_site(site: Site, y: torch.Tensor, max_repair_entropy_bits: float | None) -> None:
    """Start the running statistics from the first batch's finite values, allocate the
    counters, and set the entropy limit (``log2(n/4)`` for n elements per sample unless
    ``max_repair_entropy_bits`` is given)."""
    dim = site.feature_dim % y.dim()
    with torch.no_grad():
        flat = y.detach().movedim(dim, -1).reshape(-1, y.shape[dim]).float()
        finite = torch.isfinite(flat)
        count = finite.sum(0).clamp_min(1)
        mean = torch.where(finite, flat, 0.0).sum(0) / count
        var = (torch.where(finite, flat - mean, 0.0) ** 2).sum(0) / count
        site.stats = torch.stack([mean, var]).to(y.dtype)
        site.counters = torch.zeros(len(COUNTER_NAMES), dtype=torch.int64, device=y.device)
        site.extremes = torch.tensor([math.inf, 0.0], dtype=torch.float32, device=y.device)
        site.extremes_reset = site.extremes.clone()
        refresh_scale(site)
    per_sample = y[0].numel()
    limit = max_repair_entropy_bits
    site.entropy_limit_bits = math.log2(max(per_sample / 4, 1.0)) if limit is None else limit


def resize_site(site: Site, y: torch.Tensor, branchless: bool | None) -> None:
    """Shapes and buffers for activations shaped like ``y`` (kept until the shape changes).

    ``branchless`` None picks branch-free on accelerators and the skip-when-clean check on
    the CPU.
    """
    dim = site.feature_dim % y.dim()
    shape = [1] * y.dim()
    shape[dim] = y.shape[dim]
    site.shape = shape
    site.reduce_dims = [d for d in range(y.dim()) if d != dim]
    # z-scores go into a buffer reused across forwards: a fresh allocation of an
    # activation-sized tensor costs as much as the arithmetic on the CPU.
    site.z_buffer = torch.empty(y.shape, dtype=y.dtype, device=y.device)
    site.branchless = branchless if branchless is not None else y.device.type != "cpu"
    refresh_scale(site)


def refresh_scale(site: Site) -> None:
    """Recompute ``1/std`` and the z shift from the statistics (after every change)."""
    mean, var = site.stats[0], site.stats[1]
    # A dead feature (variance 0) must not turn every later activation into an outlier.
    floor = var.mean() * 1e-4 + 1e-8
    site.inv_std = torch.rsqrt(torch.maximum(var, floor))
    site.shift = -mean * site.inv_std
    site.version += 1
    site.fast_check = None  # the bounds follow the statistics
    if site.shape is not None:
        site.shift_b = site.shift.view(site.shape)
        site.inv_b = site.inv_std.view(site.shape)


#: After warm-up the statistics are updated every ``max(1, train_calls // STATS_RAMP)``
#: forwards, up to ``stats_every``: often while training moves the activations fast (the
#: first few thousand steps), rarely once it has settled.
STATS_RAMP = 16


def compute_stats_interval(train_calls: int, stats_every: int) -> int:
    """Forwards between two statistics updates after ``train_calls`` training forwards:
    ``min(stats_every, max(1, train_calls // STATS_RAMP))``.

    A fixed ``stats_every`` (128) from the end of warm-up left the statistics of the first
    batches in force while a young network's activations grew several-fold: on digits with
    an MLP, 8 % of a clean run's activations were "repaired" (docs/benchmarks.md,
    bench_repair). Growing the interval with the run keeps their cost (an update costs
    about ten clean checks) to ``STATS_RAMP · ln(2)`` updates per doubling of the run.
    """
    return min(stats_every, max(1, train_calls // STATS_RAMP))


def count_training_call(site: Site, warmup_steps: int, stats_every: int) -> bool:
    """Count a checked training forward; True when its batch is due to update the
    statistics: during warm-up, then once ``site.stats_interval`` forwards (at most
    ``stats_every``, see :func:`compute_stats_interval`) have passed since the last update
    (counted over every forward, so sampling does not let them go stale)."""
    site.train_calls += 1
    if site.train_calls <= warmup_steps or site.forwards - site.stats_at >= site.stats_interval:
        site.stats_at = site.forwards
        return True
    return False


def update_stats(
    site: Site,
    y: torch.Tensor,
    *,
    momentum: float,
    warmup_steps: int,
    threshold: float,
    branchless: bool | None,
) -> None:
    """Fold one training batch of (finite) activations into the running statistics.

    The batch moments are taken of z-scores under the current statistics, which keeps
    the variance exact when the mean is large against the spread. (``torch.var_mean``
    over the batch dimension would be one call, but costs 200 µs on a 64×512 batch.)
    """
    if y.dim() < 2:
        y = y.unsqueeze(0)  # one unbatched sample, as in GoldenRepair._forward
    if site.z_buffer is None or site.z_buffer.shape != y.shape:
        resize_site(site, y, branchless)
    with torch.no_grad():
        z = torch.addcmul(site.shift_b, y, site.inv_b, out=site.z_buffer)
        dims = site.reduce_dims
        mean_z = z.mean(dims)
        sq_z = z.square_().mean(dims)
        std = site.inv_std.reciprocal()
        # One value per feature (an unbatched sample) has no spread of its own: around
        # its own mean its variance is 0, which would drain the running variance and
        # turn ordinary values into fractures. Its squared distance from the running
        # mean is the estimate then.
        spread = sq_z - mean_z * mean_z if y.numel() > site.stats.shape[1] else sq_z
        batch = torch.stack([site.stats[0] + mean_z * std, spread * std * std])
        weight = max(momentum, 1.0 / (site.train_calls + 1))
        site.stats.lerp_(batch, weight)
        refresh_scale(site)
    if not site.branchless and site.train_calls >= warmup_steps and site.shape:
        # Re-arm the fast path here rather than in a slow forward.
        low, high = compute_band(site, threshold)
        site.fast_check = RANGE if low <= high else ZSCORES


def compute_band(site: Site, threshold: float) -> tuple[float, float]:
    """The value range every feature accepts under the current statistics and threshold
    (empty when low > high); recomputed only when either changed."""
    if site.band_key != (threshold, site.version):
        with torch.no_grad():
            reach = threshold * site.inv_std.reciprocal()
            low_band = (site.stats[0] - reach).max().item()
            high_band = (site.stats[0] + reach).min().item()
        site.band = (low_band, high_band)
        site.band_key = (threshold, site.version)
    return site.band


def check_clean_by_range(site: Site, y: torch.Tensor, detect: bool, threshold: float) -> bool:
    """CPU: True when the batch's global range proves every value clean (one pass).

    If ``min(y)`` and ``max(y)`` are finite and lie inside the band every feature
    accepts (``max_f(mean_f − t·std_f)`` to ``min_f(mean_f + t·std_f)``), no element
    can be a fracture, and the next forwards try this check first. When the features'
    ranges are too far apart for that, the caller's z-score range decides (exact, two
    passes), and when that fails, the element-by-element check.
    """
    if not detect:  # warm-up: only non-finite values are fractures
        low, high = torch.aminmax(y.detach())
        return math.isfinite(low.item()) and math.isfinite(high.item())
    band_low, band_high = compute_band(site, threshold)
    if band_low <= band_high:
        low, high = torch.aminmax(y.detach())
        if band_low <= low.item() and high.item() <= band_high:  # False for NaN
            site.fast_check = RANGE
            return True
    return False


def compute_zscore_range(site: Site, y: torch.Tensor) -> tuple[float, float]:
    """Lowest and highest z-score of the batch (NaN when any is); the z-scores are left
    in the site's z buffer, which must be shaped like ``y``."""
    z = torch.addcmul(site.shift_b, y, site.inv_b, out=site.z_buffer)
    low, high = torch.aminmax(z)
    return low.item(), high.item()


def check_zscores_clean(site: Site, y: torch.Tensor, threshold: float) -> bool:
    """Fast path: True when every z-score of the batch is within the threshold (False
    for NaN, and for a batch shaped unlike the site's z buffer)."""
    if y.shape != site.z_buffer.shape:
        return False
    low, high = compute_zscore_range(site, y)
    return -threshold <= low and high <= threshold
