"""This book's own Sphinx extension (Jupyter Book 1.x `sphinx: local_extensions` in _config.yml).

- Every page's scripts once. Sphinx 7.4 lists a body-only script that an extension adds after the
  builder has started (sphinx-thebe's `const THEBE_JS_URL = ...`, sphinx-togglebutton's selector)
  twice: the builder keeps it with filename None, and `prepare_writing` adds the registry's copy
  again with filename '' (not equal, so not deduplicated). The second `const` declaration is a
  SyntaxError on every page. We drop the repeats while each page is rendered.
- MathJax from the site itself: the build stops, with the command to run, when the copy that
  `mathjax_path` points at (_vendor/mathjax, fetched by _ext/prepare_site.py) is missing, instead
  of publishing a site whose equations are raw TeX without the network.
- The root index.html: a page that names the book and links to its first page, with the same
  immediate redirect, instead of the one-line redirect sphinx-external-toc writes.
- Executed notebooks that run without the course: the theme's download button offers the executed
  notebook (_sources/.../lesson.ipynb); its `from lessonkit import ...` line is replaced by the
  module's code, as in the .ipynb twins (_ext/prepare_site.py, inline_lessonkit).
"""
import html
from pathlib import Path

from sphinx.errors import ConfigError

VENDOR = Path(__file__).resolve().parent.parent / "_vendor"


def check_mathjax(app):
    if app.builder.format != "html":
        return
    path = app.config.mathjax_path
    if "://" in path:
        raise ConfigError(f"mathjax_path {path!r} loads MathJax from another site: equations need the network")
    bundle = VENDOR / "mathjax" / Path(path).name
    if not bundle.exists():
        raise ConfigError(f"{bundle} is missing: run `python _ext/prepare_site.py` (make book runs it) "
                          "to fetch the pinned MathJax before building")


def unique_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (script.filename or "", script.priority, tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    if "script_files" in context:
        context["script_files"][:] = unique


def write_root_index(app, exception):
    if exception is not None or app.builder.format != "html" or app.config.root_doc == "index":
        return
    target = app.builder.get_target_uri(app.config.root_doc)
    title = html.escape(app.config.html_title or app.config.project)
    Path(app.outdir, "index.html").write_text(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"utf-8\">\n"
        f"  <title>{title}</title>\n  <meta http-equiv=\"refresh\" content=\"0; url={target}\">\n"
        f"  <link rel=\"canonical\" href=\"{target}\">\n</head>\n"
        f"<body>\n  <p><a href=\"{target}\">{title}: start reading</a></p>\n</body>\n</html>\n",
        encoding="utf8")


def self_contained_notebooks(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    import nbformat
    from prepare_site import inline_lessonkit

    for path in Path(app.outdir, "_sources").rglob("*.ipynb"):
        notebook = nbformat.read(str(path), as_version=4)
        nbformat.write(inline_lessonkit(notebook), str(path))


def setup(app):
    app.connect("builder-inited", check_mathjax)
    app.connect("html-page-context", unique_scripts, priority=900)    # after every other extension
    app.connect("build-finished", write_root_index, priority=400)     # before sphinx-external-toc's
    app.connect("build-finished", self_contained_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
