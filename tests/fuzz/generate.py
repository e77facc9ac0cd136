"""The claim generator: seeded, per-index claims in categories, many with their truth known by construction.

>>> case = generate(7, 3)
>>> case.category in CATEGORIES, case.route in ('api', 'text', 'cli', 'worst')
(True, True)
"""

from __future__ import annotations

import dataclasses
import random
from fractions import Fraction

from tests.fuzz import line, names, oracle, pieces, spec
from tests.fuzz.spec import Abs, Bool, Cases, Cmp, Ind, Lin, Max, Min, Num, Relu, Var

F = Fraction
ZERO, ONE = F(0), F(1)
TEXT_LIMIT = 9000  # the parser takes 10,000 characters; longer claims go through the API


@dataclasses.dataclass
class Ctx:
    """What one generator call draws from: the RNG and the claim's index and category."""

    rng: random.Random
    index: int
    category: str

    def route(self, text_ok: bool = True) -> str:
        r = self.rng.random()
        return "api" if (r < 0.6 or not text_ok) else "text" if r < 0.9 else "cli"

    def inputs(self, route: str, style: str | None = None, count: int | None = None) -> tuple[str, tuple[str, ...]]:
        style = style or self.rng.choices(["plain", "internal", "odd"], [35, 40, 25])[0]
        count = count or self.rng.choices([1, 2, 3, 4], [35, 30, 20, 15])[0]
        return style, names.draw(self.rng, count, route, style)

    def case(self, route, style, inputs, network, target, domain, kind, expect=None, worst=None, note=""):
        """The Case; a text route gets the network as an AST, and falls back to the API if too long."""
        if route in ("text", "cli") and isinstance(network, spec.Net):
            network = spec.net_to_node(network, self._continuous_rewrite if self.rng.random() < 0.4 else None)
        if route == "cli" and isinstance(kind, spec.Pred) and kind.op != ">":
            route = "text"
        c = spec.Case(self.index, self.category, route, style, tuple(inputs), network, target, tuple(domain),
                      kind, expect, worst, note)
        if route in ("text", "cli") and len(spec.text(network)) + len(spec.text(target)) > TEXT_LIMIT:
            c = dataclasses.replace(c, route="api")
        return c

    def _continuous_rewrite(self, node):
        out = pieces.rewrite_relu(self.rng, node)
        return out if spec.is_continuous(out) else node


# -- perturbations with a known supremum ------------------------------------------------------------
def perturbation(rng: random.Random, inputs, domain, bounded_only: bool = False, continuous: bool = False):
    """``(e, sup |e| on the domain or None if unbounded)`` for an AST e of one variable, nonzero somewhere
    in the domain; ``bounded_only`` avoids unbounded e, ``continuous`` the step."""
    name = rng.choice(list(inputs))
    s = dict(domain).get(name, spec.REALS)
    delta = F(rng.choice([1, -1])) * rng.choice([F(1), F(1, 2), F(3, 7), F(1, 2 ** 40), F(1, 10 ** 9), F(10 ** 6, 3)])
    hi, lo = pieces.domain_sup(s), pieces.domain_sup(s, lower=True)
    kind = rng.choice(["const", "up", "down", "step", "capped"])
    gap = rng.choice([F(1), F(1, 3), F(1, 2 ** 30), F(5)])
    if kind == "up" and (hi is not None or not bounded_only):
        c = hi - gap if hi is not None else pieces.end_value(rng)
        e = Relu(Lin(((ONE, Var(name)),), -c))
        return Lin(((delta, e),)), None if hi is None else abs(delta) * (hi - c)
    if kind == "down" and (lo is not None or not bounded_only):
        c = lo + gap if lo is not None else pieces.end_value(rng)
        e = Relu(Lin(((-ONE, Var(name)),), c))
        return Lin(((delta, e),)), None if lo is None else abs(delta) * (c - lo)
    if kind == "step" and not continuous:
        c = hi - gap if hi is not None else pieces.end_value(rng)
        return Lin(((delta, Ind(Cmp(">", Var(name), Num(c)))),)), abs(delta)
    if kind == "capped":
        c = hi - gap if hi is not None else pieces.end_value(rng)
        cap = rng.choice([F(1), F(1, 4), F(2)])
        e = Min((Relu(Lin(((ONE, Var(name)),), -c)), Num(cap)))
        return Lin(((delta, e),)), abs(delta) * (min(cap, hi - c) if hi is not None else cap)
    return Num(delta), abs(delta)


def plus(a, b):
    return Lin(((ONE, a), (ONE, b)))


def tiny(rng: random.Random, scale: F) -> F:
    return rng.choice([F(1, 2 ** rng.randint(1, 90)), F(1, 10 ** rng.randint(1, 30)), scale / 2 ** rng.randint(1, 40), ONE])


def around(rng: random.Random, exact: F) -> tuple[F, bool]:
    """A tolerance exactly at, just below or just above the exact error, and whether it holds."""
    where = rng.choice(["at", "below", "above"] if exact > 0 else ["at", "above"])
    if where == "at":
        return exact, True
    step = tiny(rng, exact if exact > 0 else ONE)
    if where == "below":
        return (exact - step if step < exact else exact / 2), False
    return exact + step, True


# -- categories -----------------------------------------------------------------------------------
def gen_identity(ctx: Ctx) -> spec.Case:
    """Textbook identities (|x|, min, max, x = R(x) - R(-x), clamp, hat, steps on Z), maybe perturbed."""
    rng = ctx.rng
    route = ctx.route()
    which = rng.choice(["abs", "min", "max", "id", "min3", "clamp", "absdiff", "scale", "hat", "step"])
    arity = {"min": 2, "max": 2, "min3": 3, "absdiff": 2}.get(which, 1)
    style, inputs = ctx.inputs(route, count=arity + rng.choice([0, 0, 1]))
    a, b, c = (list(inputs) + [None, None])[:3]
    hn = names.neuron_names(rng, 4, inputs, style)

    def n(i, terms, bias=ZERO, relu=True):
        return spec.Neuron(hn[i], tuple((s, F(w)) for s, w in terms), F(bias), relu)

    A, B, C = Var(a), Var(b) if b else None, Var(c) if c else None
    table = {
        "abs": ([n(0, [(a, 1)]), n(1, [(a, -1)]), n(2, [(hn[0], 1), (hn[1], 1)], relu=False)], Abs(A)),
        "min": ([n(0, [(a, 1), (b, -1)]), n(1, [(a, 1), (hn[0], -1)], relu=False)], Min((A, B))),
        "max": ([n(0, [(b, 1), (a, -1)]), n(1, [(a, 1), (hn[0], 1)], relu=False)], Max((A, B))),
        "id": ([n(0, [(a, 1)]), n(1, [(a, -1)]), n(2, [(hn[0], 1), (hn[1], -1)], relu=False)], A),
        "min3": ([n(0, [(a, 1), (b, -1)]), n(1, [(a, 1), (hn[0], -1)], relu=False), n(2, [(hn[1], 1), (c, -1)]),
                  n(3, [(hn[1], 1), (hn[2], -1)], relu=False)], Min((A, B, C))),
        "clamp": ([n(0, [(a, 1)]), n(1, [(a, 1)], -1), n(2, [(hn[0], 1), (hn[1], -1)], relu=False)],
                  Min((Max((A, Num(ZERO))), Num(ONE)))),
        "absdiff": ([n(0, [(a, 1), (b, -1)]), n(1, [(a, -1), (b, 1)]), n(2, [(hn[0], 1), (hn[1], 1)], relu=False)],
                    Abs(Lin(((ONE, A), (-ONE, B))))),
        "scale": ([n(0, [(a, 2)]), n(1, [(hn[0], F(1, 2))], relu=False)], Relu(A)),
        "hat": ([n(0, [(a, 1)]), n(1, [(a, 1)], -1), n(2, [(a, 1)], -2),
                 n(3, [(hn[0], 1), (hn[1], -2), (hn[2], 1)], relu=False)],
                Cases(((Num(ZERO), Cmp("<=", A, Num(ZERO))), (A, Cmp("<=", A, Num(ONE))),
                       (Lin(((-ONE, A),), F(2)), Cmp("<=", A, Num(F(2)))), (Num(ZERO), Bool(True))))),
        "step": ([n(0, [(a, 1)]), n(1, [(a, 1)], -1), n(2, [(hn[0], 1), (hn[1], -1)], relu=False)],
                 Ind(Cmp(">=", A, Num(ONE)))),
    }
    neurons, target = table[which]
    net = spec.Net(tuple(inputs), tuple(neurons), (neurons[-1].name,), neurons[-1].name)
    domain = pieces.draw_domain(rng, inputs)
    if which == "step" and rng.random() < 0.7:
        domain = ((a, rng.choice([spec.Ints(), spec.Ints(-3, 40), spec.Ints(None, 2)])),) + tuple(d for d in domain if d[0] != a)
    expect = None if which == "step" else True
    if rng.random() < 0.4:
        e, _ = perturbation(rng, inputs, domain)
        return ctx.case(route, style, inputs, net, plus(target, e), domain, spec.Eq(), None if expect is None else False,
                        note=f"{which} + perturbation")
    return ctx.case(route, style, inputs, net, target, domain, spec.Eq(), expect, note=which)


def gen_closed_form(ctx: Ctx) -> spec.Case:
    """A random net against its own closed form, each ReLU restated (true by construction)."""
    route = ctx.route()
    style, inputs = ctx.inputs(route)
    net = pieces.random_net(ctx.rng, inputs, style)
    target = pieces.closed_form(ctx.rng, net)
    return ctx.case(route, style, inputs, net, target, pieces.draw_domain(ctx.rng, inputs), spec.Eq(), True)


def gen_perturbed(ctx: Ctx) -> spec.Case:
    """The closed form plus a perturbation that is nonzero somewhere (false), or a tweaked weight."""
    rng = ctx.rng
    route = ctx.route()
    style, inputs = ctx.inputs(route)
    net = pieces.random_net(rng, inputs, style)
    domain = pieces.draw_domain(rng, inputs)
    if rng.random() < 0.3:
        k = rng.randrange(len(net.neurons))
        old = net.neurons[k]
        bias = old.bias + rng.choice([F(1, 2 ** 40), F(-1, 3), F(1)])
        other = dataclasses.replace(net, neurons=net.neurons[:k] + (dataclasses.replace(old, bias=bias),) + net.neurons[k + 1:])
        return ctx.case(route, style, inputs, net, pieces.closed_form(rng, other), domain, spec.Eq(), note="bias tweak")
    e, _ = perturbation(rng, inputs, domain)
    return ctx.case(route, style, inputs, net, plus(pieces.closed_form(rng, net), e), domain, spec.Eq(), False)


def gen_random_eq(ctx: Ctx) -> spec.Case:
    """A random net against a random piecewise-linear target (mostly false)."""
    rng = ctx.rng
    route = ctx.route()
    style, inputs = ctx.inputs(route)
    net = pieces.random_net(rng, inputs, style)
    target = pieces.random_node(rng, inputs, 2, jumps=rng.random() < 0.3)
    if rng.random() < 0.3:
        target = pieces.closed_form(rng, pieces.random_net(rng, inputs, "plain", "small"))
    return ctx.case(route, style, inputs, net, target, pieces.draw_domain(rng, inputs), spec.Eq())


def gen_tolerance_exact(ctx: Ctx) -> spec.Case:
    """|N - (N + e)| <= eps with sup |e| known exactly: eps at, just below and just above it."""
    rng = ctx.rng
    route = ctx.route()
    style, inputs = ctx.inputs(route)
    net = pieces.random_net(rng, inputs, style)
    domain = pieces.draw_domain(rng, inputs)
    e, sup = perturbation(rng, inputs, domain, bounded_only=True)
    if sup is None:
        e, sup = Num(F(1, 3)), F(1, 3)
    eps, holds = around(rng, sup)
    target = plus(pieces.closed_form(rng, net), e)
    return ctx.case(route, style, inputs, net, target, domain, spec.Tol(eps), holds, note=f"sup {sup}")


def gen_tolerance_1d(ctx: Ctx) -> spec.Case:
    """One input, any target: the oracle's exact 1-D analysis gives the sup, eps placed around it."""
    rng = ctx.rng
    route = ctx.route()
    style, inputs = ctx.inputs(route, count=1)
    net = pieces.random_net(rng, inputs, style)
    target = pieces.random_node(rng, inputs, 2, jumps=rng.random() < 0.3)
    if rng.random() < 0.5:
        target = plus(pieces.closed_form(rng, net), Lin(((F(1, 4), target),)))
    domain = pieces.draw_domain(rng, inputs)
    probe = ctx.case(route, style, inputs, net, target, domain, spec.Tol(ZERO))
    sup = oracle_sup(probe)
    if sup is None:
        return dataclasses.replace(probe, kind=spec.Tol(pieces.small(rng) ** 2), note="sup unbounded or undefined")
    eps, holds = around(rng, sup)
    return dataclasses.replace(probe, kind=spec.Tol(eps), expect=holds, note=f"sup {sup}")


def oracle_sup(case: spec.Case) -> F | None:
    """sup |N - f| for a one-input or finite claim (None: unbounded, undefined somewhere, or not 1-D)."""
    if oracle.size(case) <= oracle.ENUMERATE:
        best = ZERO
        for value in oracle.points_of(case.set_of(case.inputs[0])) if len(case.inputs) == 1 else []:
            check = oracle.check_point(case, {case.inputs[0]: value})
            if check.status == "undefined":
                return None
            best = max(best, abs(check.network - check.target))
        return best if len(case.inputs) == 1 else None
    if len(case.inputs) != 1:
        return None
    out = line.decide(dataclasses.replace(case, kind=spec.Tol(ZERO)), line.line_of_one(case), want_sup=True)
    return None if out.status == "undefined" else out.sup


def gen_tolerance_random(ctx: Ctx) -> spec.Case:
    rng = ctx.rng
    route = ctx.route()
    style, inputs = ctx.inputs(route)
    net = pieces.random_net(rng, inputs, style)
    target = plus(pieces.closed_form(rng, net), Lin(((pieces.small(rng), pieces.random_node(rng, inputs, 1)),)))
    eps = abs(pieces.small(rng)) + rng.choice([ZERO, F(1, 2 ** 30)])
    return ctx.case(route, style, inputs, net, target, pieces.draw_domain(rng, inputs), spec.Tol(eps))


_FLIP = {">": "<", ">=": "<=", "<": ">", "<=": ">="}
_NOT = {">": "<=", ">=": "<", "<": ">=", "<=": ">"}


def gen_predicate_true(ctx: Ctx) -> spec.Case:
    """(N op t) <=> (closed form op t), restated (true by construction)."""
    rng = ctx.rng
    route = ctx.route()
    style, inputs = ctx.inputs(route)
    net = pieces.random_net(rng, inputs, style)
    domain = pieces.draw_domain(rng, inputs)
    op = ">" if route == "cli" else rng.choice(list(_FLIP))
    point = oracle.random_point(_shell(inputs, domain), rng)
    thr = oracle.net_values(net, point)[0] if rng.random() < 0.4 else pieces.small(rng)
    form = pieces.closed_form(rng, net, continuous=rng.random() < 0.9)  # sympy turns a Piecewise in a relation into ITE
    cond = rng.choice([Cmp(op, form, Num(thr)), Cmp(_FLIP[op], Num(thr), form), spec.Neg(Cmp(_NOT[op], form, Num(thr)))])
    return ctx.case(route, style, inputs, net, cond, domain, spec.Pred(op, thr), True, note="threshold attained" if thr else "")


def _shell(inputs, domain) -> spec.Case:
    return spec.Case(0, "", "api", "", tuple(inputs), spec.Num(ZERO), spec.Num(ZERO), tuple(domain), spec.Eq())


def gen_predicate_random(ctx: Ctx) -> spec.Case:
    """A random condition, N op t everywhere (condition True), or a shifted threshold."""
    rng = ctx.rng
    route = ctx.route()
    style, inputs = ctx.inputs(route)
    net = pieces.random_net(rng, inputs, style)
    op = ">" if route == "cli" else rng.choice(list(_FLIP))
    thr = pieces.small(rng) if rng.random() < 0.6 else ZERO
    r = rng.random()
    if r < 0.2:
        cond = Bool(True)
    elif r < 0.5:
        cond = Cmp(op, pieces.closed_form(rng, net, continuous=rng.random() < 0.9), Num(thr + rng.choice([F(1, 2 ** 30), F(-1, 7), ONE])))
    else:
        cond = pieces.random_cond(rng, inputs)
    return ctx.case(route, style, inputs, net, cond, pieces.draw_domain(rng, inputs), spec.Pred(op, thr))


def gen_undefined(ctx: Ctx) -> spec.Case:
    """Piecewise targets with a gap (x > c, x < c): in the domain (never a theorem) or outside it."""
    rng = ctx.rng
    route = ctx.route()
    style, inputs = ctx.inputs(route)
    net = pieces.random_net(rng, inputs, style)
    domain = pieces.draw_domain(rng, inputs)
    name = rng.choice(inputs)
    c, inside = _gap(rng, dict(domain).get(name, spec.REALS), rng.random() < 0.7)
    form = pieces.closed_form(rng, net)
    other = form if rng.random() < 0.7 else pieces.random_node(rng, inputs, 1)
    x = Var(name)
    if len(inputs) > 1 and rng.random() < 0.3:
        y = Var(rng.choice([n for n in inputs if n != name]))
        target = Cases(((form, Cmp(">", x, y)), (other, Cmp("<", x, y))))
        note = "gap x = y"
    else:
        target = Cases(((form, Cmp(">", x, Num(c))), (other, Cmp("<", x, Num(c)))))
        note = f"gap at {name} = {c} ({'in' if inside else 'outside'} the domain)"
    kind = spec.Eq() if rng.random() < 0.7 else spec.Tol(F(1, 2))
    return ctx.case(route, style, inputs, net, target, domain, kind, note=note)


def _gap(rng: random.Random, s, inside: bool) -> tuple[F, bool]:
    """A point c for the gap ``x > c, x < c``: a value of the set, or one outside it."""
    if isinstance(s, spec.Finite):
        return (rng.choice(s.values), True) if inside else (s.values[-1] + 1, False)
    if isinstance(s, spec.Ints):
        if inside:
            return F(s.lo if s.lo is not None else s.hi if s.hi is not None else rng.randint(-3, 3)), True
        return (F(s.lo) - F(1, 2) if s.lo is not None else F(s.hi) + F(1, 2) if s.hi is not None
                else F(rng.randint(-3, 3)) + F(1, 2)), False
    if not inside and (s.lo is not None or s.hi is not None):
        return (s.hi + 1 if s.hi is not None else s.lo - 1), False
    closed = [e for e, o in ((s.lo, s.lo_open), (s.hi, s.hi_open)) if e is not None and not o]
    if closed and rng.random() < 0.5:
        return rng.choice(closed), True
    if s.lo is not None and s.hi is not None:
        return (s.lo + s.hi) / 2, True
    return (s.lo + 1 if s.lo is not None else s.hi - 1 if s.hi is not None else pieces.end_value(rng)), True


def gen_collision(ctx: Ctx) -> spec.Case:
    """Inputs named like the tool's internal names, on domains decided by a solver (not enumeration)."""
    rng = ctx.rng
    route = ctx.route()
    style, inputs = ctx.inputs(route, style="internal", count=rng.choice([1, 2, 3, 3, 4]))
    net = pieces.random_net(rng, inputs, "internal")
    domain = tuple((n, s) for n, s in pieces.draw_domain(rng, inputs) if not oracle.is_finite(s))
    target = pieces.closed_form(rng, net)
    if rng.random() < 0.5:
        e, _ = perturbation(rng, inputs, domain)
        return ctx.case(route, style, inputs, net, plus(target, e), domain, spec.Eq(), False, note="perturbed")
    return ctx.case(route, style, inputs, net, target, domain, spec.Eq(), True)


def gen_worst(ctx: Ctx) -> spec.Case:
    """The exact worst-case error sup |N - f| on a bounded domain (what ``check`` reports), known by construction."""
    rng = ctx.rng
    style, inputs = ctx.inputs("api", count=rng.choices([1, 2, 3, 4], [15, 20, 40, 25])[0])
    if rng.random() < 0.25 and "__objective" not in inputs:  # the optimiser's own variable name
        k = rng.randrange(len(inputs))
        inputs = inputs[:k] + ("__objective",) + inputs[k + 1:]
    net = pieces.random_net(rng, inputs, style)
    domain = pieces.draw_domain(rng, inputs, bounded=True)
    domain = domain + tuple((n, spec.Real(F(-1), ONE, False, False)) for n in inputs if n not in dict(domain))
    others = [n for n in inputs if n != "__objective"] or list(inputs)
    e, sup = perturbation(rng, others, domain, bounded_only=True, continuous=True)
    target = plus(pieces.closed_form(rng, net, continuous=True), e)
    return ctx.case("worst", style, inputs, net, target, domain, spec.Tol(sup), True, worst=sup)


CATEGORIES = {
    "identity": (8, gen_identity),
    "closed-form": (11, gen_closed_form),
    "perturbed": (9, gen_perturbed),
    "random-eq": (8, gen_random_eq),
    "tolerance-exact": (13, gen_tolerance_exact),
    "tolerance-1d": (6, gen_tolerance_1d),
    "tolerance-random": (4, gen_tolerance_random),
    "predicate-true": (7, gen_predicate_true),
    "predicate-random": (7, gen_predicate_random),
    "undefined": (8, gen_undefined),
    "collision": (12, gen_collision),
    "worst-case": (7, gen_worst),
}


def generate(seed: int, index: int) -> spec.Case:
    """Claim ``index`` of campaign ``seed`` (the same on every machine and run)."""
    rng = random.Random(f"mathcircuits-fuzz:{seed}:{index}")
    names_, weights = zip(*((k, w) for k, (w, _) in CATEGORIES.items()))
    category = rng.choices(names_, weights)[0]
    return CATEGORIES[category][1](Ctx(rng, index, category))
