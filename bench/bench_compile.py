"""Compile time of generated programs (exact lowering), against parsing alone
as the side-by-side baseline. Target: 10,000 gates in under 10 s.

    python bench/bench_compile.py
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from superpose.compiler.frontend import circuit_from_file  # noqa: E402  (imported before any timing)
from superpose.compiler.pipeline import compile_circuit  # noqa: E402
from superpose.compiler.generators import layered_source  # noqa: E402
from markdown import table, write_section  # noqa: E402

COMMAND = "python bench/bench_compile.py"


def main() -> None:
    rows = []
    for n_gates in (1_000, 10_000):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"gen_{n_gates}.sbp"
            path.write_text(layered_source(n_gates))
            start = time.perf_counter()
            circuit = circuit_from_file(path)
            parsed = time.perf_counter() - start
            compiled = compile_circuit(circuit, strategy="exact")
            total = time.perf_counter() - start
        rows.append([f"{n_gates:,}", f"{parsed:.2f}", f"{total:.2f}", f"{total / parsed:.2f}",
                     str(len(compiled.layers)), f"{compiled.n_neurons:,}", "yes" if total < 10 else "no"])
        print(rows[-1])
    body = (f"Command: `{COMMAND}`. Generated programs (compiler/generators/layered.py), exact lowering, end to end "
            f"from the file. The baseline is parsing + checking alone, run in the same process.\n\n"
            + table(["gates", "parse+check s", "compile total s", "total / parse", "layers", "neurons",
                     "under 10 s"], rows))
    write_section("compile time", body)


if __name__ == "__main__":
    main()
