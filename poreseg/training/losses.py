"""The training losses of the three networks, apart from their trainers (``train_parser``,
``train_portrait``, ``train_psnet``, ``synthetic_ceiling``) and from the evaluation.

    parser_loss    cross-entropy + Dice + a consensus term: pixels of one object agree on their class
    portrait_loss  cross-entropy + Dice of the person
    pore_loss      PS-Net on noisy coarse labels: generalised cross-entropy (which bounds the pull of a
                   wrong label) with pores up-weighted, a Tversky term that weighs missed pores more
                   than false ones, and soft targets for faint spots
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from poreseg.classes import FAINT, IGNORE, STRUCTURE, is_soft, soft_probability

CONSENSUS_WEIGHT = 0.5
DICE_WEIGHT = 0.5

GCE_Q = 0.7  # generalised cross-entropy exponent: 0 is cross-entropy, 1 is MAE (most noise-tolerant)
# Pores are ~3% of the hard-labelled pixels; a full balance (33x) over-detects.
MAX_PORE_WEIGHT = 10.0
# Faint dark spots (coarse label FAINT): some are pores a person would mark, most are skin texture. Their
# soft target keeps them under any sensible threshold but above clear skin, so the network grades them
# instead of calling every dark speck a pore (as it does when they are ignored).
FAINT_TARGET = 0.25
FAINT_WEIGHT = 1.0
# Structures (hairs, creases, highlights, drawn lines: coarse label STRUCTURE) are few pixels against the
# skin; unweighted, a network learned to mark them (11.6 false detections per cm2 on the structures
# benchmark against DoGPore's 3.7).
STRUCTURE_WEIGHT = 5.0
# Soft pseudo labels (a network's probability p) are matched in logits, where a threshold's neighbourhood
# is as wide as the rest; cross-entropy on p let the pores' peaks sink (the next network's probabilities
# were flatter, and at the same threshold it found 0.9 pores per cm2 on real faces where its teacher found 12.2). Logits beyond
# +-SOFT_LOGIT_RANGE (p < 2% or > 98%) all mean the same.
SOFT_LOGIT_RANGE = 4.0
SOFT_WEIGHT = 1.0
TVERSKY_FALSE_POSITIVE, TVERSKY_FALSE_NEGATIVE = 0.3, 0.7
TVERSKY_WEIGHT = 1.0


def consensus_loss(probabilities: torch.Tensor, objects: torch.Tensor) -> torch.Tensor:
    classes = probabilities.shape[1]
    flat = probabilities.permute(0, 2, 3, 1).reshape(-1, classes)
    ids = objects.reshape(-1)
    keep = ids >= 0
    flat, ids = flat[keep], ids[keep]
    count = int(ids.max()) + 1
    sums = torch.zeros(count, classes).index_add_(0, ids, flat)
    means = sums / torch.bincount(ids, minlength=count).clamp(min=1)[:, None]
    return ((flat - means[ids].detach()) ** 2).sum(1).mean()


def dice_loss(probabilities: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    valid = (labels != IGNORE).unsqueeze(1)
    one_hot = F.one_hot(labels.clamp(max=probabilities.shape[1] - 1), probabilities.shape[1]).permute(0, 3, 1, 2)
    p, t = probabilities * valid, one_hot * valid
    inter, total = (p * t).sum((0, 2, 3)), (p + t).sum((0, 2, 3))
    present = t.sum((0, 2, 3)) > 0
    return (1 - (2 * inter + 1) / (total + 1))[present].mean()


def parser_loss(logits: torch.Tensor, targets: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    labels, objects = targets
    logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=False)
    probabilities = logits.softmax(1)
    return (F.cross_entropy(logits, labels, ignore_index=IGNORE)
            + DICE_WEIGHT * dice_loss(probabilities, labels)
            + CONSENSUS_WEIGHT * consensus_loss(probabilities, objects))


def portrait_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=False)
    valid = labels != IGNORE
    person = logits.softmax(1)[:, 1][valid]
    truth = (labels[valid] == 1).float()
    dice = 1 - (2 * (person * truth).sum() + 1) / (person.sum() + truth.sum() + 1)
    return F.cross_entropy(logits, labels, ignore_index=IGNORE) + dice


def pore_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Noise-tolerant loss on labelled pixels (``labels`` 1 pore, 0 or STRUCTURE no pore, FAINT and the
    soft pseudo labels graded, IGNORE skipped):
    generalised cross-entropy and a Tversky term on the hard labels, binary cross-entropy towards
    FAINT_TARGET on the faint spots, and on the soft pseudo labels a smooth L1 between the logits and
    their probability's logit (both within +-SOFT_LOGIT_RANGE)."""
    hard = (labels == 0) | (labels == 1) | (labels == STRUCTURE)
    faint = labels == FAINT
    soft = is_soft(labels)
    loss = logits.sum() * 0.0
    if bool(faint.any()):
        loss = loss + FAINT_WEIGHT * F.binary_cross_entropy_with_logits(
            logits[:, 0][faint], torch.full((int(faint.sum()),), FAINT_TARGET))
    if bool(soft.any()):
        target = torch.logit(soft_probability(labels[soft].float()), eps=1e-3)
        loss = loss + SOFT_WEIGHT * F.smooth_l1_loss(logits[:, 0][soft].clamp(-SOFT_LOGIT_RANGE, SOFT_LOGIT_RANGE),
                                                     target.clamp(-SOFT_LOGIT_RANGE, SOFT_LOGIT_RANGE))
    if not bool(hard.any()):
        return loss
    probability = torch.sigmoid(logits[:, 0][hard])
    pore = (labels[hard] == 1).float()
    p_label = torch.where(pore > 0, probability, 1 - probability).clamp_min(1e-6)
    pores = pore.sum()
    pore_weight = ((pore.numel() - pores) / pores.clamp_min(1)).clamp(1.0, MAX_PORE_WEIGHT)
    weights = torch.where(pore > 0, pore_weight, torch.ones_like(pore))
    weights = torch.where(labels[hard] == STRUCTURE, STRUCTURE_WEIGHT, weights)
    gce = (weights * (1 - p_label ** GCE_Q) / GCE_Q).sum() / weights.sum()
    true_pos = (probability * pore).sum()
    tversky = 1 - (true_pos + 1) / (true_pos + TVERSKY_FALSE_POSITIVE * (probability * (1 - pore)).sum()
                                    + TVERSKY_FALSE_NEGATIVE * ((1 - probability) * pore).sum() + 1)
    return loss + gce + TVERSKY_WEIGHT * tversky
