"""Load test of the app: the app in its own process, driven by concurrent gradio_client clients, through its
/analyze API or, with --dashboard, through the dashboard's own events as a browser sends them.

    python benchmarks/load.py [--clients 20] [--seconds 60] [--method dog|psnet] [--photos PATH ...] [--idle 40]
                              [--dashboard [--stay 20]]

The app is started as users start it (``python app.py``) on a free loopback port; its start-up time
(process start to the first page served) is reported. One warm-up request and three requests alone with
the largest photo then give the single-request time (their median). Then --clients threads, each with its
own Client, send photos back to back for --seconds; requests under way at the end are finished and
counted. Per request,
the latency (submit to result) and the queue wait (submit to the start of processing, from the status
updates Gradio streams to the client) are recorded; failures are counted by message, and queue
rejections (Gradio refuses a request when app.QUEUE_SIZE are already waiting) apart from errors. The
server's peak resident memory is the high-water mark of its whole life (VmHWM in /proc, Linux).

With --dashboard each client is a browser visit after another: a new session (its own Client, session
hash and heartbeat, as a tab) runs the events app.py wires to the page, in the order a person's clicks
send them: the analysis of a photo (which keeps a dashboard session: photo, analysis, pictures), then the
before/after and the report downloads chained to it, a product chosen, its weeks changed and the whole
face shown (each a before/after and new downloads), a face parsing class hidden; the pictures and files
each answer names are fetched, as the page does. The visit then stays open --stay seconds and leaves (its
heartbeat closes, as a closed tab's does, and the app forgets the session). These events are private to
the API (app.py), so they are called by their index, as the page calls them. Latency and queue wait are
reported per event; the latency goal is judged on the analyses.

Real photos of mixed sizes are sent in rotation, each client starting at another one: the examples and,
when the data folder is there (PORESEG_DATA or ../shared/data), the MST-E portraits (2-9 MP), plus one
of them enlarged to 4000x3000 (12 MP, the largest phone photo the app analyses untouched). --photos
replaces the list. Each photo is sent as a copy under a neutral name, as a user's upload: Gradio stores
uploads by content and name, so an example's own name would land on the copy Gradio keeps of it for the
examples gallery, which the app never deletes. Clients send the same photos, so uploads share files, the
hard case for deleting uploads; the app runs with its cache in a scratch folder, and the uploads left
there --idle seconds after the run (time for the app's upload sweep) are counted.

Memory: the server's resident memory is sampled every RSS_SAMPLE_SECONDS, printed as a timeline, and
its final value after --idle seconds without requests is reported beside the peak.

Goals (issues 5 and 13): no errors; a bounded queue (never more than QUEUE_SIZE waiting); peak RSS <= 2 GB;
after the idle time, RSS within IDLE_RSS_FACTOR of its value before the load; p95 latency <= p95 queue
wait + 2 x the single-request time (of the largest photo, alone; with --dashboard, of the analyses); no
upload left in the app's cache; no dashboard session left open once every visit has left (the app runs
with its temporary folder, where it keeps the sessions' folders, in the scratch folder). The exit code is
0 when all hold.

The clients stay on loopback: gradio_client would otherwise look up huggingface.co for telemetry and
its user agent, so the Hugging Face Hub is switched offline here (the app itself makes no such calls;
tests/test_privacy.py checks it with the network blocked).
"""
from __future__ import annotations

import argparse
import itertools
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.client import Job  # noqa: E402
from gradio_client.utils import QueueError, Status  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import app  # noqa: E402
from app import QUEUE_SIZE  # noqa: E402
from dashboard import before_after  # noqa: E402
from poreseg.products import catalogue  # noqa: E402
from poreseg.simulate import FULL_COURSE_WEEKS  # noqa: E402

PEAK_RSS_GOAL_BYTES = 2 * 1024 ** 3
IDLE_RSS_FACTOR = 1.5  # after the load, idle RSS within this of what it was before
RSS_SAMPLE_SECONDS = 1.0
RSS_TIMELINE_SECONDS = 10.0
TWELVE_MP = (4000, 3000)
PRODUCT_ALONE = "retinoid"  # the before/after of the visits that time an analysis alone
SINGLE_REQUESTS = 3
STATUS_POLL_SECONDS = 0.05
STARTED = (Status.PROCESSING, Status.PROGRESS)  # the first status of a running job (PROGRESS: gr.Progress)
ANALYSES = ("analyze", "analyse")  # the API's and the dashboard's: the latency goal is judged on these
START_TIMEOUT_SECONDS = 180


@dataclass
class Request:
    event: str  # "analyze" (the API) or the dashboard event's function in app.py
    latency: float  # seconds from submit to result
    queue_wait: float  # seconds from submit to the start of processing
    longest_queue: int  # the most requests waiting that this one saw
    error: str | None = None  # why it failed, None when it worked
    rejected: bool = False  # the queue was full


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    start_seconds: float
    cache: Path  # Gradio's cache folder of the app (GRADIO_TEMP_DIR)
    temp: Path  # the app's temporary folder (TMPDIR), where app.SESSIONS_DIR is made

    def open_sessions(self) -> int:
        """The dashboard sessions whose folders exist (app.SESSIONS_DIR holds one per open session)."""
        return sum(folder.is_dir() for sessions in self.temp.glob("poreseg-sessions-*")
                   for folder in sessions.iterdir())

    def peak_rss(self) -> int:
        """The server process's peak resident memory so far, in bytes."""
        return self._status("VmHWM:")

    def rss(self) -> int:
        """The server process's resident memory now, in bytes."""
        return self._status("VmRSS:")

    def _status(self, field: str) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith(field))


class RssSampler(threading.Thread):
    """The app's RSS every RSS_SAMPLE_SECONDS, as (seconds since start, bytes), until stopped."""

    def __init__(self, server: Server):
        super().__init__(daemon=True)
        self.server, self.samples, self.stopped = server, [], threading.Event()
        self.started = time.perf_counter()

    def run(self):
        while not self.stopped.wait(RSS_SAMPLE_SECONDS):
            self.samples.append((time.perf_counter() - self.started, self.server.rss()))

    def timeline(self) -> str:
        """The highest RSS of each RSS_TIMELINE_SECONDS, in GB."""
        slots: dict[int, int] = {}
        for seconds, rss in self.samples:
            slot = int(seconds // RSS_TIMELINE_SECONDS)
            slots[slot] = max(slots.get(slot, 0), rss)
        return " ".join(f"{slot * RSS_TIMELINE_SECONDS:.0f}s:{rss / 1024 ** 3:.2f}" for slot, rss in sorted(slots.items()))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(log: Path, cache: Path, temp: Path) -> Server:
    """``python app.py`` on a free loopback port with its Gradio cache in ``cache`` and its temporary files
    in ``temp``, once it serves its page."""
    port = free_port()
    temp.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_TEMP_DIR": str(cache), "TMPDIR": str(temp)}
    started = time.perf_counter()
    with open(log, "w") as output:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=output,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    while time.perf_counter() - started < START_TIMEOUT_SECONDS:
        if process.poll() is not None:
            sys.exit(f"the app stopped while starting (exit code {process.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return Server(process, url, time.perf_counter() - started, cache, temp)
        except OSError:
            time.sleep(0.5)
    process.kill()
    sys.exit(f"the app did not serve {url} within {START_TIMEOUT_SECONDS} s:\n{log.read_text()}")


def timed(event: str, submit: Callable[[], Job]) -> Request:
    """One call, timed from its submission to its result; its queue wait read from the status updates."""
    submitted = time.perf_counter()
    processing = None
    longest_queue = 0
    job = submit()
    while not job.done():
        status = job.status()
        if status.code == Status.IN_QUEUE and status.queue_size is not None:
            longest_queue = max(longest_queue, status.queue_size)
        if status.code in STARTED and processing is None:
            processing = time.perf_counter()
        time.sleep(STATUS_POLL_SECONDS)
    try:
        job.result()
    except QueueError as error:
        return Request(event, time.perf_counter() - submitted, 0.0, longest_queue, str(error), rejected=True)
    except Exception as error:  # any failure is counted and reported, none stops the run
        return Request(event, time.perf_counter() - submitted, 0.0, longest_queue, f"{type(error).__name__}: {error}")
    finished = time.perf_counter()
    return Request(event, finished - submitted, (processing or finished) - submitted, longest_queue)


def api_request(client: Client, photo: Path, method: str) -> Request:
    """One /analyze call."""
    return timed("analyze", lambda: client.submit(handle_file(str(photo)), method=method, api_name="/analyze"))


def event_index(function: Callable) -> int:
    """The index by which the page calls the (first) event app.py runs ``function`` for: the same in this
    process, which imported app.py, as in the server's."""
    return next(index for index, event in app.demo.fns.items() if event.fn is function)


class Visit:
    """One browser tab on the dashboard: its own session, the events its page sends, then it leaves."""

    ANALYSE, BEFORE_AFTER, DOWNLOADS, CLASSES = (event_index(f) for f in (
        app.analyse, app.show_before_after, app.prepare_downloads, app.show_classes))

    def __init__(self, url: str, downloads: Path):
        # Files the answers name are downloaded, as the page loads its pictures.
        self.client = Client(url, verbose=False, download_files=str(downloads))
        for index in (self.ANALYSE, self.BEFORE_AFTER, self.DOWNLOADS, self.CLASSES):
            self.client.endpoints[index].is_valid = True  # private to the API, not to the page
        self.requests: list[Request] = []
        self.default_view = before_after.FACE_VIEW

    def _send(self, index: int, *data) -> Job:
        return self.client.submit(*data, fn_index=index)  # the session's state is the server's, not sent

    def _event(self, index: int, *data) -> None:
        name = app.demo.fns[index].fn.__name__
        self.requests.append(timed(name, lambda: self._send(index, *data)))

    def analyse(self, photo: Path, method: str) -> None:
        """The photo analysed, then what the page chains to it: the before/after (no product yet) and the
        downloads. The answer's view choice is the one the page then shows."""
        classes = list(app.views.PARSING_CLASSES)
        job = None

        def submit() -> Job:
            nonlocal job
            job = self._send(self.ANALYSE, handle_file(str(photo)), method, classes)
            return job

        self.requests.append(timed("analyse", submit))
        if self.requests[-1].error is None:
            after_view = job.result()[ANALYSE_OUTPUTS.index(app.after_view)]
            self.default_view = after_view.get("value", before_after.FACE_VIEW)
        self.before_after(None, FULL_COURSE_WEEKS, self.default_view)

    def before_after(self, product: str | None, weeks: float, view: str) -> None:
        """A before/after at full strength, then the report downloads drawn again with it."""
        self._event(self.BEFORE_AFTER, product, 1.0, weeks, view)
        self._event(self.DOWNLOADS)

    def hide_class(self) -> None:
        self._event(self.CLASSES, list(app.views.PARSING_CLASSES[1:]))

    def leave(self) -> None:
        """The tab closes: its heartbeat stops, and the app forgets the session (app.forget_session)."""
        self.client.close()


ANALYSE_OUTPUTS = [block for block in app.demo.fns[Visit.ANALYSE].outputs if block is not app.state]


def browse(url: str, photo: Path, method: str, product: str, stay: float, deadline: float,
           downloads: Path) -> list[Request]:
    """One visit (see the module's description): it analyses ``photo``, tries ``product``, stays open
    ``stay`` seconds (never past ``deadline``, a perf_counter time) and leaves."""
    visit = Visit(url, downloads)
    try:
        visit.analyse(photo, method)
        visit.before_after(product, FULL_COURSE_WEEKS, visit.default_view)
        visit.before_after(product, FULL_COURSE_WEEKS / 2, visit.default_view)
        visit.before_after(product, FULL_COURSE_WEEKS / 2, before_after.FACE_VIEW)
        visit.hide_class()
        time.sleep(max(0.0, min(stay, deadline - time.perf_counter())))
    finally:
        visit.leave()
        shutil.rmtree(downloads, ignore_errors=True)
    return visit.requests


def drive(url: str, clients: int, seconds: float, photos: list[Path], args: argparse.Namespace,
          scratch: Path) -> tuple[list[Request], float]:
    """``clients`` threads sending ``photos`` in rotation (the clients' starting points spread over the
    list), back to back until ``seconds`` have passed, to the API or as dashboard visits (which stay open
    at most until then); the requests and the time until the last one was answered."""
    requests: list[Request] = []
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + seconds
    products = list(catalogue())

    def client_loop(client_number: int):
        first = client_number * len(photos) // clients
        client = None if args.dashboard else Client(url, verbose=False)
        for sent in itertools.count():
            if time.perf_counter() >= deadline:
                return
            photo = photos[(first + sent) % len(photos)]
            if client is not None:
                done = [api_request(client, photo, args.method)]
            else:
                done = browse(url, photo, args.method, products[(client_number + sent) % len(products)],
                              args.stay, deadline, scratch / f"downloads-{client_number}-{sent}")
            with lock:
                requests.extend(done)

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return requests, time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile (0-1) by linear interpolation; the value itself for a single one."""
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def report(single: float, requests: list[Request], elapsed: float, args: argparse.Namespace, peak_rss: int,
           idle_rss: tuple[int, int], uploads_left: int, sessions_left: int) -> bool:
    """Print the numbers and the goals; True when every goal holds."""
    done = [r for r in requests if r.error is None]
    failed = [r for r in requests if r.error is not None and not r.rejected]
    rejected = [r for r in requests if r.rejected]
    longest_queue = max((r.longest_queue for r in requests), default=0)
    print(f"load: {args.clients} clients for {args.seconds:g} s: {len(requests)} requests, {len(done)} answered, "
          f"{len(failed)} errors, {len(rejected)} rejected (queue full)")
    for message in sorted({r.error for r in failed}):
        print(f"  error x{sum(r.error == message for r in failed)}: {message}")
    if not done:
        print("no request was answered")
        return False
    for event in dict.fromkeys(r.event for r in done):
        answered = [r for r in done if r.event == event]
        latency, wait = [r.latency for r in answered], [r.queue_wait for r in answered]
        print(f"{event}: {len(answered)} answered, latency p50 {percentile(latency, 0.5):.2f} s, p95 "
              f"{percentile(latency, 0.95):.2f} s; queue wait p50 {percentile(wait, 0.5):.2f} s, p95 "
              f"{percentile(wait, 0.95):.2f} s")
    print(f"throughput {len(done) / elapsed:.2f} answers/s; longest queue {longest_queue} (limit {QUEUE_SIZE})")
    analyses = [r for r in done if r.event in ANALYSES]
    p95_latency = percentile([r.latency for r in analyses], 0.95) if analyses else 0.0
    p95_wait = percentile([r.queue_wait for r in analyses], 0.95) if analyses else 0.0
    before, after = idle_rss
    print(f"server RSS {before / 1024 ** 3:.2f} GB before the load, peak {peak_rss / 1024 ** 3:.2f} GB, "
          f"{after / 1024 ** 3:.2f} GB after {args.idle:g} s idle; uploads left in the app's cache: {uploads_left}, "
          f"dashboard sessions: {sessions_left}")
    budget = p95_wait + 2 * single
    goals = [
        (not failed, f"no errors ({len(failed)})"),
        (longest_queue <= QUEUE_SIZE, f"bounded queue: longest {longest_queue} <= {QUEUE_SIZE}"),
        (peak_rss <= PEAK_RSS_GOAL_BYTES, f"peak RSS {peak_rss / 1024 ** 3:.2f} GB <= 2 GB"),
        (after <= IDLE_RSS_FACTOR * before, (f"idle RSS after the load {after / 1024 ** 3:.2f} GB <= "
                                             f"{IDLE_RSS_FACTOR:g} x {before / 1024 ** 3:.2f} GB before")),
        (p95_latency <= budget, f"p95 latency of the analyses {p95_latency:.2f} s <= p95 queue wait "
                                f"{p95_wait:.2f} s + 2 x single "
                                f"{single:.2f} s = {budget:.2f} s"),
        (uploads_left == 0, f"no upload left in the app's cache ({uploads_left})"),
        (sessions_left == 0, f"no dashboard session left after its visit left ({sessions_left})"),
    ]
    print("goals:")
    for held, text in goals:
        print(f"  [{'ok' if held else 'MISSED'}] {text}")
    return all(held for held, _ in goals)


def megapixels(photo: Path) -> float:
    from PIL import Image

    with Image.open(photo) as image:  # the header only
        return image.width * image.height / 1e6


def default_photos(scratch: Path) -> list[Path]:
    """The examples, the MST-E portraits of the data folder if it is there, and one of them at 12 MP,
    large and small mixed (a fixed shuffle)."""
    photos = sorted((REPO / "examples").glob("*.jpg"))
    data = Path(os.environ.get("PORESEG_DATA", REPO.parent / "shared" / "data")) / "mste" / "images"
    portraits = sorted(data.glob("*.jpg")) if data.is_dir() else []
    if portraits:
        from PIL import Image

        large = scratch / "twelve-megapixels.jpg"
        with Image.open(portraits[0]) as portrait:
            portrait.convert("RGB").resize(TWELVE_MP).save(large, quality=92)
        photos += [large, *portraits]
        random.Random(0).shuffle(photos)
    return photos


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long new requests are sent")
    parser.add_argument("--method", choices=("dog", "psnet"), default="dog")
    parser.add_argument("--photos", type=Path, nargs="+", help="photos to send in rotation (default: see above)")
    parser.add_argument("--idle", type=float, default=40.0, help="seconds without requests after the load")
    parser.add_argument("--dashboard", action="store_true", help="browser visits to the dashboard, not /analyze")
    parser.add_argument("--stay", type=float, default=20.0, help="seconds a dashboard visit stays open after its "
                                                                "events, before it leaves")
    args = parser.parse_args()

    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        sources = args.photos or default_photos(scratch)
        photos = []
        for i, source in enumerate(sources):  # neutral names, as users' uploads
            photos.append(scratch / f"load-test-{i:03d}{source.suffix}")
            shutil.copyfile(source, photos[-1])
        print(f"{len(photos)} photos in rotation, {min(p.stat().st_size for p in photos) / 1e6:.1f}-"
              f"{max(p.stat().st_size for p in photos) / 1e6:.1f} MB")
        server = start_app(scratch / "app.log", scratch / "gradio", scratch / "temp")
        try:
            print(f"app: python app.py on {server.url}, serving after {server.start_seconds:.1f} s, RSS "
                  f"{server.rss() / 1024 ** 3:.2f} GB")
            largest = max(range(len(photos)), key=lambda i: megapixels(photos[i]))
            if args.dashboard:
                def alone() -> Request:  # a visit that analyses the largest photo and leaves at once
                    return browse(server.url, photos[largest], args.method, PRODUCT_ALONE, 0.0, 0.0,
                                  scratch / "downloads-alone")[0]
            else:
                client = Client(server.url, verbose=False)

                def alone() -> Request:
                    return api_request(client, photos[largest], args.method)
            warm_up = alone()
            if warm_up.error:
                sys.exit(f"the app cannot analyse {sources[largest].name}: {warm_up.error}")
            single = statistics.median(alone().latency for _ in range(SINGLE_REQUESTS))
            print(f"single {warm_up.event} ({args.method}, {sources[largest].name}, "
                  f"{megapixels(photos[largest]):.1f} MP, the largest): {single:.2f} s (median of {SINGLE_REQUESTS})")
            rss_before = server.rss()  # after the single requests: models and first-call caches loaded
            sampler = RssSampler(server)
            sampler.start()
            requests, elapsed = drive(server.url, args.clients, args.seconds, photos, args, scratch)
            time.sleep(args.idle)
            sampler.stopped.set()
            print(f"RSS over time (GB, highest per {RSS_TIMELINE_SECONDS:g} s): {sampler.timeline()}")
            uploads_left = sum(len(list(server.cache.rglob(photo.name))) for photo in photos)
            sessions_left = server.open_sessions()
            held = report(single, requests, elapsed, args, server.peak_rss(), (rss_before, server.rss()),
                          uploads_left, sessions_left)
        finally:
            server.process.terminate()
            server.process.wait(timeout=30)
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
