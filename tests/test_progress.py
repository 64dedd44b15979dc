"""What the estimators show while they run: silent, a tqdm bar, or lines."""

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

import hyperlasso as hl
from hyperlasso.estimators import progress


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


def test_silent_by_default(diabetes, capsys):
    hl.LassoCV(max_iter=3).fit(*diabetes)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_bar_shows_criterion_support_and_folds(diabetes, capsys):
    pytest.importorskip("tqdm")
    quiet = hl.LassoCV(max_iter=4).fit(*diabetes)
    shown = hl.LassoCV(max_iter=4, verbose=1).fit(*diabetes)
    err = capsys.readouterr().err
    assert "LassoCV lasso" in err and "eval" in err
    assert "criterion=" in err and "support=" in err and "best=" in err
    assert "folds=1/5" in err  # the first fold of a run always redraws the bar
    assert f"{len(shown.history_['value'])}eval" in err  # the count of evaluations
    assert shown.alpha_ == quiet.alpha_  # showing progress changes nothing
    np.testing.assert_array_equal(shown.coef_, quiet.coef_)


def test_bar_knows_the_number_of_trials_of_a_search(diabetes, capsys):
    pytest.importorskip("tqdm")
    hl.LassoCV(optimizer="random", max_iter=4, verbose=1).fit(*diabetes)
    assert "4/4" in capsys.readouterr().err


def test_without_tqdm_one_line_per_evaluation(diabetes, capsys, monkeypatch):
    monkeypatch.setattr(progress, "_tqdm", lambda: None)
    est = hl.LassoCV(max_iter=3, verbose=1).fit(*diabetes)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == len(est.history_["value"])
    assert lines[0].startswith("[LassoCV lasso] evaluation 1: criterion ")
    assert "mean |support|" in lines[0]


def test_verbose_two_prints_lines_even_with_tqdm(diabetes, capsys):
    est = hl.LassoCV(max_iter=3, verbose=2).fit(*diabetes)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == len(est.history_["value"])


def test_graphical_lasso_shows_both_stages(capsys):
    pytest.importorskip("tqdm")
    X = np.random.default_rng(0).standard_normal((80, 6))
    hl.GraphicalLassoCV(penalty="matrix", max_iter=3, verbose=1).fit(X)
    err = capsys.readouterr().err
    assert "GraphicalLassoCV scalar" in err and "GraphicalLassoCV matrix" in err
    assert "folds=1/5" in err
