"""The hyperlasso command end to end, on CSV, NPZ and LIBSVM files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import dump_svmlight_file, make_classification

from hyperlasso.cli import main
from hyperlasso.datasets import make_correlated_regression

FAST = ["--max-iter", "5", "--cv", "3", "--quiet"]


@pytest.fixture(scope="module")
def data():
    X, y, _ = make_correlated_regression(n_samples=60, n_features=15, n_nonzero=3,
                                         random_state=0)
    return X, y


def _write_csv(path, X, y, target_name="price", target_first=False):
    names = [f"f{j}" for j in range(X.shape[1])]
    columns = [target_name, *names] if target_first else [*names, target_name]
    table = np.column_stack([y, X]) if target_first else np.column_stack([X, y])
    lines = [",".join(columns)] + [",".join(f"{v:.10g}" for v in row) for row in table]
    path.write_text("\n".join(lines) + "\n")


def _run(tmp_path, *args):
    return main(["tune", *map(str, args), *FAST, "--json", str(tmp_path / "out.json"),
                 "--png", str(tmp_path / "out.png")])


def test_csv_with_named_target(tmp_path, data, capsys):
    X, y = data
    _write_csv(tmp_path / "d.csv", X, y, target_first=True)
    assert _run(tmp_path, tmp_path / "d.csv", "--target", "price") == 0
    out = capsys.readouterr().out
    assert "target column 'price'" in out and "alpha:" in out and "test mse" in out
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["n_features"] == 15 and report["model"] == "LassoCV"
    assert report["validation_score"] == min(report["history_value"])
    assert (tmp_path / "out.png").stat().st_size > 10_000
    results = report["cv_results"]  # per-fold results, one entry per evaluation
    assert results["mean_test_criterion"] == report["history_value"]
    folds = np.array([results[f"split{k}_test_criterion"] for k in range(3)])
    np.testing.assert_allclose(folds.mean(axis=0), results["mean_test_criterion"],
                               rtol=1e-13)


def test_npz_elastic_net(tmp_path, data):
    X, y = data
    np.savez(tmp_path / "d.npz", X=X, y=y)
    assert _run(tmp_path, tmp_path / "d.npz", "--model", "enet") == 0
    assert len(json.loads((tmp_path / "out.json").read_text())["alpha"]) == 2


def test_libsvm_logistic(tmp_path, data):
    X, y = data
    dump_svmlight_file(X, (y > np.median(y)).astype(int), str(tmp_path / "d.svm"))
    assert _run(tmp_path, tmp_path / "d.svm", "--model", "logreg", "--criterion",
                "holdout") == 0
    report = json.loads((tmp_path / "out.json").read_text())
    assert 0.0 <= report["test_accuracy"] <= 1.0 and report["test_log_loss"] > 0


def test_weighted_lasso_with_sure(tmp_path, data):
    X, y = data
    np.savez(tmp_path / "d.npz", X=X, y=y)
    assert _run(tmp_path, tmp_path / "d.npz", "--model", "wlasso", "--criterion", "sure",
                "--no-plot") == 0
    assert len(json.loads((tmp_path / "out.json").read_text())["alpha"]) == 15


@pytest.mark.parametrize("content,message", [
    ("a,b,target\n1,2,3\n4,x,6\n", "column 'b' is not numeric (value 'x')"),
    ("a,b,target\n1,2,3\n4,5\n", ":3: 2 fields, the header has 3"),
    ("a,b,target\n", "a header row and at least one data row are needed"),
])
def test_malformed_csv_gives_one_line(tmp_path, capsys, content, message):
    (tmp_path / "bad.csv").write_text(content)
    assert _run(tmp_path, tmp_path / "bad.csv") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hyperlasso: error:") and message in err
    assert "\n" not in err and "Traceback" not in err


def test_missing_target_column(tmp_path, data, capsys):
    X, y = data
    _write_csv(tmp_path / "d.csv", X, y)
    assert _run(tmp_path, tmp_path / "d.csv", "--target", "nope") == 2
    assert "no column named 'nope'" in capsys.readouterr().err


def test_bad_npz_and_libsvm_and_missing_file(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", A=np.ones(3))
    assert _run(tmp_path, tmp_path / "d.npz") == 2
    assert "missing array(s) X, y" in capsys.readouterr().err
    (tmp_path / "d.svm").write_text("this is not libsvm\n")
    assert _run(tmp_path, tmp_path / "d.svm") == 2
    assert "not a valid LIBSVM file" in capsys.readouterr().err
    assert _run(tmp_path, tmp_path / "missing.csv") == 2
    assert "no such file" in capsys.readouterr().err


def test_existing_outputs_are_not_overwritten_without_force(tmp_path, data, capsys):
    X, y = data
    np.savez(tmp_path / "d.npz", X=X, y=y)
    (tmp_path / "out.json").write_text("keep me")
    assert _run(tmp_path, tmp_path / "d.npz") == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert (tmp_path / "out.json").read_text() == "keep me"
    assert _run(tmp_path, tmp_path / "d.npz", "--force") == 0
    assert (tmp_path / "out.json").read_text() != "keep me"


def test_console_script_help_and_bad_option():
    help_text = subprocess.run([sys.executable, "-m", "hyperlasso.cli", "tune", "--help"],
                               capture_output=True, text=True, check=True).stdout
    for option in ("--model", "--criterion", "--target", "--force", "--optimizer",
                   "--sigma", "--epsilon", "--json", "--png"):
        assert option in help_text
    bad = subprocess.run([sys.executable, "-m", "hyperlasso.cli", "tune", "--model", "svc"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_csv_with_bom_and_blank_lines_and_npy_misnamed(tmp_path, data, capsys):
    X, y = data
    _write_csv(tmp_path / "d.csv", X, y, target_name="t")
    text = (tmp_path / "d.csv").read_text()
    (tmp_path / "d.csv").write_text("\ufeff" + text + "\n\n", encoding="utf-8")
    assert _run(tmp_path, tmp_path / "d.csv", "--target", "t", "--no-plot") == 0
    np.save(tmp_path / "a.npy", X)
    (tmp_path / "a.npy").rename(tmp_path / "a.npz")
    assert _run(tmp_path, tmp_path / "a.npz", "--force") == 2
    assert "not an NPZ archive" in capsys.readouterr().err


def test_output_folder_must_exist(tmp_path, data, capsys):
    X, y = data
    np.savez(tmp_path / "d.npz", X=X, y=y)
    code = main(["tune", str(tmp_path / "d.npz"), *FAST, "--json",
                 str(tmp_path / "nowhere" / "r.json"), "--no-plot"])
    assert code == 2 and "no such folder" in capsys.readouterr().err


def test_graphical_lasso_from_a_csv(tmp_path, capsys):
    rng = np.random.default_rng(0)
    samples = rng.multivariate_normal(np.zeros(6), np.eye(6) + 0.4, size=80)
    lines = [",".join(f"v{j}" for j in range(6))]
    lines += [",".join(f"{v:.8g}" for v in row) for row in samples]
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n")
    assert _run(tmp_path, tmp_path / "s.csv", "--model", "glasso") == 0
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["model"] == "GraphicalLassoCV" and report["test_nll"] > 0
    assert len(report["cv_results"]["split2_test_criterion"]) == len(
        report["history_value"])
    assert "80 samples x 6 variables" in capsys.readouterr().out


def test_without_matplotlib_the_results_are_written_and_the_plot_skipped(
        tmp_path, data, capsys, monkeypatch):
    """A plain install (no ``hyperlasso[plot]``): the JSON is written, one line says
    why there is no plot; a plot asked for by name (--png) is refused up front."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import raises ImportError
    X, y = data
    _write_csv(tmp_path / "d.csv", X, y)
    json_path = tmp_path / "plain.json"
    assert main(["tune", str(tmp_path / "d.csv"), *FAST, "--json", str(json_path)]) == 0
    out = capsys.readouterr().out
    assert 'no plot: it needs matplotlib (pip install "hyperlasso[plot]")' in out
    assert json.loads(json_path.read_text())["model"] == "LassoCV"
    assert not json_path.with_suffix(".png").exists()
    assert _run(tmp_path, tmp_path / "d.csv") == 2
    assert "the plot needs matplotlib" in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()


def test_svm_on_string_labels_from_a_csv(tmp_path, data):
    """The SVM tunes C on a CSV whose target holds class names; the report gives C,
    the test accuracy and the hinge loss, and the plot's path runs over C."""
    X, y = data
    lines = [",".join([*(f"f{j}" for j in range(X.shape[1])), "kind"])]
    lines += [",".join([*(f"{v:.10g}" for v in row), "high" if t > np.median(y) else
                        "low"]) for row, t in zip(X, y, strict=True)]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    assert _run(tmp_path, tmp_path / "d.csv", "--model", "svm") == 0
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["model"] == "LinearSVCCV" and report["C"] == report["alpha"] > 0
    assert 0.5 < report["test_accuracy"] <= 1.0 and report["test_hinge_loss"] >= 0
    assert (tmp_path / "out.png").stat().st_size > 10_000


def test_svr_with_epsilon_tuned(tmp_path, data):
    X, y = data
    np.savez(tmp_path / "d.npz", X=X, y=y)
    assert _run(tmp_path, tmp_path / "d.npz", "--model", "svr", "--epsilon", "tune",
                "--criterion", "holdout") == 0
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["model"] == "LinearSVRCV" and report["alpha"] == [report["C"],
                                                                   report["epsilon"]]
    assert report["epsilon"] > 0 and report["test_mse"] > 0


def test_svr_with_a_fixed_epsilon(tmp_path, data):
    X, y = data
    np.savez(tmp_path / "d.npz", X=X, y=y)
    assert _run(tmp_path, tmp_path / "d.npz", "--model", "svr", "--epsilon", "0.5",
                "--no-plot") == 0
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["epsilon"] == 0.5 and report["C"] == report["alpha"]


@pytest.mark.parametrize("options,message", [
    (["--model", "svm", "--criterion", "sure"], "--criterion sure does not apply to svm"),
    (["--model", "lasso", "--epsilon", "0.1"], "--epsilon applies to svr only"),
    (["--model", "lasso"], "lasso needs a numeric target"),
])
def test_svm_options_that_do_not_apply_are_refused(tmp_path, data, capsys, options,
                                                   message):
    X, y = data
    np.savez(tmp_path / "d.npz", X=X, y=np.where(y > 0, "up", "down"))
    assert _run(tmp_path, tmp_path / "d.npz", *options) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()


def test_negative_epsilon_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["tune", "--model", "svr", "--epsilon", "-1"])
    assert stop.value.code == 2
    assert "expected a number >= 0 or 'tune', got '-1'" in capsys.readouterr().err


def test_logistic_on_several_classes(tmp_path):
    """--model logreg on a three-class target: one-vs-rest, the multiclass
    log-loss on the test rows."""
    X, y = make_classification(150, 6, n_informative=4, n_classes=3,
                               n_clusters_per_class=1, random_state=0)
    np.savez(tmp_path / "d.npz", X=X, y=np.array(["r", "g", "b"])[y])
    assert _run(tmp_path, tmp_path / "d.npz", "--model", "logreg") == 0
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["n_features"] == 18 and report["test_log_loss"] > 0
    assert (tmp_path / "out.png").stat().st_size > 10_000
    assert report["test_accuracy"] > 0.5
    assert report["multi_class"] == "ovr" and report["penalty"] == "l1"


def test_logistic_multinomial_group_penalty_and_refused_flags(tmp_path, capsys):
    """--multi-class/--penalty reach the estimator (the group penalty keeps every
    class's coefficient of a feature together) and are refused for other models."""
    X, y = make_classification(150, 6, n_informative=4, n_classes=3,
                               n_clusters_per_class=1, random_state=0)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    assert _run(tmp_path, tmp_path / "d.npz", "--model", "logreg", "--penalty", "group",
                "--no-plot") == 0
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["multi_class"] == "multinomial" and report["penalty"] == "group"
    assert report["n_nonzero"] > 0 and report["n_nonzero"] % 3 == 0
    assert report["test_log_loss"] > 0
    assert _run(tmp_path, tmp_path / "d.npz", "--model", "lasso", "--multi-class", "ovr",
                "--force") == 2
    assert "--multi-class and --penalty apply to logreg only" in capsys.readouterr().err
