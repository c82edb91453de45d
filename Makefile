# Two commands do all the set-up: `make demo` and `make test`.
# Both create .venv when it is missing and install the package (editable) into it.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?= out

.PHONY: demo test install clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	MPLBACKEND=Agg $(PY) examples/demo.py --out $(OUT)
	@echo "make demo: the pictures are $(OUT)/gre_*.png (open $(OUT)/gre_images.png first)"

test: $(STAMP)
	MPLBACKEND=Agg $(PY) -m pytest -q

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .hypothesis
