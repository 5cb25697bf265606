"""Two-process DDP on CPU (gloo) equals one process on the concatenated batch.

One SGD step (no momentum: the update is ``-lr * grad``, so a wrong gradient scale shows) under
Lightning's ``ddp_spawn`` with 2 ranks against a hand-run step on ``cat(rank 0 batch, rank 1
batch)``. BatchNorm normalises per device in DDP, so the reference embeds each half separately
(as each rank does) and computes the loss once on the concatenated embeddings. Validation metrics
of the two ranks, gathered and restored to dataset order, equal one process's.
"""

from __future__ import annotations

import copy

import pytest
import pytorch_lightning as pl
import torch
from batch_recorder import BatchRecorder, recorded

from metriclab.build import (
    build_datamodule,
    build_loss,
    build_miner,
    build_model,
    build_module,
)
from metriclab.callbacks.evaluator import RetrievalEvaluator
from metriclab.data import MPerClassSampler

pytestmark = pytest.mark.slow

SGD = [
    "optimizer=sgd",
    "optimizer.momentum=0.0",
    "optimizer.nesterov=false",
    "optimizer.weight_decay=0.0",
    "optimizer.lr=0.05",
    "scheduler=none",
    "data.train_augment=none",  # no random augmentation: ranks and reference see the same pixels
    "data.batch_size=24",  # 3 classes x m=8 per rank
    "sampler.m=8",
]


def build(cfg):
    datamodule = build_datamodule(cfg)
    model = build_model(cfg)
    loss = build_loss(cfg, datamodule.num_classes, model.embedding_size)
    return datamodule, build_module(cfg, model, loss, build_miner(cfg, loss))


def trainer(devices: int, **kwargs) -> pl.Trainer:
    return pl.Trainer(
        accelerator="cpu",
        devices=devices,
        strategy="ddp_spawn" if devices > 1 else "auto",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
        num_sanity_val_steps=0,
        **kwargs,
    )


def first_batch(datamodule, rank: int, world: int) -> tuple[torch.Tensor, torch.Tensor]:
    dataset = datamodule.datasets["train"]
    sampler = MPerClassSampler(
        dataset.labels,
        datamodule.batch_size,
        m=8,
        seed=datamodule.seed,
        num_replicas=world,
        rank=rank,
    )
    sampler.set_epoch(0)
    items = [dataset[i] for i in next(iter(sampler))]
    return torch.stack([x for x, _, _ in items]), torch.tensor([y for _, y, _ in items])


@pytest.mark.parametrize(
    ("loss", "miner"),
    [("multisim", "multisim"), ("proxy_anchor", "none")],
)
def test_one_ddp_step_equals_one_process_on_the_concatenated_batch(make_cfg, loss, miner):
    cfg = make_cfg(f"loss={loss}", f"miner={miner}", *SGD)
    datamodule, module = build(cfg)
    reference = copy.deepcopy(module)
    initial = {name: p.detach().clone() for name, p in module.named_parameters()}

    ddp = trainer(2, max_steps=1, limit_val_batches=0)
    ddp.fit(module, datamodule=datamodule)
    ddp_loss = float(ddp.callback_metrics["train/loss_step"])

    (x0, y0), (x1, y1) = (first_batch(datamodule, rank, 2) for rank in (0, 1))
    reference.train()
    embeddings = torch.cat([reference.model(x0), reference.model(x1)])
    labels = torch.cat([y0, y1])
    tuples = reference.miner(embeddings, labels) if reference.miner is not None else None
    value = reference.loss(embeddings, labels, *([tuples] if tuples is not None else []))
    optimizer = reference.configure_optimizers()["optimizer"]
    optimizer.zero_grad()
    value.backward()
    value = value.detach()
    optimizer.step()

    assert ddp_loss == pytest.approx(float(value), rel=1e-5, abs=1e-6)
    expected = dict(reference.named_parameters())
    moved = 0
    for name, param in module.named_parameters():
        torch.testing.assert_close(param, expected[name], rtol=1e-5, atol=1e-6, msg=name)
        moved += int(not torch.equal(param, initial[name]))
    assert moved >= len(initial) // 2  # the step really updated the parameters


def test_ddp_validation_metrics_equal_one_process(make_cfg):
    cfg = make_cfg("data.val_classes=2", "+data.eval_batch_size=50")
    datamodule, module = build(cfg)

    single_eval = RetrievalEvaluator(nmi_on_val=True)
    trainer(1, callbacks=[single_eval]).validate(module, datamodule=datamodule, verbose=False)
    single = single_eval.results["val"]

    ddp = trainer(2, callbacks=[RetrievalEvaluator(nmi_on_val=True)])
    ddp.validate(module, datamodule=datamodule, verbose=False)
    for key, value in single.items():
        assert float(ddp.callback_metrics[key]) == pytest.approx(value, abs=1e-6), key


def test_restore_order_sorts_by_index_and_drops_padding():
    from metriclab.callbacks.evaluator import restore_order

    embeddings = torch.arange(12, dtype=torch.float32).view(6, 2)
    indices = torch.tensor([2, 0, 4, 1, 3, 0])  # rank-interleaved, index 0 repeated as padding
    labels = indices * 10
    emb, lab = restore_order(embeddings, labels, indices)
    assert lab.tolist() == [0, 10, 20, 30, 40]
    assert emb[:, 0].tolist() == [2.0, 6.0, 0.0, 8.0, 4.0]


@pytest.mark.parametrize("sampler", ["sampler=m_per_class", "~sampler"])
def test_ddp_ranks_draw_disjoint_batches_new_every_epoch(make_cfg, tmp_path, sampler):
    """Two ranks of a real ``ddp_spawn`` fit: per epoch, no item is in both ranks' batches; each
    epoch's batches differ from the previous epoch's (``~sampler``: plain random batches)."""
    cfg = make_cfg(sampler, "data.batch_size=24", "sampler.m=8" if "m_per" in sampler else "seed=1")
    datamodule, module = build(cfg)
    log = tmp_path / "batches.jsonl"
    ddp = trainer(2, max_epochs=2, limit_train_batches=3, limit_val_batches=0,
                  callbacks=[BatchRecorder(str(log))])  # fmt: skip
    ddp.fit(module, datamodule=datamodule)
    batches = recorded(log)
    assert sorted(batches) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for epoch in (0, 1):
        rank0 = {i for batch in batches[(epoch, 0)] for i in batch}
        rank1 = {i for batch in batches[(epoch, 1)] for i in batch}
        assert not rank0 & rank1, epoch
    for rank in (0, 1):
        assert batches[(0, rank)] != batches[(1, rank)], rank
