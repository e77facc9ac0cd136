"""A soundness fuzzer: random and adversarial claims cross-checked against an independent oracle.

``spec`` holds the plain description of a claim (network, target AST, domain, kind) that both sides
read; ``generate`` draws claims and ``render`` turns them into the tool's objects or CLI text;
``oracle`` and ``oracle_z3`` decide them without the tool's evaluation code; ``crosscheck`` runs the
tool on one claim and compares; ``python -m tests.fuzz`` is the campaign (``make fuzz``).
"""
