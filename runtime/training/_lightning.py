"""BiofeedbackCallback: the Biofeedback helper as a PyTorch Lightning callback.

Needs the optional ``lightning`` package (``pip install lightning``; it keeps the pinned
torch). The callback opens a :class:`Biofeedback` on the LightningModule when fitting starts,
marks a step boundary after every optimiser step (``on_train_batch_end``), and closes it when
fitting ends or fails. Under Lightning's DDP strategies the process group is initialised
before ``on_fit_start``, so every rank applies the same control at the same step.
"""

from __future__ import annotations

from typing import Any

try:
    import lightning.pytorch as pl
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "BiofeedbackCallback needs the optional 'lightning' package: pip install lightning"
    ) from exc

from runtime.training._biofeedback import Biofeedback
from runtime.training._source import ControlSource


class BiofeedbackCallback(pl.Callback):
    """Apply control from ``client`` to the LightningModule at each training step.

    Keyword arguments go to :class:`Biofeedback` (``repair``, ``status_every``,
    ``distributed_mode``, ``repair_log``, ...). An optimiser with ``apply_control`` (VWPR)
    among the trainer's optimisers is driven too, unless ``optimizer`` is given.
    """

    def __init__(self, client: ControlSource | None, **biofeedback: Any) -> None:
        super().__init__()
        self.client = client
        self.options = biofeedback
        self.biofeedback: Biofeedback | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        options = dict(self.options)
        if "optimizer" not in options:
            driven = [o for o in trainer.optimizers if hasattr(o, "apply_control")]
            options["optimizer"] = driven[0] if driven else None
        self.biofeedback = Biofeedback(pl_module, self.client, **options)
        self.biofeedback.start()

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self.biofeedback is not None:
            self.biofeedback.step()

    def _close(self) -> None:
        if self.biofeedback is not None:
            self.biofeedback.close()

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._close()

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        self._close()
