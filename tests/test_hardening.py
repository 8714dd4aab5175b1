"""Regression tests of issue 11, one or more per numbered item: every bad
input or fault gets one clean answer (a message, exit status 2, nothing
written), and outputs that colleagues and scripts can use."""
from __future__ import annotations

import difflib
import errno
import json
import os
import re
import stat
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import superpose
from superpose import compiler
from superpose.compiler import CompileError
from superpose.runtime.cli import EXIT_USER_ERROR, main
from superpose.errors import UserError
from tests.programs_table import INLINE

ROOT = Path(__file__).resolve().parents[1]
ANIMALS = ROOT / "programs" / "animals.sbp"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _reject_constant(name: str):
    raise ValueError(f"not strict JSON: {name}")


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity, as a strict parser does."""
    return json.loads(text, parse_constant=_reject_constant)


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of the CLI; argparse's refusals exit 2 too."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as done:
        code = done.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def animals_artifact(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("animals") / "animals.safetensors"
    superpose.save(superpose.compile_file(ANIMALS), path)
    return path


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


# 1. Writes go only to regular files: a device node or a FIFO is refused, not replaced.

def test_compile_refuses_a_fifo_as_output(tmp_path, capsys):
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    code, _, err = _cli(capsys, "compile", ANIMALS, "-o", fifo)
    assert code == EXIT_USER_ERROR
    assert stat.S_ISFIFO(os.stat(fifo).st_mode), "the FIFO was replaced"
    assert "not a regular file" in err


@pytest.mark.skipif(not IS_ROOT, reason="creating a device node needs root")
def test_compile_refuses_a_device_node_as_output(tmp_path, capsys):
    full = tmp_path / "full.safetensors"  # a private copy of /dev/full (char 1, 7)
    os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    code, _, err = _cli(capsys, "compile", ANIMALS, "-o", full)
    assert code == EXIT_USER_ERROR
    assert stat.S_ISCHR(os.stat(full).st_mode), "the device node was replaced"
    assert "not a regular file" in err


# 2. Loops that expand past the gate limit stop with a positioned error.

@pytest.mark.parametrize("loops", [
    "for i in range(1000000000):\n    g[i] = a\n",
    "for i in range(1000000000000000000000000000000):\n    g[i] = a\n",
    "for i in range(1000):\n  for j in range(1000):\n    for k in range(1000):\n      g[i * 1000000 + j * 1000 + k] = a\n",
])
def test_loops_past_the_gate_limit_are_a_compile_error(loops):
    with pytest.raises(CompileError) as caught:
        compiler.compile_source(f"input a\n{loops}output g\n", filename="big.sbp")
    message = str(caught.value)
    assert "big.sbp:2:" in message and "--max-gates" in message


def test_the_gate_limit_can_be_raised(tmp_path, capsys):
    text = "input a\nfor i in range(3000):\n    g[i] = a\noutput g\n"
    with pytest.raises(CompileError, match="more than 1,000 gates"):
        compiler.compile_source(text, max_gates=1000)
    assert compiler.compile_source(text, max_gates=5000).n_gates == 3000
    source = _write(tmp_path, "loop.sbp", text)
    out = tmp_path / "loop.safetensors"
    code, _, err = _cli(capsys, "compile", source, "-o", out, "--max-gates", "1000")
    assert code == EXIT_USER_ERROR and "--max-gates" in err and not out.exists()
    assert _cli(capsys, "compile", source, "-o", out, "--max-gates", "5000")[0] == 0


def test_a_vector_index_past_the_gate_limit_is_a_compile_error():
    with pytest.raises(CompileError, match=r"<string>:2:3: index 1000000000000 is too large"):
        compiler.compile_source("input a\ng[1000000000000] = a\noutput g\n")


# 3. The superposed lowering on programs with one or two inputs.

@pytest.mark.parametrize("text", [
    "sparsity 1\ninput a\ng = a\noutput g\n",
    "sparsity 2\ninput a, b\ng = a & b\noutput g\n",
    "sparsity 1\ninput a, b\ng = a | !b\nh = a ^ b\noutput g, h\n",
])
def test_superposed_lowering_of_one_or_two_inputs_matches_the_interpreter(text):
    circuit = compiler.circuit_from_source(text)
    compiled = compiler.compile_source(text, strategy="hub")  # the default plan may take exact: it is smaller here
    assert compiled.meta.lowering != "exact"
    x = np.array([[int(v) for v in np.binary_repr(i, circuit.n_inputs)] for i in range(2 ** circuit.n_inputs)])
    x = x[x.sum(axis=1) <= circuit.sparsity]
    assert np.array_equal(compiled.run(x) > 0.5, compiler.output_values(circuit, x.astype(bool)))


# 4. Artifacts whose metadata is not a JSON object.

def _with_header(source: Path, target: Path, header_text: str) -> Path:
    save_file(load_file(str(source)), str(target), metadata={"superpose": header_text})
    return target


def _header_of(path: Path) -> dict:
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        return json.loads(json.loads(f.read(size))["__metadata__"]["superpose"])


@pytest.mark.parametrize("header", ["[]", '"text"', "3", "null"])
@pytest.mark.parametrize("command", [["info"], ["run"], ["report", "--samples", "10"], ["verify"]])
def test_metadata_that_is_not_an_object_is_an_artifact_error(tmp_path, capsys, animals_artifact, header, command):
    bad = _with_header(animals_artifact, tmp_path / "bad.safetensors", header)
    code, _, err = _cli(capsys, command[0], bad, *command[1:])
    assert code == EXIT_USER_ERROR and "Traceback" not in err and err.strip()


@pytest.mark.parametrize("meta", [[], "text", 3, None])
@pytest.mark.parametrize("command", [["info"], ["run"], ["report", "--samples", "10"], ["verify"]])
def test_meta_that_is_not_an_object_is_an_artifact_error(tmp_path, capsys, animals_artifact, meta, command):
    header = _header_of(animals_artifact)
    header["meta"] = meta
    bad = _with_header(animals_artifact, tmp_path / "bad.safetensors", json.dumps(header))
    code, _, err = _cli(capsys, command[0], bad, *command[1:])
    assert code == EXIT_USER_ERROR and "meta" in err


@pytest.mark.parametrize("key, value", [(("meta", "sparsity_levels"), 5), (("meta", "sparsity_levels", 0, "max_on"), "x"),
                                        (("meta", "sparsity"), -2), (("meta", "layer_of_gate"), [2 ** 70]),
                                        (("gate_names", 0), None), (("layers", 0, "kind"), []),
                                        (("layers", 0, "shape", 0), 2 ** 70)])
def test_values_of_the_wrong_type_inside_the_metadata_are_artifact_errors(tmp_path, capsys, animals_artifact, key,
                                                                         value):
    header = _header_of(animals_artifact)
    holder = header
    for part in key[:-1]:
        holder = holder[part]
    holder[key[-1]] = value
    bad = _with_header(animals_artifact, tmp_path / "bad.safetensors", json.dumps(header))
    for command in (["info"], ["report", "--samples", "10"]):
        code, _, err = _cli(capsys, command[0], bad, *command[1:])
        assert code == EXIT_USER_ERROR and "Traceback" not in err, (command, err)


# 5. OS failures while writing: a clean message, the old file intact, no temporary left.

@pytest.mark.parametrize("target", ["/proc/x.safetensors", "/sys/x.safetensors"])
def test_outputs_under_proc_and_sys_are_refused(capsys, target):
    code, _, err = _cli(capsys, "compile", ANIMALS, "-o", target)
    assert code == EXIT_USER_ERROR and target in err


def test_a_full_disk_is_a_clean_error_and_keeps_the_old_file(tmp_path, capsys, monkeypatch):
    out = tmp_path / "animals.safetensors"
    out.write_bytes(b"old")

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    code, _, err = _cli(capsys, "compile", ANIMALS, "-o", out)
    assert code == EXIT_USER_ERROR
    assert "No space left on device" in err and str(out) in err
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["animals.safetensors"]


# 6. AIGER headers and binary sections that would exhaust memory or digits.

def test_aiger_header_declaring_a_billion_inputs_is_refused(tmp_path, capsys):
    path = tmp_path / "huge.aig"
    path.write_bytes(b"aig 1000000000 1000000000 0 1 0\n2\n")
    with pytest.raises(CompileError, match="--max-gates"):
        compiler.load_circuit(path)
    assert _cli(capsys, "compile", path, "-o", tmp_path / "x.safetensors")[0] == EXIT_USER_ERROR


def test_aiger_binary_section_of_0xff_bytes_is_a_short_error(tmp_path):
    path = tmp_path / "ff.aig"
    path.write_bytes(b"aig 3 2 0 1 1\n6\n" + b"\xff" * 10_000 + b"\x01\x01")  # one huge delta, then a small one
    with pytest.raises(CompileError) as caught:
        compiler.load_circuit(path)
    assert len(str(caught.value)) < 300 and "byte 16" in str(caught.value)


# 7. Absurd numbers on the command line.

@pytest.mark.parametrize("option", ["--samples", "--max-active"])
def test_report_refuses_absurd_numbers(capsys, animals_artifact, option):
    code, _, err = _cli(capsys, "report", animals_artifact, option, "99999999999999999999999")
    assert code == EXIT_USER_ERROR and option in err


def test_report_sample_limit_can_be_raised(capsys, animals_artifact):
    code, _, err = _cli(capsys, "report", animals_artifact, "--samples", "200", "--max-samples", "100")
    assert code == EXIT_USER_ERROR and "--max-samples" in err
    with pytest.raises(UserError, match="at most 100"):
        superpose.error_report(superpose.load(animals_artifact), samples=200, max_samples=100)


# 8. Thousands of undefined names: suggestions only for the errors shown.

def test_did_you_mean_is_looked_up_only_for_reported_errors(monkeypatch):
    calls = []
    real = difflib.get_close_matches

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(difflib, "get_close_matches", counting)
    names = [f"w{i}" for i in range(5000)]
    text = "input " + ", ".join(f"v{i}" for i in range(5000)) + "\n" + \
           "".join(f"g{i} = {name} & v{i}\n" for i, name in enumerate(names)) + "output g0\n"
    with pytest.raises(CompileError) as caught:
        compiler.compile_source(text)
    assert len(calls) <= 60
    assert "... and 4950 more errors" in str(caught.value)


# 9. convert never writes a program that compile rejects.

def test_convert_of_a_netlist_without_inputs_writes_nothing(tmp_path, capsys):
    source = tmp_path / "const.aag"
    source.write_text("aag 0 0 0 1 0\n1\n")
    out = tmp_path / "const.sbp"
    code, _, err = _cli(capsys, "convert", source, "-o", out)
    assert code == EXIT_USER_ERROR and "no inputs" in err and not out.exists()


# 10. Small inconsistencies.

def test_compile_source_strips_a_byte_order_mark():
    assert compiler.compile_source("\ufeffinput a\ng = a\noutput g\n").n_gates == 1


def test_too_deep_nesting_has_a_position():
    text = "input a, b\ng = " + "(" * 3000 + "a" + " & b)" * 3000 + "\noutput g\n"
    with pytest.raises(CompileError, match=r"^deep\.sbp:2:\d+: expressions are nested too deeply"):
        compiler.compile_source(text, filename="deep.sbp")


def test_empty_output_path_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = _cli(capsys, "compile", ANIMALS, "-o", "")
    assert code == EXIT_USER_ERROR and list(tmp_path.iterdir()) == []


def test_output_path_with_trailing_slash_is_refused(tmp_path, capsys):
    code, _, err = _cli(capsys, "compile", ANIMALS, "-o", f"{tmp_path}/foo/")
    assert code == EXIT_USER_ERROR and list(tmp_path.iterdir()) == []


def test_save_into_a_missing_folder_names_the_folder(tmp_path):
    circuit = superpose.compile_file(ANIMALS)
    with pytest.raises(UserError) as caught:
        superpose.save(circuit, tmp_path / "missing" / "a.safetensors")
    assert "missing" in str(caught.value) and ".tmp" not in str(caught.value)


# 11. Outputs have the umask's permissions.

def test_outputs_follow_the_umask(tmp_path, capsys):
    previous = os.umask(0o027)
    try:
        artifact = tmp_path / "a.safetensors"
        assert _cli(capsys, "compile", ANIMALS, "-o", artifact)[0] == 0
        assert _cli(capsys, "report", artifact, "--samples", "20", "--json", tmp_path / "r.json",
                    "--csv", tmp_path / "r.csv")[0] == 0
        netlist = _write(tmp_path, "and.aag", "aag 3 2 0 1 1\n2\n4\n6\n6 2 4\n")
        assert _cli(capsys, "convert", netlist, "-o", tmp_path / "and.sbp")[0] == 0
    finally:
        os.umask(previous)
    for name in ("a.safetensors", "r.json", "r.csv", "and.sbp"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o640, name


# 12. Gates that are constant under the sparsity are named at compile time and marked in the report.

IMPOSSIBLE = "sparsity 2\ninput a, b, c\ng = a & b & c\nh = a & b\noutput g, h\n"


def test_compile_warns_about_each_impossible_gate(tmp_path, capsys):
    source = _write(tmp_path, "imp.sbp", IMPOSSIBLE)
    code, out, err = _cli(capsys, "compile", source, "-o", tmp_path / "imp.safetensors")
    assert code == 0
    assert re.search(r"imp\.sbp:3:\d+: .*'g'.*never true", out + err)
    assert "'h'" not in out + err
    code, out, err = _cli(capsys, "compile", ANIMALS, "-o", tmp_path / "animals.safetensors")
    assert re.search(r"animals\.sbp:18:\d+: .*'deep'.*never true", out + err)


def test_compile_names_the_first_constant_gates_and_counts_the_rest(tmp_path, capsys):
    text = "sparsity 1\ninput x[26]\nfor i in range(25):\n    g[i] = x[i] & x[i + 1]\noutput g\n"
    source = _write(tmp_path, "many.sbp", text)
    code, out, _ = _cli(capsys, "compile", source, "-o", tmp_path / "many.safetensors", "--json", tmp_path / "c.json")
    assert code == 0 and out.count("never true") == 20 and "... and 5 more gates constant" in out
    assert len(strict_json((tmp_path / "c.json").read_text())["warnings"]) == 25


def test_report_marks_impossible_gates_and_writes_strict_json(tmp_path, capsys):
    compiled = compiler.compile_source(IMPOSSIBLE)
    report = superpose.error_report(compiled, samples=50)
    by_name = {g.name: g for g in report.gates}
    assert by_name["g"].constant == 0 and by_name["h"].constant is None
    assert by_name["g"].false_negative_rate is None
    data = strict_json(report.to_json())
    assert data["summary"]["constant_gates"] == 1
    only_impossible = compiler.compile_source("sparsity 1\ninput a, b\ng = a & b\noutput g\n")
    data = strict_json(superpose.error_report(only_impossible, samples=20).to_json())
    assert data["summary"]["gates_per_neuron"] is None


def test_report_table_says_which_gates_are_constant(tmp_path, capsys):
    artifact = tmp_path / "imp.safetensors"
    superpose.save(compiler.compile_source(IMPOSSIBLE), artifact)
    code, out, _ = _cli(capsys, "report", artifact, "--samples", "20")
    assert code == 0 and "nan" not in out and re.search(r"g\b.*never true", out)


# 13. The too-dense warning only where it means something.

def test_no_too_dense_warning_on_the_shipped_small_examples(tmp_path, capsys):
    for name in ("animals", "thresholds", "bigrams", "xor_logic"):
        source = ROOT / "programs" / f"{name}.sbp"
        code, out, err = _cli(capsys, "compile", source, "-o", tmp_path / f"{name}.safetensors")
        assert code == 0 and "too dense" not in out + err, name


def test_too_dense_warning_on_a_wide_dense_level(tmp_path, capsys):
    text = "sparsity 3\ninput x[40]\nfor i in range(40):\n    g[i] = !x[i] | x[(i + 1) // 2]\noutput g\n"
    source = _write(tmp_path, "dense.sbp", text)
    # a superposed lowering (the default plan takes exact here: smaller) is what the warning is about
    code, out, _ = _cli(capsys, "compile", source, "--strategy", "hub", "-o", tmp_path / "dense.safetensors")
    assert code == 0 and "too dense" in out
    code, out, _ = _cli(capsys, "compile", source, "--exact", "-o", tmp_path / "exact.safetensors")
    assert code == 0 and "too dense" not in out


# 14. Piped output, --json everywhere, --version, info's facts, progress on compile.

def test_piped_output_is_not_wrapped(tmp_path, capsys):
    folder = tmp_path / ("a-rather-long-folder-name-" * 4)
    folder.mkdir()
    artifact = folder / "animals.safetensors"
    code, out, _ = _cli(capsys, "compile", ANIMALS, "-o", artifact)
    assert code == 0 and str(artifact) in out
    code, out, _ = _cli(capsys, "info", artifact)
    assert "max on at once" in out and "┃" not in out


@pytest.mark.parametrize("strategy", ["chained", "deep"])
def test_piped_level_tables_of_layered_lowerings_are_plain(tmp_path, capsys, strategy):
    # the chained and deep lowerings print a per-level table in `info`: piped, it has no box either
    artifact = tmp_path / f"{strategy}.safetensors"
    code, _, _ = _cli(capsys, "compile", ROOT / "programs" / "chain.sbp", "--strategy", strategy,
                      "--superpose-levels", "always", "-o", artifact)
    assert code == 0
    code, out, _ = _cli(capsys, "info", artifact)
    assert code == 0 and f"levels of the {strategy} lowering" in out
    assert not set("┃━┏│") & set(out)


@pytest.mark.parametrize("command", [
    ["info", "{a}"], ["run", "{a}", "--on", "fur,flies"], ["report", "{a}", "--samples", "20"], ["verify", "{a}"],
    ["compile", str(ANIMALS), "-o", "{a}"]])
def test_json_on_stdout_parses_strictly(tmp_path, capsys, animals_artifact, command):
    target = animals_artifact if command[0] != "compile" else tmp_path / "new.safetensors"
    argv = [part.format(a=target) for part in command] + ["--json", "-"]
    code, out, _ = _cli(capsys, *argv)
    assert code == 0
    assert isinstance(strict_json(out), dict)


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert re.fullmatch(r"superpose \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


def test_info_shows_no_none_and_short_floats(tmp_path, capsys):
    exact = tmp_path / "exact.safetensors"
    superpose.save(compiler.compile_source("input a, b\ng = a & b\noutput g\n"), exact)
    code, out, _ = _cli(capsys, "info", exact)
    assert code == 0 and "None" not in out
    superposed = tmp_path / "sup.safetensors"
    superpose.save(compiler.compile_source("sparsity 2\ninput x[30]\nfor i in range(29):\n    g[i] = x[i] & x[i + 1]\n"
                                           "output g\n", embed_dim=20), superposed)
    code, out, _ = _cli(capsys, "info", superposed)
    assert code == 0 and not re.search(r"\d\.\d{6,}", out)


def test_compile_shows_progress_on_a_terminal(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")
    code, out, _ = _cli(capsys, "compile", ANIMALS, "-o", tmp_path / "a.safetensors")
    assert code == 0 and "lowering" in out
    monkeypatch.delenv("FORCE_COLOR")
    code, out, _ = _cli(capsys, "compile", ANIMALS, "-o", tmp_path / "b.safetensors")
    assert code == 0 and "lowering" not in out


# 15. Torch export: dtype, device, TorchScript, torch in -> torch out.

def test_torch_export_double_device_dtype_and_script():
    import torch
    circuit = superpose.compile_file(ANIMALS)
    x = np.zeros((3, circuit.n_inputs), dtype=np.float32)
    x[1, [1, 2]] = 1
    x[2, [0, 3]] = 1
    expected = circuit.run(x)
    double = superpose.to_torch(circuit).double()
    y = double(torch.from_numpy(x).double())
    assert y.dtype == torch.float64 and np.allclose(y.detach().numpy(), expected, atol=1e-5)
    module = superpose.to_torch(circuit, device="cpu", dtype=torch.float64)
    assert next(module.parameters()).dtype == torch.float64
    scripted = torch.jit.script(superpose.to_torch(circuit))
    assert np.allclose(scripted(torch.from_numpy(x)).detach().numpy(), expected, atol=1e-6)
    assert np.allclose(scripted.gate_values(torch.from_numpy(x)).detach().numpy(), circuit.gate_values(x), atol=1e-6)


def test_torch_export_of_an_empty_layer_is_silent():
    import torch
    # every output here is a constant, an input or a NOT of one (the hub lowering reads them with no neuron):
    # torch warned that initialising the empty layers was a no-op
    circuit = compiler.compile_source(INLINE["constants_and_alias"], strategy="hub", sparsity=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        module = superpose.to_torch(circuit)
    x = np.array([[0, 0], [1, 0], [1, 1]], dtype=np.float32)
    with torch.no_grad():
        assert np.allclose(module(torch.from_numpy(x)).numpy(), circuit.run(x))


def test_run_on_a_torch_tensor_returns_a_torch_tensor():
    import torch
    circuit = superpose.compile_file(ANIMALS)
    x = torch.zeros((2, circuit.n_inputs))
    for method in (circuit.run, circuit.gate_values):
        y = method(x)
        assert isinstance(y, torch.Tensor) and y.shape[0] == 2


# 16. Hints for newcomers.

@pytest.mark.parametrize("text, hint", [
    ("input a, b\ng = a or b\noutput g\n", "use '|'"),
    ("input a, b\ng = a and b\noutput g\n", "use '&'"),
    ("input a, b\ng = not a\noutput g\n", "use '!'"),
    ("input a, b\ng = ~a\noutput g\n", "use '!'"),
])
def test_python_operators_get_a_hint(text, hint):
    with pytest.raises(CompileError, match=re.escape(hint)):
        compiler.compile_source(text)


def test_unclosed_parenthesis_is_reported_where_it_opens():
    with pytest.raises(CompileError, match=r"^<string>:2:5: unclosed '\('"):
        compiler.compile_source("input a, b\ng = (a & b\noutput g\n")


def test_unknown_suffix_says_it_was_read_as_a_program(tmp_path):
    path = _write(tmp_path, "net.txt", "INPUT(a)\nOUTPUT(g)\ng = NOT(a)\n")
    with pytest.raises(CompileError, match="read as a superpose program.*--format"):
        compiler.load_circuit(path)


def test_report_on_a_program_says_compile_it_first(capsys):
    code, _, err = _cli(capsys, "report", ANIMALS)
    assert code == EXIT_USER_ERROR and "compile it first" in err


def test_repr_and_str_are_short_and_readable():
    circuit = superpose.compile_file(ANIMALS)
    assert len(repr(circuit)) < 300 and "animals" in repr(circuit)
    text = str(superpose.error_report(circuit, samples=20))
    assert not text.startswith("ErrorReport(") and "animals" in text and len(text) < 2000


# 17. The README's worked example and snippets.

README = (ROOT / "README.md").read_text()


def test_readme_worked_example_shows_the_shipped_program():
    block = re.search(r"```\n# programs/animals\.sbp\n(.*?)```", README, re.S).group(1)
    assert block == ANIMALS.read_text()


def test_readme_python_snippet_runs(tmp_path, monkeypatch):
    snippet = re.search(r"In Python:\n\n```python\n(.*?)```", README, re.S).group(1)
    (tmp_path / "programs").mkdir()
    for program in ANIMALS.parent.glob("*.sbp"):
        (tmp_path / "programs" / program.name).write_text(program.read_text())
    monkeypatch.chdir(tmp_path)
    exec(compile(snippet, "README snippet", "exec"), {})


def test_readme_plugin_snippet_imports_what_it_uses():
    snippet = re.search(r"```python\n(import superpose\nfrom superpose\.runtime\.pytest_plugin.*?)```",
                        README, re.S).group(1)
    assert "assert_circuit" in snippet.split("def ")[0]


def test_readme_says_how_to_get_the_command_on_the_path():
    assert ".venv/bin/activate" in README and ".venv/bin/superpose" in README
