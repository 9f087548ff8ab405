"""The site as a reader sees it: every page of the built book in headless Chromium.

Every page of `_build/html` (served from 127.0.0.1) is opened at a desktop width (1280 px) and a
phone width (390 px). Each visit records what a reader would meet: requests, JavaScript errors,
equations, images, the download and launch buttons, and where wide content ends up. The tests
below assert on those records, and a screenshot of every page at both widths is saved in
_build/screenshots/ for an author to look at.

Chromium is Debian's (`apt-get install chromium`; `.ci/run` installs it), driven by the
`playwright` package (Playwright's own browser download needs the internet). Where neither is
there the tests are skipped with the reason. RNN_CHROMIUM=/path/to/chrome picks another browser.
"""
import functools
import http.server
import json
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from autograder.course import Course

REPO = Path(__file__).resolve().parent.parent
SCREENSHOTS = REPO / "_build" / "screenshots"
WIDTHS = {"desktop": 1280, "phone": 390}
HEIGHTS = {"desktop": 900, "phone": 844}

# Console errors that do not mean a broken page, each with the reason it is harmless.
HARMLESS_ERRORS = {
    # pydata-sphinx-theme reads the colour mode from localStorage; a first visit has none, the
    # theme says so and falls back to following the system ("auto"), which is what we want.
    "Got invalid theme mode": "first visit: no stored colour mode, the theme uses 'auto'",
}

# Student notebooks are what the buttons may offer; instructor sources never.
INSTRUCTOR_PATHS = ("autograder/", "solutions/", "solutions.py", "/source/", "release/", "gradebook")


def _chromium():
    for candidate in (os.environ.get("RNN_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


@dataclass
class Visit:
    page: str                      # path under _build/html, e.g. chapters/intro.html
    width: str                     # "desktop" or "phone"
    url: str = ""                  # where the browser ended up (after redirects)
    status: int = 0
    title: str = ""
    requests: list = field(default_factory=list)     # every URL the page asked for
    failed: list = field(default_factory=list)       # responses >= 400 and failed requests
    errors: list = field(default_factory=list)       # console errors and uncaught exceptions
    info: dict = field(default_factory=dict)         # what the in-page probe measured
    seconds: float = 0.0


# Runs inside the page once it has loaded: waits for MathJax, then measures.
PROBE = r"""
async (viewportWidth) => {
  const out = {};
  out.mathjaxLoaded = !!(window.MathJax && window.MathJax.startup);
  if (out.mathjaxLoaded && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const maths = [...document.querySelectorAll('.math, .MathJax_Preview')].filter(
    el => !el.closest('script, pre, code'));   // MathJax typesets .math even inside *_ignore sections
  out.equations = maths.length;
  out.untypeset = maths.filter(el => !el.querySelector('mjx-container')
                                    && el.tagName !== 'MJX-CONTAINER')
                       .map(el => el.textContent.trim().slice(0, 80));
  out.texErrors = [...document.querySelectorAll('mjx-merror')].map(el => el.textContent.slice(0, 80));
  // Images: loaded, and what they say to a reader who cannot see them.
  out.images = [...document.images].filter(img => img.getClientRects().length || img.closest('main'))
    .map(img => ({src: img.currentSrc || img.src, ok: img.complete && img.naturalWidth > 0,
                  alt: img.getAttribute('alt')}));
  // Buttons of the article header.
  const links = sel => [...document.querySelectorAll(sel)].map(a => ({text: a.textContent.trim(), href: a.href}));
  out.downloads = links('.dropdown-download-buttons a');
  out.launches = links('.dropdown-launch-buttons a');
  // Width: the page itself, and every wide thing inside the article.
  out.scrollWidth = document.documentElement.scrollWidth;
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const describe = el => (el.getAttribute('class') || el.tagName).slice(0, 40) + ': ' + el.textContent.replace(/\s+/g, ' ').trim().slice(0, 60);
  // Can a reader get to all of el? Walk up: an ancestor that scrolls (overflow auto/scroll) can
  // bring el into view, so from there on only that ancestor's box matters; an ancestor that clips
  // (hidden/clip) hides whatever sticks out of it; at the top, the box must fit the screen.
  const reach = el => {
    let r = el.getBoundingClientRect();
    for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX;
      if (o === 'visible') continue;
      const ar = a.getBoundingClientRect();
      if ((o === 'hidden' || o === 'clip') && (r.right > ar.right + 1 || r.left < ar.left - 1)) {
        return 'clipped by ' + (a.getAttribute('class') || a.tagName).slice(0, 40);
      }
      r = ar;
    }
    return r.right > viewportWidth + 1 ? `runs past the screen edge (right ${Math.round(r.right)} px)` : null;
  };
  out.wide = [];
  const check = (el, kind) => {
    const r = el.getBoundingClientRect();
    if (!r.width) return;                          // not displayed (a closed dropdown, print-only)
    const style = getComputedStyle(el);
    const item = {kind, what: describe(el), width: Math.round(r.width), content: el.scrollWidth,
                  scrolls: ['auto', 'scroll'].includes(style.overflowX),
                  tooWide: el.scrollWidth > el.clientWidth + 1,
                  fade: style.backgroundImage.includes('gradient'), unreachable: reach(el)};
    if (kind === 'inline math' && item.scrolls && item.tooWide) {
      // scrolling is for a formula wider than its line; anything else draws a needless scrollbar
      item.needless = el.clientWidth < el.parentElement.clientWidth - 1;
    }
    if (item.tooWide || item.unreachable || item.needless) out.wide.push(item);
  };
  article.querySelectorAll('div.math mjx-container[display="true"]').forEach(el => check(el, 'display math'));
  article.querySelectorAll('span.math, span.math > mjx-container').forEach(el => check(el, 'inline math'));
  article.querySelectorAll('pre').forEach(el => check(el, 'code'));
  article.querySelectorAll('table').forEach(el => check(el.closest('.pst-scrollable-table-container') || el, 'table'));
  article.querySelectorAll('img').forEach(el => check(el, 'image'));
  return out;
}
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(site):
    """The built site over HTTP on 127.0.0.1 (a thread; stopped with the module)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def _pages(site):
    """Every HTML page of the site, as a path relative to its root."""
    skip = ("_static/", "_sources/", "_images/", "reports/")
    return sorted(str(p.relative_to(site)) for p in site.rglob("*.html")
                  if not str(p.relative_to(site)).startswith(skip))


@functools.cache
def _search_term():
    """A word from the last chapter's title, and that chapter's page (search must find it)."""
    toc = (REPO / "_toc.yml").read_text()
    lessons = re.findall(r"file:\s*(chapters/\d\d_\w+/lesson)\b", toc)
    page = lessons[-1]
    source = (REPO / f"{page}.md").read_text()
    title = re.search(r"^# (.+)$", source, re.M).group(1)
    word = max(re.findall(r"[A-Za-z]{4,}", title), key=len)
    return word.lower(), f"{page}.html"


@pytest.fixture(scope="module")
def browsed(site, served):
    """Every page at every width, visited once: {(page, width): Visit}. Screenshots on the side."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -r requirements.txt -c constraints.txt)")
    executable = _chromium()
    if not executable:
        pytest.skip("no Chromium found (Debian: apt-get install chromium; .ci/run installs it as root); "
                    "RNN_CHROMIUM=/path/to/chrome picks another")
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    word, _ = _search_term()
    visits = {}
    with sync_playwright() as pw:
        # Scrollbars shown, as a desktop reader sees them (headless Chromium hides them by default).
        browser = pw.chromium.launch(executable_path=executable, ignore_default_args=["--hide-scrollbars"], args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"])
        try:
            for width, px in WIDTHS.items():
                phone = width == "phone"
                context = browser.new_context(viewport={"width": px, "height": HEIGHTS[width]},
                                              is_mobile=phone, has_touch=phone, device_scale_factor=1)
                context.set_default_timeout(30_000)
                for page_path in _pages(site):
                    query = f"?q={word}" if page_path == "search.html" else ""
                    visits[page_path, width] = _visit(context, site, served, page_path, query, width, px)
                context.close()
        finally:
            browser.close()
    # What each visit measured, beside the screenshots, for an author looking into a failure.
    (SCREENSHOTS / "visits.json").write_text(json.dumps(
        {f"{p} ({w})": {"url": v.url, "errors": v.errors, "failed": v.failed, "probe": v.info,
                        "requests elsewhere": [u for u in v.requests if not u.startswith("http://127.0.0.1")]}
         for (p, w), v in visits.items()}, indent=1))
    return visits


def _visit(context, site, served, page_path, query, width, px):
    visit = Visit(page_path, width)
    page = context.new_page()
    local = served.rstrip("/")

    def on_request(request):
        visit.requests.append(request.url)

    def route(route):
        # Nothing may leave the machine: a request elsewhere is recorded (above) and refused here.
        url = route.request.url
        if url.startswith((local, "data:", "blob:", "about:")):
            route.continue_()
        else:
            route.abort()

    page.on("request", on_request)
    page.on("requestfailed", lambda r: visit.failed.append(f"{r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and visit.failed.append(f"{r.url} (HTTP {r.status})"))
    page.on("console", lambda m: m.type == "error" and visit.errors.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: visit.errors.append(f"uncaught: {e}"))
    page.route("**/*", route)
    start = time.monotonic()
    url = served + page_path + query
    response = page.goto(url, wait_until="load")
    if re.search(r'http-equiv="refresh"', (site / page_path).read_text(), re.I):  # a redirect: follow it
        page.wait_for_url(lambda u: u != url)
        page.wait_for_load_state("load")
    if page_path == "search.html":
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:  # Sphinx's search runs after load and writes a summary when done
            page.wait_for_function("() => /Search finished|found/i.test("
                                   "(document.querySelector('#search-results') || {}).textContent || '')",
                                   timeout=15_000)
        except PlaywrightTimeout:
            pass  # no summary: test_search_finds_the_last_chapter reports the results there are
    visit.status = response.status if response else 0
    visit.url = page.url
    visit.title = page.title()
    visit.info = page.evaluate(PROBE, px)
    if page_path == "search.html":
        visit.info["results"] = page.eval_on_selector_all("#search-results a", "els => els.map(a => a.href)")
    page.screenshot(path=str(_screenshot(page_path, width)), full_page=True)
    visit.seconds = time.monotonic() - start
    page.close()
    return visit


def _screenshot(page_path, width):
    """_build/screenshots/chapters_01_rnn_by_hand_lesson-phone.png for chapters/01_rnn_by_hand/lesson.html."""
    return SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', page_path.removesuffix('.html'))}-{width}.png"


def _report(problems):
    return "\n".join(f"{page} ({width}): {what}" for (page, width), what in problems)


def _notebook_pages():
    """Pages whose source is a notebook: they get launch buttons and an .ipynb download."""
    pages = {}
    for path in (REPO / "chapters").rglob("*"):
        rel = path.relative_to(REPO)
        if path.suffix == ".md" and re.match(r"---\n(.*\n)*?kernelspec:", path.read_text()):
            pages[str(rel.with_suffix(".html"))] = str(rel.with_suffix(".ipynb"))
        elif path.name == "exercise.ipynb":
            pages[str(rel.with_suffix(".html"))] = str(rel)
    return pages


# ---------------------------------------------------------------------------------------------


def test_every_page_loads(browsed):
    problems = [(key, f"HTTP {v.status}") for key, v in browsed.items() if v.status != 200]
    # A local request that failed is a file the site lacks (requests elsewhere: the next test).
    problems += [(key, f"failed: {f}") for key, v in browsed.items() for f in v.failed
                 if f.startswith("http://127.0.0.1")]
    problems += [(key, "no title") for key, v in browsed.items() if not v.title.strip()]
    assert not problems, _report(problems)
    redirect = browsed["index.html", "desktop"]
    assert redirect.url.endswith("chapters/intro.html"), f"index.html should open the introduction, went to {redirect.url}"
    timings = sorted(((v.seconds, k) for k, v in browsed.items()), reverse=True)[:3]
    print("slowest visits:", ", ".join(f"{p} ({w}) {s:.1f}s" for s, (p, w) in timings))


def test_no_request_leaves_localhost(browsed):
    problems = [(key, f"asked for {url}") for key, v in browsed.items() for url in v.requests
                if not url.startswith(("http://127.0.0.1:", "data:", "blob:", "about:"))]
    assert not problems, "the site must work offline (MathJax, fonts, scripts served by the site itself):\n" + _report(problems)


def test_no_javascript_errors(browsed):
    problems = [(key, e) for key, v in browsed.items() for e in v.errors
                if not any(known in e for known in HARMLESS_ERRORS)]
    assert not problems, _report(problems)


def test_every_equation_is_typeset(browsed):
    problems = []
    for key, v in browsed.items():
        info = v.info
        if info["equations"] and not info["mathjaxLoaded"]:
            problems.append((key, f"MathJax did not load; {info['equations']} equations show raw TeX"))
        problems += [(key, f"raw TeX: {t}") for t in info["untypeset"][:5]]
        problems += [(key, f"TeX error: {t}") for t in info["texErrors"]]
    assert not problems, _report(problems)
    lesson = _search_term()[1]
    assert browsed[lesson, "desktop"].info["equations"] > 0, "the lesson shows no equation at all: the probe finds none"


def test_every_image_loads(browsed):
    problems = [(key, f"image does not load: {img['src']}") for key, v in browsed.items()
                for img in v.info["images"] if not img["ok"]]
    assert not problems, _report(problems)


def test_every_image_says_what_it_shows(browsed):
    problems = [(key, f"alt text {img['alt']!r} for {img['src'].rsplit('/', 1)[-1]}")
                for key, v in browsed.items() for img in v.info["images"]
                if not img["alt"] or re.search(r"\.(png|jpe?g|svg|gif)$|^\.\.?/|_images/", img["alt"].strip())]
    assert not problems, _report(problems)


def test_buttons_offer_student_notebooks_only(browsed, site):
    expected = _notebook_pages()
    assignments = {Course().assignment(a).chapter + "/exercise.html" for a in Course().assignments()
                   if Course().assignment(a).chapter}
    problems = []
    for (page, width), v in browsed.items():
        if width != "desktop":
            continue
        hrefs = [b["href"] for b in v.info["downloads"] + v.info["launches"]]
        problems += [((page, width), f"a button points at an instructor file: {h}") for h in hrefs
                     if any(p in unquote(h) for p in INSTRUCTOR_PATHS)]
        if page not in expected:
            continue
        notebook = expected[page]
        downloads = [b["href"] for b in v.info["downloads"] if b["href"].endswith(".ipynb")]
        if not downloads:
            problems.append(((page, width), "no .ipynb download button"))
        for href in downloads:
            local = site / urlsplit(href).path.lstrip("/")
            if not local.exists():
                problems.append(((page, width), f"download {href} is missing from the site"))
            elif page in assignments:
                text = local.read_text()
                if "YOUR CODE HERE" not in text or "BEGIN SOLUTION" in text:
                    problems.append(((page, width), f"download {href} is not the released student notebook"))
        launches = {b["text"]: b["href"] for b in v.info["launches"]}
        for provider in _launch_providers():
            href = launches.get(provider)
            if not href:
                problems.append(((page, width), f"no {provider} launch button"))
                continue
            target = _launch_target(href)
            if not target.endswith(notebook):
                problems.append(((page, width), f"{provider} opens {target}, not the student notebook {notebook}"))
            elif not (REPO / notebook).exists():
                problems.append(((page, width), f"{provider} opens {notebook}, which the build did not write"))
    assert not problems, _report(problems)
    assert assignments <= set(expected), "every exercise page must be checked"


def _launch_providers():
    """The launch buttons _config.yml asks for, by the text the theme gives them."""
    import yaml

    config = yaml.safe_load((REPO / "_config.yml").read_text()).get("launch_buttons") or {}
    names = {"binderhub_url": "Binder", "colab_url": "Colab", "jupyterhub_url": "JupyterHub"}
    return [name for key, name in names.items() if config.get(key)]


def _launch_target(href):
    """The repository path a Binder or Colab link opens."""
    parts = urlsplit(href)
    if "urlpath" in parse_qs(parts.query):
        return parse_qs(parts.query)["urlpath"][0]
    return parts.path.split("/blob/", 1)[-1]


def test_search_finds_the_last_chapter(browsed):
    word, page = _search_term()
    results = browsed["search.html", "desktop"].info.get("results", [])
    assert any(urlsplit(r).path.endswith("/" + page) for r in results), \
        f"searching the site for {word!r} should find {page}; results: {results}"


def test_wide_content_scrolls_inside_the_column(browsed):
    """On 390 px: no page-level horizontal scroll. At both widths: wide equations, code and tables
    scroll inside the column; formulas and code with a visible sign (a shadow on the side that has
    more); nothing is clipped out of reach; no formula that fits its line scrolls (a needless
    scrollbar)."""
    px = WIDTHS["phone"]
    problems = []
    for key, v in browsed.items():
        if key[1] == "phone" and v.info["scrollWidth"] > px:
            problems.append((key, f"the page is {v.info['scrollWidth']} px wide on a {px} px screen"))
        for item in v.info["wide"]:
            what = f"{item['kind']} ({item['content']} px of content in {item['width']} px): {item['what']}"
            if item["unreachable"]:
                problems.append((key, f"{item['unreachable']}: {what}"))
            if item["tooWide"] and item["scrolls"] and not item["fade"] and item["kind"] != "table":
                problems.append((key, f"scrolls with no visible sign: {what}"))  # a table's cut column shows it
            if item["tooWide"] and not item["scrolls"] and item["kind"] in ("display math", "code", "table"):
                problems.append((key, f"wider than its box and does not scroll: {what}"))
            if item.get("needless"):
                problems.append((key, f"scrolls though it fits its line: {what}"))
    assert not problems, _report(problems)


def test_a_screenshot_of_every_page_at_every_width(browsed):
    missing = [(key, "no screenshot") for key in browsed if not _screenshot(*key).exists()]
    assert not missing, _report(missing)
    print(f"screenshots: {SCREENSHOTS}")
