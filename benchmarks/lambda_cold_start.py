"""The cold start of each Lambda function of the image: the import of its handler's module, which
sets Django up once per execution environment (settings, apps, the framework's runtime, its
checks; the web function also loads the middleware), against a bare `django.setup()` of the
same settings, each in a fresh process, in the same run.

    .venv/bin/python -m benchmarks.lambda_cold_start [--runs 15] [--modules orders]

Each run is a new interpreter (`python -c`), as a new execution environment is; it times its
own import with `time.perf_counter` and prints it. The process's whole life (interpreter start
included) is timed from outside. The functions run as on Lambda (AWS_LAMBDA_FUNCTION_NAME set,
DEBUG off); with `--modules orders` (the default) as the split runs them: one module, the sqs
transport, signed calls to inventory. Nothing reaches the network: no secret is named, and
boto3 makes no call before the first message.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import ROOT, configure_environment, load_average, machine

SUBJECTS = {
    "django.setup() (baseline)": "import django; django.setup()",
    "web": "import modulith.aws.lambdas.web",
    "consume": "import modulith.aws.lambdas.consume",
    "relay": "import modulith.aws.lambdas.relay",
}
TIMED = "import time; started = time.perf_counter()\n{code}\nprint(time.perf_counter() - started)"


def environment(var: Path, modules: str) -> dict[str, str]:
    split = {
        "MODULITH_MODULES": modules,
        "MODULITH_TRANSPORT": "sqs",
        "MODULITH_INTERNAL_SECRET": "benchmark-" + "s" * 40,
        "MODULITH_SERVICE_URLS": "inventory=http://127.0.0.1:9",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    configure_environment(var, overrides=split if modules != "*" else {})
    return {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'platform'}",
        "AWS_LAMBDA_FUNCTION_NAME": "modulith-benchmark",
        "LOG_LEVEL": "WARNING",
    }


def measure(code: str, env: dict[str, str]) -> tuple[float, float]:
    """(the import, the whole process), in seconds."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", TIMED.format(code=code)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    whole = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{code!r} failed:\n{done.stderr}")
    return float(done.stdout.strip().splitlines()[-1]), whole


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per subject")
    parser.add_argument("--modules", default="orders", help="MODULITH_MODULES ('*': monolith)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    options = parser.parse_args()
    begun, load = time.monotonic(), load_average()
    with tempfile.TemporaryDirectory(prefix="modulith-cold-") as var:
        env = environment(Path(var), options.modules)
        for code in SUBJECTS.values():  # warms the file cache and byte code: not timed
            measure(code, env)
        figures: dict[str, dict[str, list[float]]] = {
            name: {"import": [], "process": []} for name in SUBJECTS
        }
        for _ in range(options.runs):  # interleaved, so a noisy moment hurts every subject
            for name, code in SUBJECTS.items():
                imported, whole = measure(code, env)
                figures[name]["import"].append(imported)
                figures[name]["process"].append(whole)
    baseline = statistics.median(figures["django.setup() (baseline)"]["import"])
    print(f"MODULITH_MODULES={options.modules}, {options.runs} fresh processes each\n")
    print("| subject | import + set-up p50 | min | max | vs baseline | whole process p50 |")
    print("|---|---|---|---|---|---|")
    for name, times in figures.items():
        imports = times["import"]
        p50 = statistics.median(imports)
        cells = [
            name,
            f"{p50 * 1000:.0f} ms",
            f"{min(imports) * 1000:.0f} ms",
            f"{max(imports) * 1000:.0f} ms",
            f"{p50 / baseline:.2f}x",
            f"{statistics.median(times['process']) * 1000:.0f} ms",
        ]
        print("| " + " | ".join(cells) + " |")
    print()
    print(machine(time.monotonic() - begun, (load, load_average())))
    if options.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
