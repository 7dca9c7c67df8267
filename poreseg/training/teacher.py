"""Run the MediaPipe teacher (face mesh + selfie segmentation) over the data folder.

Runs only in the training virtual environment (``requirements-train.txt``: mediapipe needs numpy<2),
never at inference. For every image it stores the 478 face-mesh landmarks (in pixels of the original
image) and the selfie person probability, which ``labels.py`` turns into pseudo labels:

    venv-train/bin/python -m poreseg.training.teacher --data ../shared/data --out cache/teacher
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
from pathlib import Path

import cv2
import numpy as np

from poreseg.training import datasets

TEACHER_MAX_SIDE = 1024

_mesh = None
_selfie = None


def _init_models() -> None:
    global _mesh, _selfie
    import mediapipe as mediapipe_lib  # only present in the training environment

    _mesh = mediapipe_lib.solutions.face_mesh.FaceMesh(
        static_image_mode=True, max_num_faces=4, refine_landmarks=True, min_detection_confidence=0.5)
    _selfie = mediapipe_lib.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)


def _teach(job: tuple[str, str, str]) -> str:
    key, image_path, out_path = job
    rgb = datasets.read_rgb(Path(image_path))
    h, w = rgb.shape[:2]
    scale = min(1.0, TEACHER_MAX_SIDE / max(h, w))
    small = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    small = np.ascontiguousarray(small)
    faces = _mesh.process(small).multi_face_landmarks or []
    sh, sw = small.shape[:2]
    landmarks = np.array([[(p.x * sw / scale, p.y * sh / scale) for p in face.landmark] for face in faces],
                         np.float32).reshape(-1, 478, 2)
    person = _selfie.process(small).segmentation_mask
    person_u8 = np.clip(person * 255 + 0.5, 0, 255).astype(np.uint8)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_path, landmarks=landmarks, person=person_u8, image_hw=np.array([h, w]))
    return f"{key}: {len(landmarks)} face(s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=datasets.DEFAULT_DATA_DIR)
    parser.add_argument("--out", type=Path, default=Path("cache/teacher"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    jobs = [(s.key, str(s.image), str(args.out / f"{s.key}.npz")) for s in datasets.all_samples(args.data)]
    todo = [j for j in jobs if not Path(j[2]).exists()]  # resumable
    print(f"{len(jobs)} images, {len(todo)} to do", flush=True)
    with mp.Pool(args.workers, initializer=_init_models) as pool:
        for i, message in enumerate(pool.imap_unordered(_teach, todo, chunksize=4)):
            if i % 50 == 0:
                print(i, message, flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main()
