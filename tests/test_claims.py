"""Every registered paper claim holds: the notebooks' headline numbers and the tests share one path."""

import pytest

from steplab import claims
from steplab.verify import main as verify_main

ALL = claims.all_claims()


@pytest.mark.parametrize("claim", ALL, ids=[c.id for c in ALL])
def test_claim_holds(claim):
    outcome = claims.check(claim.id)
    assert outcome.result.passed, f"{claim.id}: expected {outcome.result.expected}, measured {outcome.result.measured}"


def test_every_family_with_a_module_registers_claims():
    families = {c.family for c in ALL}
    assert "tour" in families
    for family in claims.load():
        assert family in families, f"{family} imports but registers no claim"


def test_claim_metadata_is_complete():
    for claim in ALL:
        assert claim.paper and claim.source and claim.statement, claim.id
        assert claim.id.count(".") >= 1 and claim.family in claims.CLAIM_MODULES


def test_verify_cli_prints_a_table(capsys):
    assert verify_main(["tour"]) == 0
    out = capsys.readouterr().out
    assert "tour.gd_diverges" in out and "✓" in out and "2/2 claims verified" in out


def test_unknown_claim_and_family():
    with pytest.raises(KeyError):
        claims.get("tour.no_such_claim")
    with pytest.raises(ValueError, match="unknown family"):
        claims.load("astrology")
    with pytest.raises(ValueError, match="family.short_name"):
        claims.register("nodot", paper="p", source="s", statement="x")
