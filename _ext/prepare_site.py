"""What the book build needs beyond the sources; `make book` runs this before `jupyter-book build`.

1. MathJax 3 for offline reading: the pinned npm tarball (checked against its SHA-256) unpacked into
   _vendor/mathjax/, which `html_extra_path` copies to the site root and `mathjax_path` loads. Only
   the parts a page can ask for are kept (the CHTML bundle, its fonts, TeX extensions, the menu's
   accessibility and speech files). Fetched once from the npm registry (or $NPM_CONFIG_REGISTRY);
   later builds need no network.
2. A .ipynb twin (jupytext) of every MyST notebook page under chapters/, so that a lesson's launch
   buttons open a notebook that Colab and Binder can read. Twins are generated: excluded from the
   build (_config.yml) and from git (.gitignore). A learner who downloads a twin has no copy of the
   course, so a twin's `from lessonkit import ...` line is replaced by chapters/lessonkit.py's code.

Usage: python _ext/prepare_site.py
"""
import hashlib
import io
import os
import re
import shutil
import sys
import tarfile
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENDOR = REPO / "_vendor" / "mathjax"
MATHJAX_VERSION = "3.2.2"
MATHJAX_SHA256 = "1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09"
# Paths under the tarball's package/es5/ that the site serves; the rest (SVG output, other bundles,
# the Node adaptors) no page loads.
MATHJAX_KEEP = ("tex-mml-chtml.js", "input/", "output/chtml.js", "output/chtml/", "ui/", "a11y/", "sre/")


def fetch_mathjax():
    stamp = VENDOR / "VERSION"
    if stamp.exists() and stamp.read_text().strip() == MATHJAX_VERSION:
        return
    registry = os.environ.get("NPM_CONFIG_REGISTRY") or os.environ.get("npm_config_registry") or "https://registry.npmjs.org"
    url = f"{registry.rstrip('/')}/mathjax/-/mathjax-{MATHJAX_VERSION}.tgz"
    print(f"fetching MathJax {MATHJAX_VERSION} from {url}")
    with urllib.request.urlopen(url, timeout=120) as response:
        data = response.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != MATHJAX_SHA256:
        sys.exit(f"MathJax tarball from {url} has SHA-256 {digest}, expected {MATHJAX_SHA256}: not used")
    shutil.rmtree(VENDOR, ignore_errors=True)
    VENDOR.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix("package/")
            if name == "LICENSE":
                target = VENDOR / "LICENSE"
            elif name.startswith("es5/") and name[4:].startswith(MATHJAX_KEEP) and member.isfile():
                target = VENDOR / name[4:]
            else:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tar.extractfile(member).read())
    stamp.write_text(MATHJAX_VERSION + "\n")
    size = sum(p.stat().st_size for p in VENDOR.rglob("*") if p.is_file())
    print(f"MathJax {MATHJAX_VERSION} in {VENDOR.relative_to(REPO)} ({size / 1e6:.1f} MB)")


LESSONKIT = REPO / "chapters" / "lessonkit.py"
LESSONKIT_IMPORT = re.compile(r"^from lessonkit import (\([\w,\s]+\)|[\w, ]+)$", re.MULTILINE)


def inline_lessonkit(notebook):
    """Replace each code cell's `from lessonkit import ...` (one line, or in parentheses over
    several) by the module's code."""
    code = ("# The course's lesson helpers (chapters/lessonkit.py), copied in so that this notebook\n"
            "# runs without the course's repository.\n" + LESSONKIT.read_text().rstrip("\n"))
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = LESSONKIT_IMPORT.sub(lambda _: code, cell.source)
    return notebook


def notebook_twins():
    import jupytext

    for md in sorted((REPO / "chapters").rglob("*.md")):
        if not re.match(r"---\n(.*\n)*?kernelspec:", md.read_text()):
            continue  # plain text page: no kernel, no launch buttons
        twin = md.with_suffix(".ipynb")
        text = jupytext.writes(inline_lessonkit(jupytext.read(md)), fmt="ipynb")
        if not twin.exists() or twin.read_text() != text:
            twin.write_text(text)
            print(f"notebook twin {twin.relative_to(REPO)}")


if __name__ == "__main__":
    fetch_mathjax()
    notebook_twins()
