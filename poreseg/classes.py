"""Face parsing classes. Ids are fixed: saved label maps and later stages depend on them."""
import numpy as np

CLASSES: tuple[str, ...] = (
    "background",  # 0
    "skin",  # 1 face, ears and neck
    "brow",  # 2
    "eye",  # 3
    "nose",  # 4
    "lips",  # 5
    "mouth",  # 6 inside of the mouth, teeth
    "hair",  # 7 head and facial hair
    "body",  # 8 clothes and other non-skin parts of the person
    "occluder",  # 9 anything in front of the face: hands, masks, glasses frames, objects
)
BACKGROUND, SKIN, BROW, EYE, NOSE, LIPS, MOUTH, HAIR, BODY, OCCLUDER = range(len(CLASSES))
FACIAL_FEATURES = (BROW, EYE, NOSE, LIPS, MOUTH)
IGNORE = 255  # training labels only: pixels the loss skips
# PS-Net's training labels only: a faint dark spot that may or may not be a pore, a soft target.
FAINT = 2
# PS-Net's training labels only: a structure a person would never call a pore (hair, crease, highlight,
# drawn line): no pore, taught with extra weight.
STRUCTURE = 3
# PS-Net's pseudo labels only: a previous network's probability p as a soft target, stored as the label
# SOFT_FIRST + round(p * SOFT_LEVELS) (4 ... 254), so that soft targets travel through the same uint8
# warps, patches and drawn negatives as the hard labels.
SOFT_FIRST = 4
SOFT_LEVELS = 250


def soft_label(probability):
    """The pseudo label (uint8 array) of a probability array."""
    return (SOFT_FIRST + np.rint(np.clip(probability, 0, 1) * SOFT_LEVELS)).astype(np.uint8)


def is_soft(labels):
    """Which of ``labels`` (a numpy array or torch tensor) are soft pseudo labels."""
    return (labels >= SOFT_FIRST) & (labels != IGNORE)


def soft_probability(soft_labels):
    """The probabilities that soft pseudo labels stand for (floats, numpy or torch as given)."""
    return (soft_labels - SOFT_FIRST) / SOFT_LEVELS

# RGB colours for overlays and legends.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0), (255, 204, 153), (102, 51, 0), (0, 102, 255), (0, 204, 102),
    (230, 40, 60), (120, 0, 90), (153, 102, 51), (110, 110, 200), (255, 230, 0),
)
