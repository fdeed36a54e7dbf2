"""Benchmarks that print figures: what the proxy and its observability cost (never run as tests).

    python -m bench.run [--quick] [--out bench/results/latest.json]

run.py orchestrates; configs.py names what is compared; loadgen.py is the load generator
(its own process); measure.py runs one phase and samples the server (proxy_stats.py);
report.py turns runs into figures and ratios; callback_cpu.py measures the kit's callback
in-process; payload.py builds the Cline-sized request. redaction.py measures the redactor.
"""
