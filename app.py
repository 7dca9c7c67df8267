"""poreseg web demo: face parsing and portrait segmentation of one photo. Run: python app.py

Layout and wiring only; the pictures and the status line come from poreseg.views. Everything runs
locally: no analytics, nothing fetched at run time, nothing kept beyond Gradio's temporary files.
"""
from __future__ import annotations

import html
import os
from pathlib import Path

# Before gradio is imported: no telemetry and no version check against the network.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr  # noqa: E402

from poreseg import draw  # noqa: E402
from poreseg.imageio import MAX_FILE_BYTES, ImageLoadError, load_image  # noqa: E402
from poreseg.views import parsing_views  # noqa: E402
from poreseg.weights import WeightsError  # noqa: E402

EXAMPLES = sorted(str(p) for p in (Path(__file__).resolve().parent / "examples").glob("*.jpg"))
CREDITS = ("<small>Example portraits: Face Research Lab London Set (DeBruine & Jones 2017, CC BY 4.0) and "
           "webmorphR.stim (Lisa DeBruine, CC0); details in examples/CREDITS.md.</small>")
INTRO = ("# poreseg: face parsing and portrait segmentation\n"
         "Upload a photo, take one with the webcam, paste one, or pick an example. The largest face is "
         "parsed into skin, brows, eyes, nose, lips, mouth, hair, body and occluders, and the person is "
         "separated from the background. Images are processed on this machine's CPU and not kept.")
READY = "Upload a photo, take one with the webcam, paste one, or pick an example."
NO_IMAGE = "**No image.** " + READY


def _upload_path(image) -> str | None:
    """The server-side path of the uploaded image: a FileData dict (the event skips Gradio's
    preprocessing), or a plain path."""
    if isinstance(image, dict):
        return image.get("path")
    return image or None


def parse(image):
    """Face parsing overlay, portrait matte overlay and a Markdown status for an uploaded image."""
    path = _upload_path(image)
    if not path:
        return None, None, NO_IMAGE
    try:
        views = parsing_views(load_image(path))
    except (ImageLoadError, WeightsError) as error:
        title = "Could not read the image" if isinstance(error, ImageLoadError) else "The models could not load"
        gr.Warning(html.escape(str(error)), title=title)
        return None, None, f"**{title}.** {html.escape(str(error))}"
    return views.labels_overlay, views.person_overlay, views.status


with gr.Blocks(title="poreseg", analytics_enabled=False) as demo:
    gr.Markdown(INTRO)
    with gr.Row():
        with gr.Column():
            image = gr.Image(label="Photo", type="filepath", image_mode=None,
                             sources=["upload", "webcam", "clipboard"])
            analyse = gr.Button("Analyse", variant="primary")
            status = gr.Markdown(READY)
            if EXAMPLES:
                gr.Examples(examples=EXAMPLES, inputs=image, cache_examples=False, examples_per_page=8)
                gr.Markdown(CREDITS)
        with gr.Column():
            labels_view = gr.Image(label="Face parsing", interactive=False)
            gr.Image(value=draw.legend(), label="Classes", interactive=False, buttons=[], height=240)
            person_view = gr.Image(label="Portrait matte", interactive=False)

    # preprocess=False: the function gets the uploaded file's path untouched and load_image reads it
    # (EXIF orientation, colour modes, size limits, a clear message for a file that is not an image);
    # Gradio's own preprocessing would open it first and fail with a bare "Error".
    gr.on(triggers=[image.change, analyse.click], fn=parse, inputs=image,
          outputs=[labels_view, person_view, status], api_name="parse", preprocess=False,
          trigger_mode="always_last")

demo.queue(default_concurrency_limit=1)

if __name__ == "__main__":
    demo.launch(max_file_size=MAX_FILE_BYTES)
