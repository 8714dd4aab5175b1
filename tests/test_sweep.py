"""superpose sweep: a tiny grid on the local executor and on Ray gives rows equal
to a direct compile + report of each cell, resumes without recomputing, and
refuses bad specs with one clear message."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from superpose.compiler.generators import random_pairs_circuit
from superpose.compiler.pipeline import compile_circuit, load_circuit
from superpose.runtime.cli import EXIT_USER_ERROR, main
from superpose.runtime.report import error_report
from superpose.sweep import LocalExecutor, RayExecutor, frontier_curves, load_spec, read_table, run_sweep
from superpose.sweep.executors import RAY_MISSING
from superpose.sweep.table import TIMINGS

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RAY_OBJECT_STORE = 100 * 2**20  # bytes: the rows are small, and the machine is shared
C17 = """# ISCAS-85 c17
INPUT(1)
INPUT(2)
INPUT(3)
INPUT(6)
INPUT(7)
OUTPUT(22)
OUTPUT(23)
10 = NAND(1, 3)
11 = NAND(3, 6)
16 = NAND(2, 11)
19 = NAND(11, 7)
22 = NAND(10, 16)
23 = NAND(16, 19)
"""
# the first grid: 2 programs x 2 strategies x 2 targets x 2 seeds, the exact cells shared by both targets: 12 cells
TINY = f"""samples = 60
confirm = 3
programs = ["{(ROOT / 'programs' / 'animals.sbp').as_posix()}",
            {{generator = "uand", m = 256, n_gates = 64, sparsity = 3, label = "uand-64"}}]
strategies = ["hub", "exact"]
targets = [0.01, 0.05]
seeds = [0, 1]

[[grid]]  # the axes above

[[grid]]  # those, but for these
programs = ["c17.bench"]
strategies = ["hub"]
sparsities = [2]
embed_dims = ["none", 4]
"""
TINY_CELLS = 12 + 2 * 2 * 2  # the second grid: c17 x 2 targets x 2 embed dims x 2 seeds


def _without_timings(row: dict) -> dict:
    return {name: value for name, value in row.items() if name not in TIMINGS}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A folder with the tiny spec and its netlist."""
    folder = tmp_path_factory.mktemp("sweep")
    (folder / "c17.bench").write_text(C17, encoding="utf-8")
    (folder / "tiny.toml").write_text(TINY, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def local_rows(tiny: Path) -> list[dict]:
    """The tiny grid run once on two local processes."""
    result = run_sweep(load_spec(tiny / "tiny.toml"), tiny / "local.csv", LocalExecutor(2))
    assert result.failures == [] and result.ran == TINY_CELLS and result.skipped == 0
    return result.rows


def test_every_cell_is_a_row_equal_to_a_direct_compile_and_report(tiny: Path, local_rows: list[dict]) -> None:
    spec = load_spec(tiny / "tiny.toml")
    assert len(spec.cells) == len(local_rows) == TINY_CELLS
    assert read_table(tiny / "local.csv") == local_rows
    for cell, row in zip(spec.cells, local_rows):
        assert row["key"] == cell.key
        options = {} if cell.strategy == "exact" else {"target_error": cell.target_error}  # exact takes none
        if cell.embed_dim is not None:
            options.update(embed_dim=cell.embed_dim, embedding=cell.embedding)
        if cell.program.label == "uand-64":
            circuit = random_pairs_circuit(256, 64, 3)
        else:
            circuit = load_circuit(tiny / cell.program.label if cell.program.file_format == "bench"
                                   else cell.program.label)
        compiled = compile_circuit(circuit, strategy=cell.strategy, seed=cell.seed, sparsity=cell.sparsity,
                                   **options)
        summary = error_report(compiled, samples=60, seed=cell.seed, confirm=3).summary()
        assert (row["neurons"], row["gates"], row["layers"], row["inputs"]) == \
               (compiled.n_neurons, compiled.n_gates, len(compiled.layers), compiled.n_inputs)
        for name in ("mean_error", "p99_error", "max_error", "gates_per_neuron", "features_per_dim"):
            assert row[name] == summary[name], (cell.describe(), name)


def test_a_row_equals_what_the_cli_compile_and_report_print(tiny: Path, local_rows: list[dict]) -> None:
    row = next(r for r in local_rows if r["program"] == "c17.bench" and r["embed_dim"] == 4 and r["seed"] == 1)
    artifact, report = tiny / "c17.safetensors", tiny / "c17.json"
    assert main(["compile", str(tiny / "c17.bench"), "-o", str(artifact), "--sparsity", "2", "--seed", "1",
                 "--target-error", str(row["target_error"]), "--embed-dim", "4"]) == 0
    assert main(["report", str(artifact), "--samples", "60", "--seed", "1", "--confirm", "3",
                 "--json", str(report)]) == 0
    summary = json.loads(report.read_text())["summary"]
    assert row["features_per_dim"] == 5 / 4 and row["sparsity"] == 2
    for name in ("neurons", "mean_error", "p99_error", "max_error", "gates_per_neuron"):
        assert row[name] == summary[name], name


def test_a_second_run_skips_every_cell_and_a_lost_row_is_the_only_one_recomputed(tiny: Path,
                                                                                  local_rows: list[dict]) -> None:
    table = tiny / "local.csv"
    before = table.read_bytes()
    again = run_sweep(load_spec(tiny / "tiny.toml"), table, LocalExecutor(2))
    assert (again.ran, again.skipped) == (0, TINY_CELLS) and table.read_bytes() == before
    lines = before.decode().splitlines(keepends=True)
    table.write_text("".join(lines[:4] + lines[5:]))  # lose the 4th row
    resumed = run_sweep(load_spec(tiny / "tiny.toml"), table, LocalExecutor(2))
    assert (resumed.ran, resumed.skipped) == (1, TINY_CELLS - 1)
    kept = {row["key"]: row for row in read_table(table)}
    for row in local_rows:  # the others' timings show they were not measured again
        same = kept[row["key"]] == row if row["key"] != local_rows[3]["key"] else \
            _without_timings(kept[row["key"]]) == _without_timings(row)
        assert same, row["key"]


def test_keys_change_with_every_input_of_a_cell(tiny: Path) -> None:
    cells = load_spec(tiny / "tiny.toml").cells
    assert len({cell.key for cell in cells}) == len(cells)
    (tiny / "other.toml").write_text(TINY.replace("samples = 60", "samples = 61"), encoding="utf-8")
    assert not {c.key for c in cells} & {c.key for c in load_spec(tiny / "other.toml").cells}
    assert [c.key for c in load_spec(tiny / "tiny.toml").cells] == [c.key for c in cells]


def test_ray_local_starts_an_instance_for_the_sweep_and_stops_it(tiny: Path, local_rows: list[dict]) -> None:
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'superpose[ray]'): the Ray "
                                            "executor is not tested")
    head = TINY.split("strategies")[0]  # the measuring settings and the programs: the same cells' keys
    (tiny / "one.toml").write_text(head + 'strategies = ["exact"]\nseeds = [1]\n', encoding="utf-8")
    assert main(["sweep", str(tiny / "one.toml"), "-o", str(tiny / "one.csv"), "--ray", "local", "--jobs", "1"]) == 0
    rows = read_table(tiny / "one.csv")
    assert len(rows) == 2 and not ray.is_initialized()
    assert [_without_timings(r) for r in rows] == \
           [_without_timings(r) for r in local_rows if r["key"] in {row["key"] for row in rows}]


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray instance with one CPU, started and stopped here."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'superpose[ray]'): the Ray "
                                            "executor is not tested")
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1", object_store_memory=RAY_OBJECT_STORE)
    yield ray
    ray.shutdown()


def test_ray_gives_the_rows_of_the_local_executor(tiny: Path, local_rows: list[dict], ray_cluster) -> None:
    result = run_sweep(load_spec(tiny / "tiny.toml"), tiny / "ray.csv", RayExecutor("auto", 1))
    assert result.failures == [] and result.ran == TINY_CELLS
    assert [_without_timings(r) for r in result.rows] == [_without_timings(r) for r in local_rows]
    assert ray_cluster.is_initialized(), "the sweep must leave a connection it did not open alone"


def test_without_ray_the_error_says_how_to_get_it(tiny: Path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    assert main(["sweep", str(tiny / "tiny.toml"), "-o", str(tiny / "none.csv"), "--ray", "auto"]) == EXIT_USER_ERROR
    assert RAY_MISSING in capsys.readouterr().err and not (tiny / "none.csv").exists()


def test_plot_draws_one_point_per_target_with_the_seeds_spread(tiny: Path, local_rows: list[dict]) -> None:
    assert main(["sweep", str(tiny / "tiny.toml"), "-o", str(tiny / "local.csv"),
                 "--plot", str(tiny / "frontier.png")]) == 0
    assert (tiny / "frontier.png").read_bytes().startswith(PNG_MAGIC)
    curves = frontier_curves(local_rows)
    assert set(curves) == {local_rows[0]["program"], "uand-64", "c17.bench"}
    assert set(curves["c17.bench"]) == {"hub", "hub, d0=4 random"}
    hub = curves["uand-64"]["hub"]
    assert len(hub) == 2 and all(point.seeds == 2 for point in hub)
    rows = [r for r in local_rows if r["program"] == "uand-64" and r["strategy"] == "hub"]
    worst = sorted((r["target_error"], r["max_error"]) for r in rows)
    by_target = {t: [e for target, e in worst if target == t] for t in (0.01, 0.05)}
    assert sorted(p.max_error for p in hub) == sorted(
        (min(e), sum(e) / 2, max(e)) for e in by_target.values())


@pytest.mark.parametrize("text,message", [
    ("programs = ['x.sbp']\nsampels = 10\n", "tiny.toml:2:1: sampels: unknown key (did you mean 'samples'?)"),
    ("programs = ['x.sbp']\nsamples = = 3\n", "tiny.toml:2:11: not valid TOML: Invalid value\n    samples = = 3\n"),
    ("programs = ['x.sbp'\n", "tiny.toml:1:20: not valid TOML: Unclosed array\n"),
    ("programs = ['missing.sbp']\n", "missing.sbp: no such file"),
    ("programs = [{generator = 'uand', m = 8}]\n", "tiny.toml:1:1: programs: generator 'uand': missing a required"),
    ("programs = [{generator = 'uand', m = 8, n_gates = 4, sparsity = 2, gates = 3}]\n",
     "generator 'uand' has no parameter 'gates'"),
    ("programs = [{generator = 'uand', m = 4, n_gates = 40, sparsity = 2}]\n", "4 inputs have 6 distinct pairs"),
    ("programs = [{generator = 'uand', m = 8, n_gates = 4, sparsity = 2}]\nstrategies = ['chained', 'exact']\n"
     "embed_dims = [4]\n", "tiny.toml:3:1: embed_dims: no strategy of this grid (chained, exact) takes embed_dim"),
    ("programs = [{generator = 'uand', m = 8, n_gates = 4, sparsity = 2}]\n[[grid]]\nwidths = [4]\n"
     "strategies = ['chained']\n", "tiny.toml:3:1: grid 1: widths: no strategy of this grid (chained) takes width"),
    ("programs = [{generator = 'uand', m = 8, n_gates = 4, sparsity = 2}]\ntargets = [1.5]\n",
     "tiny.toml:2:1: targets: 1.5 is not allowed: the values must be numbers strictly between 0 and 1"),
    ("programs = [{generator = 'uand', m = 8, n_gates = 4, sparsity = 2}]\n[[grid]]\nseeds = [-1]\n",
     "tiny.toml:3:1: grid 1: seeds: -1 is not allowed"),
    ("strategies = ['hub']\n", "tiny.toml: missing: list the programs"),
])
def test_a_bad_spec_is_one_message_with_its_position_and_nothing_is_written(tmp_path: Path, monkeypatch, capsys,
                                                                          text: str, message: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(text, encoding="utf-8")
    assert main(["sweep", "tiny.toml"]) == EXIT_USER_ERROR
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.toml"]


def test_a_program_error_points_into_the_program(tmp_path: Path, capsys) -> None:
    (tmp_path / "bad.sbp").write_text("input a\nb = a & c\noutput b\n", encoding="utf-8")
    (tmp_path / "tiny.toml").write_text("programs = ['bad.sbp']\n", encoding="utf-8")
    assert main(["sweep", str(tmp_path / "tiny.toml"), "-o", str(tmp_path / "t.csv")]) == EXIT_USER_ERROR
    assert "bad.sbp:2:9: undefined name 'c'" in capsys.readouterr().err


def test_a_cell_the_compiler_refuses_is_reported_and_the_others_are_kept(tmp_path: Path, capsys) -> None:
    (tmp_path / "tiny.toml").write_text(
        "samples = 20\nprograms = [{generator = 'uand', m = 8, n_gates = 6, sparsity = 2}]\nsparsities = [2, 9]\n",
        encoding="utf-8")
    assert main(["sweep", str(tmp_path / "tiny.toml"), "-o", str(tmp_path / "t.csv"), "--jobs", "1"]) \
        == EXIT_USER_ERROR
    out = capsys.readouterr().out
    assert "1 cells run" not in out and "2 cells run, 0 already" in out and "1 failed" in out
    assert "sparsity 9, seed 0: sparsity must be between 1 and the number of inputs (8), got 9" in " ".join(out.split())
    assert [row["sparsity"] for row in read_table(tmp_path / "t.csv")] == [2]


def test_the_readme_spec_is_the_example_spec_and_a_valid_grid(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```toml\n# sweeps/frontier.toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "readme.toml").write_text(block, encoding="utf-8")
    example = load_spec(ROOT / "sweeps" / "frontier.toml").cells
    assert [c.key for c in load_spec(tmp_path / "readme.toml").cells] == [c.key for c in example]
    assert len(example) == 18 and {c.strategy for c in example} == {"hub", "paper-uand"}
