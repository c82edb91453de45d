# Two commands do all the set-up: `make demo` and `make test`.
# Both create .venv when it is missing and install the package (editable) into it.

PYTHON ?= python3
VENV ?= .venv
# the pinned versions (constraints-pypulseq-1.4.txt: the same with pypulseq 1.4.2)
CONSTRAINTS ?= constraints.txt
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?= out

.PHONY: demo test install clean

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	MPLBACKEND=Agg $(PY) examples/demo.py --out $(OUT)
	@echo "make demo: the pictures are $(OUT)/gre_*.png (open $(OUT)/gre_images.png first)"

test: $(STAMP)
	MPLBACKEND=Agg $(PY) -m pytest -q

clean:
	rm -rf $(VENV) .venv-pypulseq-1.4 $(OUT) .pytest_cache .hypothesis
