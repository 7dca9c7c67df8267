"""Face parsing at any input size: find the face, parse a crop of it, paste the labels back.

Three passes of one network: a *find* pass over the whole (letterboxed) image locates the facial
features of every face; a *crop* pass parses a square crop around the largest face's features at the
network's resolution; an *eye* pass looks again, closer, at the eyes for glasses frames, which are
thinner than the crop pass resolves. Labels outside the crop come from the find pass.

Every view is parsed as it is and mirrored, and the two answers are summed: the network's strided layers
are not mirror-symmetric, and alone it gave a mirrored photo (as front cameras save selfies) a skin
region that differed at its edges, so that a mirrored face's pores differed too (PS-Net's flip
stability on the held-out Monk 2 face 0.84; with both answers 0.96). It also parses better (FASSEG
v2_test mIoU 0.842 -> 0.846, the held-out v3 subject 0.794 -> 0.813) at 50-70 ms more per photo.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from poreseg.classes import BACKGROUND, BROW, EYE, FACIAL_FEATURES, NOSE, OCCLUDER, SKIN
from poreseg.imageio import as_rgb8
from poreseg.inference import ModelSession

INPUT_SIZE = 256  # the network's input side (FaceParserNet.input_size, which a test holds equal)
CROP_SCALE = 2.8  # crop side / longest side of the facial-feature box (brows to mouth)
# Glasses frames are 0.5-1.8 px wide in the crop pass's 256 px view of the glasses set's photos, below its
# logits' resolution (1/4 of the view): the eye pass looks again at the eyes this much closer.
EYE_VIEW_ZOOM = 2.0
EYE_LINE = 0.3
# What the eye pass may call occluder: frames cross the skin, the nose bridge and the brows. Eyes, lips and
# the rest keep the crop pass's labels (the eye pass only adds occluders).
EYE_PASS_OVERWRITES = (SKIN, NOSE, BROW)
LABEL_UPSAMPLE_MAX = 1024  # logits are resampled to at most this size before the argmax
MIN_FEATURE_AREA = 0.0004  # of a view: smaller feature clusters are not faces
# Facial features spanning fewer image pixels than this cannot be told from noise (a 20x20 noise image
# parsed as a face with its eyes 1 px apart), and a zero-sized box broke the eye search.
MIN_FACE_BOX_PX = 24
# The find pass looks again at a finer size when it finds nothing or only a face too small to trust.
FIND_SIZES = (INPUT_SIZE, 2 * INPUT_SIZE)
SMALL_FACE = 0.15  # feature box side / find view side: smaller faces are parsed from the finer view
# The find pass reads the photo from a halved copy (ImagePyramid) that is still at least this many times
# finer than its view: one area reduction of a 12 MP photo to the 256 px view took 35 ms, to the 512 px
# view 25 ms, a halving 2 ms (parse_face at 12 MP: 151 -> 98 ms). The last reduction still averages 9 or
# more pixels per view pixel: a copy halved down to the view's own scale lost a small face at the edge of
# detection (a 550 px portrait beside a 1000 px one, tests/test_parsing.py).
FIND_LAST_REDUCTION = 3.0
NO_ROOM_FOR_MORE = 0.4  # a face this large leaves no room for others the coarse view could miss
UNDECIDED = 255  # not a class id: a label resampled_argmax has still to work out


@dataclass
class FaceParsing:
    labels: np.ndarray  # HxW uint8 class ids at the input's size
    face_box: tuple[int, int, int, int] | None  # x0, y0, x1, y1 of the parsed face's features
    faces_found: int


def normalise(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 -> 1x3xHxW float32, the scaling every network here was trained with."""
    x = np.ascontiguousarray(rgb.transpose(2, 0, 1), np.float32)
    x /= np.float32(255.0)
    x -= np.float32(0.5)
    x /= np.float32(0.25)
    return x[None]


def square_crop_matrix(centre: tuple[float, float], side: float, out_size: int, angle_deg: float = 0.0,
                       flip: bool = False) -> np.ndarray:
    """2x3 affine matrix mapping a (rotated) square of ``side`` around ``centre`` onto out_size^2."""
    scale = out_size / side
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle_deg, scale)
    matrix[:, 2] += np.array([out_size / 2 - centre[0], out_size / 2 - centre[1]])
    if flip:
        matrix = np.array([[-1, 0, out_size], [0, 1, 0]], np.float64) @ np.vstack([matrix, [0, 0, 1]])
    return matrix


def face_crop(box: tuple[float, float, float, float]) -> tuple[tuple[float, float], float]:
    """Centre and side of the square crop the crop pass parses, from a facial-feature box."""
    x0, y0, x1, y1 = box
    return ((x0 + x1) / 2, (y0 + y1) / 2), CROP_SCALE * max(x1 - x0, y1 - y0)


def eye_crop(box: tuple[float, float, float, float], zoom: float) -> tuple[tuple[float, float], float]:
    """Centre and side of the eye pass's view: the crop pass's view ``zoom`` times closer, centred on the
    eye line (brows to mouth: the eyes are about 30% of the way down the feature box)."""
    x0, y0, x1, y1 = box
    return ((x0 + x1) / 2, y0 + EYE_LINE * (y1 - y0)), CROP_SCALE * max(x1 - x0, y1 - y0) / zoom


def warp_view(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The ``size``-square view ``matrix`` defines, area-averaged when it shrinks the image.

    warpAffine only interpolates between neighbours, so a strong reduction would alias (noise,
    jagged hair); the image is first resized to about the view's scale with area averaging. Only the
    view's footprint is resized: a face crop covers a fraction of a large photo.
    """
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if scale < 0.8:
        image, matrix = _footprint(image, matrix, size, reach=int(np.ceil(2 / scale)) + 2)
        h, w = image.shape[:2]
        small_w, small_h = max(1, round(w * scale)), max(1, round(h * scale))
        image = cv2.resize(image, (small_w, small_h), interpolation=cv2.INTER_AREA)
        matrix = matrix.copy()
        matrix[:, 0] *= w / small_w
        matrix[:, 1] *= h / small_h
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def _footprint(image: np.ndarray, matrix: np.ndarray, size: int, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``image`` the ``size``-square view of ``matrix`` reads (its bounding box grown by
    ``reach`` pixels, at least one pixel), and the view's matrix from that part."""
    h, w = image.shape[:2]
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64)
    corners = corners @ cv2.invertAffineTransform(matrix).T
    x0, y0 = (int(np.clip(np.floor(v) - reach, 0, limit - 1)) for v, limit in zip(corners.min(0), (w, h)))
    x1, y1 = (int(np.clip(np.ceil(v) + reach, start + 1, limit)) for v, start, limit
              in zip(corners.max(0), (x0, y0), (w, h)))
    moved = matrix.copy()
    moved[:, 2] += matrix[:, :2] @ np.array([x0, y0], np.float64)
    return image[y0:y1, x0:x1], moved


class ImagePyramid:
    """A photo and its copies halved again and again by area averaging (exact 2x2 means, which OpenCV
    computes several times faster than a reduction by any other factor), made when first needed. A crop
    pass's view is cut from the smallest copy at least as fine as the view: it reads the face's pixels
    of a small copy instead of shrinking the whole 12 MP frame (50-70 ms each)."""

    def __init__(self, image: np.ndarray):
        self.levels = [image]

    def view(self, matrix: np.ndarray, size: int, last_reduction: float = 1.0) -> np.ndarray:
        """``warp_view(image, matrix, size)``, read from the smallest copy that ``warp_view`` still reduces
        by at least ``last_reduction``."""
        scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
        level = 0
        while scale * last_reduction * 2 ** (level + 1) <= 1 and min(self.levels[level].shape[:2]) >= 2:
            level += 1
            if level == len(self.levels):
                h, w = self.levels[-1].shape[:2]
                # An odd last row or column is dropped: halving by exactly 2 is the fast path.
                self.levels.append(cv2.resize(self.levels[-1][:h // 2 * 2, :w // 2 * 2], (w // 2, h // 2),
                                              interpolation=cv2.INTER_AREA))
        # Pixel x of the copy holds the photo's pixels 2^level * x onwards.
        level_matrix = matrix.copy()
        level_matrix[:, :2] *= 2 ** level
        return warp_view(self.levels[level], level_matrix, size)


def letterbox_matrix(height: int, width: int, out_size: int) -> np.ndarray:
    side = max(height, width)
    return square_crop_matrix((width / 2, height / 2), side, out_size)


def face_boxes(labels: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Facial-feature boxes of the faces in a label map, largest first.

    A face is a connected region of skin and features that holds an eye or a nose, so that the
    lips or brows of one face are not counted as another.
    """
    features = np.isin(labels, FACIAL_FEATURES)
    count, components = cv2.connectedComponents((features | (labels == SKIN)).astype(np.uint8))
    feature_pixels = np.bincount(components[features], minlength=count)
    anchors = np.bincount(components[np.isin(labels, (EYE, NOSE))], minlength=count)
    boxes = []
    for c in np.nonzero((feature_pixels >= MIN_FEATURE_AREA * labels.size) & (anchors > 0))[0]:
        if c == 0:
            continue
        x, y, w, h = cv2.boundingRect((features & (components == c)).view(np.uint8))  # scans, does not list
        boxes.append((x, y, x + w, y + h))
    return sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))


def _side(box: tuple[int, int, int, int]) -> int:
    return max(box[2] - box[0], box[3] - box[1])


def _to_image(box: tuple[int, int, int, int], matrix: np.ndarray) -> tuple[float, float, float, float]:
    """A box of a view back in image coordinates (the views are not rotated)."""
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[box[0], box[1], 1], [box[2], box[3], 1]], np.float64) @ inverse.T
    return (*corners[0], *corners[1])


class FaceParser(ModelSession):
    """The face parser's session (poreseg.inference.ModelSession); call it on RGB images."""

    weights_name = "face_parser"

    def labels(self, view: np.ndarray, out_size: int) -> np.ndarray:
        """Class ids (``out_size`` square uint8) of a square view (warp_view): the logits of the view and of
        its mirror image (mirrored back) are summed, then resampled (bilinear) to ``out_size`` before the
        argmax."""
        x = normalise(view)
        logits = (self.run(x)[0] + self.run(x[..., ::-1])[0][..., ::-1]).transpose(1, 2, 0)
        return resampled_argmax(np.ascontiguousarray(logits), out_size)

    def find_faces(self, photo: ImagePyramid) -> tuple[np.ndarray, np.ndarray, list, int]:
        """Find-pass matrix, labels and face boxes of the view that locates the largest face, and the
        number of faces. A finer view is added when the coarse one leaves room for smaller faces."""
        h, w = photo.levels[0].shape[:2]
        views = []
        for size in FIND_SIZES:
            matrix = letterbox_matrix(h, w, size)
            labels = self.labels(photo.view(matrix, size, FIND_LAST_REDUCTION), size)
            boxes = face_boxes(labels)
            views.append((matrix, labels, boxes, size))
            if boxes and _side(boxes[0]) >= NO_ROOM_FOR_MORE * size:
                break
        trusted = [v for v in views if v[2] and _side(v[2][0]) >= SMALL_FACE * v[3]]
        matrix, labels, boxes, _ = (trusted or views)[-1 if not trusted else 0]
        return matrix, labels, boxes, max(len(v[2]) for v in views)

    def __call__(self, rgb: np.ndarray) -> FaceParsing:
        h, w = rgb.shape[:2]
        photo = ImagePyramid(rgb)
        find_matrix, find_labels, boxes, faces_found = self.find_faces(photo)
        labels = np.full((h, w), BACKGROUND, np.uint8)
        _paste(find_labels, find_matrix, labels)
        if not boxes:
            return FaceParsing(labels, None, 0)
        box = _to_image(boxes[0], find_matrix)
        for _ in range(2):  # a second crop, centred on the features the first crop found, is tighter
            centre, side = face_crop(box)
            out_size = int(min(LABEL_UPSAMPLE_MAX, max(INPUT_SIZE, side)))
            crop_matrix = square_crop_matrix(centre, side, out_size)
            crop_labels = self.labels(photo.view(square_crop_matrix(centre, side, INPUT_SIZE), INPUT_SIZE), out_size)
            crop_boxes = face_boxes(crop_labels)
            if not crop_boxes:
                break
            box = _to_image(crop_boxes[0], crop_matrix)
        # The crop pass looks closer than the find pass: where it sees no facial feature at all, the find
        # pass saw a face in blobs of colour (in 45 of 60 photos of smooth colour noise it found one).
        if not np.isin(crop_labels, FACIAL_FEATURES).any():
            return FaceParsing(labels, None, 0)
        _paste(crop_labels, crop_matrix, labels)
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        face_box = (max(0, x0), max(0, y0), min(w, x1), min(h, y1))
        if _side(face_box) < MIN_FACE_BOX_PX:
            return FaceParsing(labels, None, 0)
        self._eye_pass(photo, face_box, labels)
        return FaceParsing(labels, face_box, faces_found)

    def _eye_pass(self, photo: ImagePyramid, face_box: tuple[int, int, int, int], labels: np.ndarray) -> None:
        """Look again, EYE_VIEW_ZOOM times closer, at the eyes, and label what that view calls occluder
        (glasses frames, sunglasses) occluder where the crop pass said skin, nose or brow; in place."""
        centre, side = eye_crop(face_box, EYE_VIEW_ZOOM)
        out_size = int(min(LABEL_UPSAMPLE_MAX, max(INPUT_SIZE, side)))
        eye_labels = self.labels(photo.view(square_crop_matrix(centre, side, INPUT_SIZE), INPUT_SIZE), out_size)
        if not (eye_labels == OCCLUDER).any():
            return
        # Only the view's footprint is touched: it covers a fraction of a large photo.
        window, local = _footprint(labels, square_crop_matrix(centre, side, out_size), out_size, reach=1)
        seen = np.full(window.shape, UNDECIDED, np.uint8)
        _paste(np.where(eye_labels == OCCLUDER, OCCLUDER, UNDECIDED).astype(np.uint8), local, seen)
        window[(seen == OCCLUDER) & np.isin(window, EYE_PASS_OVERWRITES)] = OCCLUDER


def resampled_argmax(logits: np.ndarray, out_size: int) -> np.ndarray:
    """The argmax (uint8) of HxWxC ``logits`` resampled bilinearly (half-pixel centres, as torch's
    interpolate) to ``out_size`` square.

    An interpolated logit vector is a weighted mean of its four neighbours in ``logits``: where all four
    have the same argmax, so does the mean (each class's lead is positive at every corner, so in their
    mean), and that class is the answer. Only the pixels between neighbours that disagree (class
    borders: about 15% of a face crop) need the resampled logits' argmax, an argmax over 10 values per
    pixel that numpy takes slowly (16 -> 11 ms for a 1024 px crop)."""
    h, w, _ = logits.shape
    coarse = logits.argmax(-1).astype(np.uint8)
    edge = np.pad(coarse, ((0, 1), (0, 1)), mode="edge")  # the last row and column are their own neighbours
    agree = (edge[:-1, :-1] == edge[1:, :-1]) & (edge[:-1, :-1] == edge[:-1, 1:]) & (edge[:-1, :-1] == edge[1:, 1:])
    # The neighbour above and to the left of each output pixel, as OpenCV's resize picks it.
    rows, cols = (np.clip(np.floor((np.arange(out_size) + 0.5) * n / out_size - 0.5), 0, n - 1).astype(np.intp)
                  for n in (h, w))
    labels = np.where(agree, coarse, UNDECIDED).take(rows, axis=0).take(cols, axis=1)
    undecided = np.flatnonzero(labels == UNDECIDED)
    if undecided.size:
        # OpenCV resamples the HxWxC logits as one image, with the weights of torch's bilinear interpolate.
        resampled = cv2.resize(logits, (out_size, out_size), interpolation=cv2.INTER_LINEAR)
        # Flat indices: a boolean mask over the pixels of an HxWxC array gathers 4x slower.
        labels.reshape(-1)[undecided] = resampled.reshape(-1, resampled.shape[-1]).take(undecided, axis=0).argmax(-1)
    return labels


def _paste(view_labels: np.ndarray, matrix: np.ndarray, labels: np.ndarray) -> None:
    """Warp view labels back into the image's ``labels``, in place (``matrix``: image to view); pixels the
    view does not cover keep their labels. Only the view's footprint is warped: a face crop covers a
    fraction of a large photo."""
    window, local = _footprint(labels, matrix, view_labels.shape[0], reach=1)
    # Written in place; outside the view (BORDER_TRANSPARENT) the labels stay. 4 ms for a 12 MP frame,
    # where warping into a new array and copying the view's pixels took 16 ms.
    cv2.warpAffine(view_labels, local, window.shape[::-1], dst=window,
                   flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_TRANSPARENT)


def within_person(parsing: FaceParsing, person: np.ndarray) -> FaceParsing:
    """The parsing with every label outside the face's feature box that the person matte calls background
    (fully transparent: ``person`` 0) set to background. A crop pass sees a door or a patterned wall
    beside the head out of context and can call it hair or skin; the portrait network sees the whole
    photo. Inside the feature box the parser's own labels are kept, so a matte that misses part of a face
    (an extreme close-up) costs no facial features."""
    if parsing.face_box is None:
        return parsing
    outside = np.asarray(person) <= 0
    x0, y0, x1, y1 = parsing.face_box
    outside[y0:y1, x0:x1] = False
    labels = parsing.labels.copy()
    labels[outside] = BACKGROUND
    return FaceParsing(labels, parsing.face_box, parsing.faces_found)


def parse_face(rgb: np.ndarray) -> FaceParsing:
    """Parse the largest face of an RGB image (HxWx3 uint8; grey, RGBA and 16-bit arrays are converted)."""
    return FaceParser.shared()(as_rgb8(rgb))
