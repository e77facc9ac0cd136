"""The catalogue report in a real browser: headless Chromium renders the index and two theorem pages
without console errors, with every figure and formula in the rendered DOM, and takes screenshots."""

from __future__ import annotations

import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from proofs import catalogue, report

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no `chromium` binary on PATH (Debian: apt-get install chromium; see .ci/install-chromium)")
PAGES = ["index.html", "theorems/wrong_minimum.html", "theorems/is_even_4bit_Z.html"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    rows = []
    for t in catalogue.seed_theorems():
        rows.append((t, *t.run_with_facts()) if hasattr(t, "run_with_facts") else (t, t.run()))
    report.write_catalogue(rows, 1.0, out)
    return out


def chromium(page: Path, profile: Path, *action: str) -> subprocess.CompletedProcess:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--window-size=1280,2000",
               *action, page.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


class Elements(HTMLParser):
    """Counts <svg> and <math> elements of a DOM dump and the children of each."""

    def __init__(self):
        super().__init__()
        self.open: list[list] = []
        self.closed: dict[str, list[int]] = {"svg": [], "math": []}

    def handle_starttag(self, tag, attrs):
        if self.open:
            self.open[-1][1] += 1
        if tag in ("svg", "math"):
            self.open.append([tag, 0])

    def handle_endtag(self, tag):
        if tag in ("svg", "math") and self.open and self.open[-1][0] == tag:
            name, children = self.open.pop()
            self.closed[name].append(children)
            if self.open:
                self.open[-1][1] += children

    def handle_data(self, data):
        if self.open and data.strip():
            self.open[-1][1] += 1


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_in_chromium(site, page, tmp_path):
    path = site / page
    source = path.read_text()
    expected = {"svg": source.count("<svg"), "math": source.count("<math")}
    assert expected["math"] > 0 and (expected["svg"] > 0 or page == "index.html")

    dump = chromium(path, tmp_path / "profile-dom", "--dump-dom")
    assert dump.returncode == 0, dump.stderr[-2000:]
    assert not console_errors(dump.stderr), console_errors(dump.stderr)
    dom = Elements()
    dom.feed(dump.stdout)
    for name, count in expected.items():
        assert len(dom.closed[name]) == count, f"{page}: {len(dom.closed[name])} <{name}> rendered, {count} written"
        assert all(children > 0 for children in dom.closed[name]), f"{page}: an empty <{name}>"

    shot = tmp_path / (Path(page).stem + ".png")
    run = chromium(path, tmp_path / "profile-shot", f"--screenshot={shot}")
    assert run.returncode == 0, run.stderr[-2000:]
    assert not console_errors(run.stderr), console_errors(run.stderr)
    data = shot.read_bytes()
    assert png_size(data) == (1280, 2000)
    assert len(data) > 20_000, "the screenshot is (nearly) blank"
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 50, "the screenshot has almost no colours"
