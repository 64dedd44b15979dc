"""Implicit forward, forward and backward differentiation of block coordinate descent.

One update of group g (step 1 / L_g) is

    W_g <- P(U),  U = W_g - step X_g^T R / n,

P the penalty's block prox, whose derivatives in U, lam_g and l2 the penalty
gives (``penalties.GroupProxStep``). Implicit forward iterates the differentiated
update with the active groups frozen at the solution (Bertrand et al. 2020);
forward and backward differentiate plain cyclic block CD over every group from the
warm start. They are reference methods in numpy (one Python step per group
update), for checking the fast path (polish, implicit) on problems of up to a few
thousand groups.
"""

from __future__ import annotations

import numpy as np

from hyperlasso.hypergradients.block_methods import block_solution, criterion_at
from hyperlasso.hypergradients.methods import (
    CHECK_EVERY,
    JACOBIAN_RTOL,
    MAX_EPOCHS,
    Context,
    MethodOutput,
    _warn_capped,
    needs,
)
from hyperlasso.inner.block import BlockSolution

#: Largest number of stored floats (Jacobian or recorded iterates): 2 GB.
MAX_ENTRIES = 250_000_000


def _block_data(problem):
    X = problem.design.matrix
    return X, problem.lipschitz, problem.groups


def _columns(X, members):
    return X[:, members]


@needs("directions", "user_point")
def block_implicit_forward(ctx: Context) -> MethodOutput:
    """Gauss-Seidel sweeps of the differentiated block update on the active groups."""
    solution = block_solution(ctx)
    problem = ctx.problem
    X, lipschitz, groups = _block_data(problem)
    active = solution.active_groups
    dlam, dl2 = ctx.model.directions(ctx.alpha, groups)
    moving = np.flatnonzero(np.any(dlam[active] != 0, axis=0) | (dl2 != 0))
    value, grad_coef, grad_b = criterion_at(ctx, solution.coef, solution.intercept,
                                            groups.features_of(active))
    if moving.size == 0:
        return MethodOutput(solution, value, np.zeros(np.shape(ctx.alpha)))
    W = solution.coef
    T, k, n = W.shape[1], moving.size, problem.n_samples
    R = problem.residual(W, problem.internal_intercept(W, solution.intercept))
    steps = []
    for g in active:
        members = groups.members(g)
        X_g = _columns(X, members)
        U = W[members] - np.asarray(X_g.T @ R) / (n * lipschitz[g])
        steps.append((members, X_g, problem.penalty.prox_step(U, 1.0 / lipschitz[g], g)))
    J = np.zeros(W.shape + (k,))
    Jb, ZJ = np.zeros((T, k)), np.zeros((n, T, k))
    for _ in range(MAX_EPOCHS):
        change = 0.0
        for (members, X_g, gs), g in zip(steps, active, strict=True):
            HJ = np.asarray(X_g.T @ ZJ.reshape(n, -1)).reshape(members.size, T, k) / n
            dU = J[members] - gs.step * HJ
            new = gs.jacobian_apply(dU) + np.multiply.outer(gs.d_lam(), dlam[g, moving]) \
                + np.multiply.outer(gs.d_l2(), dl2[moving])
            delta = new - J[members]
            ZJ += np.asarray(X_g @ delta.reshape(members.size, -1)).reshape(n, T, k)
            J[members] = new
            change = max(change, float(np.max(np.abs(delta), initial=0.0)))
        if problem.fit_intercept:
            shift = -ZJ.mean(axis=0)
            ZJ += shift
            Jb += shift
            change = max(change, float(np.max(np.abs(shift))))
        if change <= JACOBIAN_RTOL * max(np.max(np.abs(J)), np.max(np.abs(Jb)), 1e-300):
            break
    else:
        _warn_capped("block implicit forward sweeps")
    return MethodOutput(solution, value, _contract(ctx, J, Jb, grad_coef, grad_b, moving))


def _contract(ctx, J, Jb, grad_coef, grad_b, moving):
    """dC/dalpha from J = dW/dalpha (p, T, k) and Jb (T, k)."""
    offset = ctx.problem.design.offset
    if offset is not None:  # the kernels' intercept is b + offset W
        grad_coef = grad_coef - np.outer(offset, grad_b)
    gradient = np.zeros(np.size(ctx.alpha))
    gradient[moving] = np.tensordot(grad_coef, J, axes=2) + grad_b @ Jb
    return gradient.reshape(np.shape(ctx.alpha))


def _internal_start(ctx: Context):
    W, b_int = ctx.problem.initial_point(ctx.start)
    return W, b_int, ctx.problem.residual(W, b_int)


def _stopped(ctx: Context, W, b_int, R):
    opt = ctx.problem.optimality(W, b_int, R)
    return opt, (opt.gap if ctx.stop == "gap" else opt.kkt) <= ctx.tol


def _solution(ctx, W, b_int, opt, n_epochs, converged) -> BlockSolution:
    problem = ctx.problem
    return BlockSolution(W, problem.external_intercept(W, b_int),
                         np.flatnonzero(np.any(W != 0, axis=1)),
                         np.flatnonzero(problem.groups.norms(W) > 0), opt.gap, opt.kkt,
                         n_epochs // CHECK_EVERY, n_epochs, converged)


def _group_update(X_g, W, R, members, gs_args):
    """Apply one block update in place; return its prox step (``GroupProxStep``)."""
    step, penalty, g, n = gs_args
    U = W[members] - step * np.asarray(X_g.T @ R) / n
    gs = penalty.prox_step(U, step, g)
    new = np.zeros_like(U) if gs.zero else gs.new
    delta = new - W[members]
    if np.any(delta):
        R += np.asarray(X_g @ delta)
        W[members] = new
    return gs


@needs("directions", "user_point")
def block_forward(ctx: Context) -> MethodOutput:
    """Forward-mode differentiation of cyclic block CD: J = dW/dalpha carried along."""
    problem = ctx.problem
    X, lipschitz, groups = _block_data(problem)
    dlam, dl2 = ctx.model.directions(ctx.alpha, groups)
    W, b_int, R = _internal_start(ctx)
    n, T, k = problem.n_samples, W.shape[1], dl2.size
    if W.size * k > MAX_ENTRIES:
        raise ValueError(f"method='forward' would carry a {W.shape + (k,)} Jacobian; "
                         "use 'implicit' or 'polish' for this many hyperparameters.")
    columns = [_columns(X, groups.members(g)) for g in range(groups.n_groups)]
    J, Jb, ZJ = np.zeros(W.shape + (k,)), np.zeros((T, k)), np.zeros((n, T, k))
    n_epochs, converged = 0, False
    while n_epochs < MAX_EPOCHS and not converged:
        previous = J.copy()
        for _ in range(CHECK_EVERY):
            for g in range(groups.n_groups):
                if lipschitz[g] == 0.0:
                    continue
                members, X_g = groups.members(g), columns[g]
                HJ = np.asarray(X_g.T @ ZJ.reshape(n, -1)).reshape(members.size, T, k)
                old_J = J[members]
                step = 1.0 / lipschitz[g]
                gs = _group_update(X_g, W, R, members,
                                   (step, problem.penalty, g, n))
                if gs.zero:
                    new_J = np.zeros_like(old_J)
                else:
                    new_J = gs.jacobian_apply(old_J - step * HJ / n) \
                        + np.multiply.outer(gs.d_lam(), dlam[g]) \
                        + np.multiply.outer(gs.d_l2(), dl2)
                ZJ += np.asarray(X_g @ (new_J - old_J).reshape(members.size, -1)).reshape(
                    n, T, k)
                J[members] = new_J
            if problem.fit_intercept:
                shift_R, shift_J = -R.mean(axis=0), -ZJ.mean(axis=0)
                R += shift_R
                b_int += shift_R
                ZJ += shift_J
                Jb += shift_J
        n_epochs += CHECK_EVERY
        opt, reached = _stopped(ctx, W, b_int, R)
        change = np.max(np.abs(J - previous), initial=0.0)
        converged = reached and change <= JACOBIAN_RTOL * max(np.max(np.abs(J)), 1e-300)
    if not converged:
        _warn_capped("block forward differentiation")
    solution = _solution(ctx, W, b_int, opt, n_epochs, converged)
    value, grad_coef, grad_b = criterion_at(ctx, W, solution.intercept,
                                            np.arange(W.shape[0]))
    return MethodOutput(solution, value,
                        _contract(ctx, J, Jb, grad_coef, grad_b, np.arange(k)))


@needs("pullback", "user_point")
def block_backward(ctx: Context) -> MethodOutput:
    """Reverse-mode differentiation of cyclic block CD through recorded epochs."""
    problem = ctx.problem
    X, lipschitz, groups = _block_data(problem)
    W, b_int, R = _internal_start(ctx)
    columns = [_columns(X, groups.members(g)) for g in range(groups.n_groups)]
    iterates, intercepts = [W.copy()], [b_int.copy()]
    n_epochs, converged, n = 0, False, problem.n_samples
    while n_epochs < MAX_EPOCHS and not converged:
        for _ in range(CHECK_EVERY):
            for g in range(groups.n_groups):
                if lipschitz[g] > 0.0:
                    _group_update(columns[g], W, R, groups.members(g),
                                  (1.0 / lipschitz[g], problem.penalty, g, n))
            if problem.fit_intercept:
                shift = -R.mean(axis=0)
                R += shift
                b_int += shift
            iterates.append(W.copy())
            intercepts.append(b_int.copy())
        n_epochs += CHECK_EVERY
        if len(iterates) * W.size > MAX_ENTRIES:
            raise ValueError(f"method='backward' would store more than {MAX_ENTRIES} "
                             "coefficients of iterates; use 'implicit' or 'polish'.")
        opt, reached = _stopped(ctx, W, b_int, R)
        converged = reached and np.max(np.abs(iterates[-1] - iterates[-2]),
                                       initial=0.0) <= JACOBIAN_RTOL * max(
                                           np.max(np.abs(W)), 1e-300)
    if not converged:
        _warn_capped("block backward differentiation")
    solution = _solution(ctx, W, b_int, opt, n_epochs, converged)
    value, grad_coef, grad_b = criterion_at(ctx, W, solution.intercept,
                                            np.arange(W.shape[0]))
    offset = problem.design.offset
    c = grad_coef - (0.0 if offset is None else np.outer(offset, grad_b))
    g_lam, g_l2 = _reverse(problem, columns, (iterates, intercepts), R, (c, grad_b))
    return MethodOutput(solution, value,
                        ctx.model.pullback(g_lam, g_l2, ctx.alpha, groups))


def _reverse(problem, columns, recorded, R, adjoint):
    """Run the epochs back; return the gradients in lam (n_groups,) and in l2."""
    iterates, intercepts = recorded
    c, c_b = adjoint[0].copy(), adjoint[1]
    groups, lipschitz, n = problem.groups, problem.lipschitz, problem.n_samples
    u = np.zeros_like(R)
    g_lam, g_l2 = np.zeros(groups.n_groups), 0.0
    for e in range(len(iterates) - 1, 0, -1):
        if problem.fit_intercept:
            R = R - (intercepts[e] - intercepts[e - 1])
            u -= (c_b + u.sum(axis=0)) / n
        for g in range(groups.n_groups - 1, -1, -1):
            if lipschitz[g] == 0.0:
                continue
            members, X_g, step = groups.members(g), columns[g], 1.0 / lipschitz[g]
            delta = iterates[e][members] - iterates[e - 1][members]
            if np.any(delta):
                R = R - np.asarray(X_g @ delta)
            U = iterates[e - 1][members] - step * np.asarray(X_g.T @ R) / n
            gs = problem.penalty.prox_step(U, step, g)
            a_g = c[members] + np.asarray(X_g.T @ u)
            if gs.zero:
                c[members] -= a_g
                continue
            v = gs.jacobian_apply(a_g)
            g_lam[g] += float(np.sum(gs.d_lam() * a_g))
            g_l2 += float(np.sum(gs.d_l2() * a_g))
            c[members] += v - a_g
            u -= step * np.asarray(X_g @ v) / n
    return g_lam, g_l2
