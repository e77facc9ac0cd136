"""SMT-LIB 2 text of the z3 query behind a claim (unsat = the claim holds), and the ``"smt"`` certificate.

The query is the one :func:`verify.decide` gives z3: the encoder's constraints (domain membership,
one definition per neuron that may change sign) and the claim's negation; for an
:class:`~verify.realizability.Unrealizable` claim, the witness-point equations of
:func:`verify.realizability.witness_assertions`. It is printed by z3's own SMT-LIB printer
(``Z3_benchmark_to_smtlib_string``: standard SMT-LIB 2.6 that cvc5 and z3 parse; shared subterms
become ``let`` bindings named ``?x12`` / ``$x12``), after a header of ``;`` comments that says what
the query means, and with the narrowest ``(set-logic ...)`` that fits (QF_LRA, QF_LIA, QF_LIRA,
QF_NRA, QF_NIA or QF_NIRA). Numbers are exact: ``(/ 3.0 4.0)``, never a rounded decimal.

Names: a user's variable keeps its name (an identifier, :data:`verify.circuit_to_z3.USER_NAME`);
the encoder's own names contain ``!`` (``n!h1``: neuron ``h1``). A user's name that is an SMT-LIB
reserved word or a symbol of the Core, Ints, Reals or Reals_Ints theories (``abs``, ``div``,
``let``, ``true``, ...) cannot be declared, so it is written with ``!`` appended (``abs!``, more
``!`` if that is taken), which no user name has and no encoder name ends with; the header lists
every such renaming.

>>> import sympy as sp
>>> from symbolic.circuit import from_layers
>>> from symbolic.relu import sym
>>> from verify.claim import Claim
>>> from verify.domain import Domain, RealInterval
>>> net = from_layers([([[1], [-1]], None), ([[1, -1]], None)])        # relu(x) - relu(-x)
>>> text = claim_to_smtlib(Claim(net, sym('x'), Domain({'x': RealInterval(-1, 1)})))
>>> print(text[text.index('(set-logic'):])
(set-logic QF_LRA)
(declare-fun x () Real)
(declare-fun n!h1_1 () Real)
(declare-fun n!h1_2 () Real)
(assert
 (<= (- 1.0) x))
(assert
 (>= 1.0 x))
(assert
 (= n!h1_1 (ite (> x 0.0) x 0.0)))
(assert
 (= n!h1_2 (ite (> (* (- 1.0) x) 0.0) (* (- 1.0) x) 0.0)))
(assert
 (and (distinct (+ n!h1_1 (* (- 1.0) n!h1_2)) x) true))
(check-sat)
<BLANKLINE>
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping, Sequence

import z3

from symbolic import errors
from symbolic.budget import Deadline
from verify.claim import Unreachable

#: SMT-LIB 2.6 reserved words and command names, and the function symbols of the Core, Ints, Reals
#: and Reals_Ints theories: a declared constant may not be named so (cvc5 refuses "shadowing").
RESERVED = frozenset("""
    ! _ as BINARY DECIMAL exists HEXADECIMAL forall let match NUMERAL par STRING
    assert check-sat check-sat-assuming declare-const declare-datatype declare-datatypes declare-fun
    declare-sort define-fun define-fun-rec define-funs-rec define-sort echo exit get-assertions
    get-assignment get-info get-model get-option get-proof get-unsat-assumptions get-unsat-core
    get-value pop push reset reset-assertions set-info set-logic set-option
    true false not => and or xor = distinct ite
    - + * / div mod abs <= < >= > to_real to_int is_int Bool Int Real
""".split())

#: The z3 operators the export writes; anything else is refused rather than printed in z3's dialect.
_OPERATORS = frozenset({
    z3.Z3_OP_TRUE, z3.Z3_OP_FALSE, z3.Z3_OP_EQ, z3.Z3_OP_DISTINCT, z3.Z3_OP_ITE, z3.Z3_OP_AND,
    z3.Z3_OP_OR, z3.Z3_OP_XOR, z3.Z3_OP_NOT, z3.Z3_OP_IMPLIES, z3.Z3_OP_ANUM, z3.Z3_OP_LE,
    z3.Z3_OP_GE, z3.Z3_OP_LT, z3.Z3_OP_GT, z3.Z3_OP_ADD, z3.Z3_OP_SUB, z3.Z3_OP_UMINUS, z3.Z3_OP_MUL,
    z3.Z3_OP_DIV, z3.Z3_OP_IDIV, z3.Z3_OP_MOD, z3.Z3_OP_TO_REAL, z3.Z3_OP_TO_INT, z3.Z3_OP_IS_INT,
    z3.Z3_OP_UNINTERPRETED})
_DIVISIONS = frozenset({z3.Z3_OP_DIV, z3.Z3_OP_IDIV, z3.Z3_OP_MOD})
_NARY = frozenset({z3.Z3_OP_ADD, z3.Z3_OP_MUL, z3.Z3_OP_AND, z3.Z3_OP_OR})


@dataclasses.dataclass(frozen=True)
class Query:
    """A query for an SMT solver: its z3 assertions and the header lines that say what it means."""

    assertions: tuple
    meaning: tuple[str, ...]

    def to_smtlib(self) -> str:
        """The SMT-LIB 2.6 text (see the module docstring)."""
        return to_smtlib(self)


def claim_query(claim, deadline: Deadline | None = None) -> Query:
    """The negation query of ``claim`` (a :class:`~verify.claim.Claim` or an
    :class:`~verify.realizability.Unrealizable`), built as :func:`verify.decide` builds it for z3.

    Raises :class:`~symbolic.errors.UnsupportedExpressionError` (or another toolkit error) when z3
    cannot encode the claim (a sigmoid in the target, a product of inputs), and
    :class:`~symbolic.errors.TimeoutExpired` when ``deadline`` runs out while encoding.
    """
    from verify.realizability import Unrealizable, witness_assertions

    if isinstance(claim, Unrealizable):
        return Query(tuple(witness_assertions(claim)), _meaning(claim, "z3-witness-points"))
    from verify.circuit_to_z3 import Encoder
    from verify.decide import negation  # decide imports this module: import here

    enc = Encoder(claim.domain, claim.circuit.inputs, claim.parameters, deadline)
    formula = negation(claim, enc)
    return Query((*enc.constraints, formula), _meaning(claim, "z3+sigmoid-bounds" if enc.abstracted else "z3"))


def claim_to_smtlib(claim, deadline: Deadline | None = None) -> str:
    """The SMT-LIB 2 text of ``claim``'s negation query (see :func:`claim_query`)."""
    return to_smtlib(claim_query(claim, deadline))


def _meaning(claim, method: str) -> tuple[str, ...]:
    """The header lines: the statement, the domain, and what unsat and sat mean."""
    from verify.realizability import Unrealizable

    lines = [f"claim:  {claim.statement()}"]
    if isinstance(claim, Unrealizable):
        return (*lines, f"weights: {claim.domain.describe(claim.variables)}",
                f"The assertions say: weights exist with which the network equals the target at each of the "
                f"{len(claim.points)} witness points (one copy of the network per point, neurons p<k>_!<name>).",
                "unsat: no weights fit them all, so no network of this shape computes the target: the claim holds.",
                "sat: a model gives weights that fit (mathcircuits replays them exactly before it reports them).")
    lines += [f"domain: {claim.domain.describe(claim.variables)}",
              "The assertions say: the variables lie in the domain and the claim FAILS there (its negation);",
              "n!<name> is the value of neuron <name> where it may change sign.",
              "unsat: no such point exists, so the claim holds on the whole domain (a proof).",
              "sat: a model is a candidate counterexample (mathcircuits replays it exactly before it reports it)."]
    if claim.parameters:
        lines.append(f"The symbolic weights {', '.join(claim.parameters)} are variables too: unsat proves the claim "
                     "for every value of them in the domain.")
    if method == "z3+sigmoid-bounds":
        lines.append("Each sigmoid neuron is replaced by true facts (0 < s < 1, s > 1/2 iff its input > 0, "
                     "s < 1/2 iff its input < 0): unsat still proves the claim, sat proves nothing.")
    if not isinstance(claim.kind, Unreachable):
        lines.append("The target is encoded as a total function (any value where it is undefined); mathcircuits "
                     "checks that it is defined on the domain before it decides.")
    return tuple(lines)


# -- printing ---------------------------------------------------------------------------------------
def to_smtlib(query: Query) -> str:
    """Header comments, ``(set-info :smt-lib-version 2.6)``, then z3's SMT-LIB text with the logic.

    Raises :class:`~symbolic.errors.UnsupportedExpressionError` for an operator outside the
    arithmetic and Boolean core (never written in z3's own dialect).
    """
    assertions = _standard(list(query.assertions) or [z3.BoolVal(True)])
    logic = logic_of(assertions)
    body = _benchmark(assertions, logic)
    declared = {name.strip("|"): sort for name, sort in _DECLARED.findall(body)}
    renamed = _renaming(declared)
    if renamed:
        ctx = assertions[0].ctx
        sorts = {"Real": z3.RealSort(ctx), "Int": z3.IntSort(ctx), "Bool": z3.BoolSort(ctx)}
        pairs = [(z3.Const(old, sorts[sort]), z3.Const(new, sorts[sort])) for old, (new, sort) in renamed.items()]
        assertions = [z3.substitute(a, *pairs) for a in assertions]
        body = _benchmark(assertions, logic)
    header = ["mathcircuits: the SMT-LIB 2.6 query behind a claim (exact rationals).", *query.meaning]
    header += [f"The variable {old} is written {new} ({old} is an SMT-LIB symbol)." for old, (new, _) in renamed.items()]
    comments = "".join(f"; {_comment(line)}\n" for line in header)
    return f"{comments}(set-info :smt-lib-version 2.6)\n{body}"


#: A declaration as z3 prints it: ``(declare-fun NAME () SORT)``.
_DECLARED = re.compile(r"^\(declare-fun (\|[^|]*\||[^ |()]+) \(\) (Real|Int|Bool)\)$", re.MULTILINE)
#: z3's probes of the linear logics: fast, and never wrong when they say yes (they may say no to a
#: linear query, e.g. one with ``to_int``; then :func:`_scan` decides).
_LINEAR_PROBES = (("QF_LRA", "is-qflra"), ("QF_LIA", "is-qflia"), ("QF_LIRA", "is-qflira"))


def logic_of(assertions: Sequence) -> str:
    """The narrowest of QF_LRA, QF_LIA, QF_LIRA, QF_NRA, QF_NIA, QF_NIRA that holds the assertions.

    >>> x, y = z3.Reals('x y')
    >>> logic_of([x + 2 * y > 1]), logic_of([x * y > 1]), logic_of([z3.ToReal(z3.ToInt(x)) == x])
    ('QF_LRA', 'QF_NRA', 'QF_LIRA')
    """
    ctx = assertions[0].ctx
    goal = z3.Goal(ctx=ctx)
    goal.add(*assertions)
    for logic, probe in _LINEAR_PROBES:
        if z3.Probe(probe, ctx)(goal) == 1.0:
            return logic
    ints, reals, nonlinear = _scan(assertions)
    kind = "IRA" if ints and reals else "IA" if ints else "RA"
    return f"QF_{'N' if nonlinear else 'L'}{kind}"


def _standard(assertions: list) -> list:
    """The assertions with every ``+``, ``*``, ``and``, ``or`` of one argument replaced by that argument
    (z3 builds them, e.g. ``Sum(x)``; SMT-LIB requires two or more). Raises
    :class:`~symbolic.errors.UnsupportedExpressionError` for an operator outside :data:`_OPERATORS`.
    A walk over the query's DAG with z3's low-level API (0.4 s for an ACAS Xu network's 22,500 terms)."""
    ctx = assertions[0].ctx
    while True:
        unary = _unary(assertions, ctx)
        if not unary:
            return assertions
        pairs = [(z3.ExprRef(term, ctx), z3.ExprRef(child, ctx)) for term, child in unary]
        assertions = [z3.substitute(a, *pairs) for a in assertions]  # again: a child may hold another


def _unary(assertions: Sequence, ctx) -> list:
    """``(term, argument)`` for each n-ary application of one argument (raw ASTs)."""
    c = ctx.ref()
    get_id, to_app, count, arg = z3.Z3_get_ast_id, z3.Z3_to_app, z3.Z3_get_app_num_args, z3.Z3_get_app_arg
    decl, kind, ast_kind = z3.Z3_get_app_decl, z3.Z3_get_decl_kind, z3.Z3_get_ast_kind
    seen, out = set(), []
    stack = [a.as_ast() for a in assertions]
    while stack:
        e = stack.pop()
        key = get_id(c, e)
        if key in seen:
            continue
        seen.add(key)
        if ast_kind(c, e) not in (z3.Z3_APP_AST, z3.Z3_NUMERAL_AST):
            raise errors.UnsupportedExpressionError("cannot write a quantifier or bound variable in this SMT-LIB export")
        app = to_app(c, e)
        n, op = count(c, app), kind(c, decl(c, app))
        if op not in _OPERATORS or op == z3.Z3_OP_UNINTERPRETED and n:
            raise errors.UnsupportedExpressionError(
                f"cannot write {z3.ExprRef(e, ctx).decl().name()} in standard SMT-LIB")
        if n == 1 and op in _NARY:
            out.append((e, arg(c, app, 0)))
        stack.extend(arg(c, app, i) for i in range(n))
    return out


def _benchmark(assertions: Sequence, logic: str) -> str:
    """z3's SMT-LIB text of the assertions (``set-info :status``, ``set-logic``, declarations, asserts)."""
    array = (z3.Ast * len(assertions))()
    for k, a in enumerate(assertions):
        array[k] = a.as_ast()
    ctx = assertions[0].ctx
    body = z3.Z3_benchmark_to_smtlib_string(ctx.ref(), "", logic, "unknown", "", len(assertions), array,
                                            z3.BoolVal(True, ctx).as_ast())
    return "\n".join(line for line in body.splitlines() if not line.startswith(";")) + "\n"


def _comment(text: str) -> str:
    """One comment line: control characters (a newline could end the comment) become spaces."""
    return "".join(c if c.isprintable() else " " for c in text)


def _renaming(names: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """``{old: (new, sort)}`` for the declared names that are SMT-LIB symbols."""
    taken = set(names)
    out = {}
    for name, sort in names.items():
        if name in RESERVED:
            new = name + "!"
            while new in taken:
                new += "!"
            taken.add(new)
            out[name] = (new, sort)
    return out


def _scan(assertions: Sequence) -> tuple[bool, bool, bool]:
    """Whether Int and Real terms occur, and whether the query is nonlinear (a product of two terms
    with variables, or a division by one). Iterative, each shared subterm once."""
    ints = reals = nonlinear = False
    has_var: dict[int, bool] = {}
    stack = [(a, False) for a in assertions]
    while stack:
        e, ready = stack.pop()
        key = e.get_id()
        if key in has_var:
            continue
        if not z3.is_app(e):
            raise errors.UnsupportedExpressionError(f"cannot write {e} in SMT-LIB: a quantifier or bound variable")
        children = e.children()
        if not ready:
            stack.append((e, True))
            stack.extend((c, False) for c in children if c.get_id() not in has_var)
            continue
        op = e.decl().kind()
        if op not in _OPERATORS:
            raise errors.UnsupportedExpressionError(f"cannot write {e.decl().name()} in standard SMT-LIB")
        sort = e.sort().kind()
        ints |= sort == z3.Z3_INT_SORT
        reals |= sort == z3.Z3_REAL_SORT
        if op == z3.Z3_OP_UNINTERPRETED:
            if children:
                raise errors.UnsupportedExpressionError(f"cannot write the function {e.decl().name()} in SMT-LIB")
            has_var[key] = True
            continue
        flags = [has_var[c.get_id()] for c in children]
        if op == z3.Z3_OP_MUL and sum(flags) > 1 or op in _DIVISIONS and any(flags[1:]):
            nonlinear = True
        if op in (z3.Z3_OP_TO_INT, z3.Z3_OP_IS_INT):  # Reals_Ints: an Int and a Real side
            ints = reals = True
        has_var[key] = any(flags)
    return ints, reals, nonlinear


# -- the certificate --------------------------------------------------------------------------------
class Certificate(Mapping):
    """The ``"kind": "smt"`` certificate of ``claim`` answered ``answer`` by z3 on ``assertions``.

    :func:`verify.decide` attaches one to every proof by z3 (``Result.certificate``). Building it
    keeps references only; the SMT-LIB text is printed when the certificate is first read
    (``dict(cert)``, ``--certificate FILE``). Pickling renders it (to a plain dict).

    >>> from symbolic.circuit import from_layers
    >>> from symbolic.relu import sym
    >>> from verify.claim import Claim
    >>> claim = Claim(from_layers([([[1], [-1]], None), ([[1, -1]], None)]), sym('x'))
    >>> cert = Certificate(claim, claim_query(claim).assertions, "z3")
    >>> cert["kind"], cert["expected"], cert["z3"], cert["source"]["statement"]
    ('smt', 'unsat', 'unsat', 'N(x) = x')
    """

    def __init__(self, claim, assertions: Sequence, method: str, answer: str = "unsat"):
        self._claim, self._assertions, self._method, self._answer = claim, tuple(assertions), method, answer
        self._data: dict | None = None

    def data(self) -> dict:
        """The JSON-ready certificate (rendered once)."""
        if self._data is None:
            from verify.certificate import FORMAT, VERSION

            claim = self._claim
            text = to_smtlib(Query(self._assertions, _meaning(claim, self._method)))
            source = {"statement": claim.statement(), "domain": claim.domain.describe(claim.variables),
                      "method": self._method}
            self._data = {"format": FORMAT, "version": VERSION, "kind": "smt", "smtlib": text,
                          "expected": self._answer, "z3": self._answer, "source": source,
                          "stats": {"bytes": len(text.encode()), "assertions": len(self._assertions)}}
        return self._data

    def __getitem__(self, key: str):
        return self.data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data())

    def __len__(self) -> int:
        return len(self.data())

    def __reduce__(self):
        return dict, (self.data(),)
