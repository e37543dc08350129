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


def test_a_not_reproduced_claim_is_shown_but_never_ticked():
    from steplab.claims import Claim, Outcome, Result

    def result(passed):
        return Result("paper: 3/3", "ours: 1/3", passed)

    ours = Outcome(Claim("x.ours", "p", "s", "stmt", lambda: result(True), reproduced=False), result(True), 0.0)
    broken = Outcome(Claim("x.broken", "p", "s", "stmt", lambda: result(False), reproduced=False), result(False), 0.0)
    fine = Outcome(Claim("x.fine", "p", "s", "stmt", lambda: result(True)), result(True), 0.0)
    assert [claims.mark(o) for o in (ours, broken, fine)] == [claims.NOT_REPRODUCED, "✗", "✓"]
    text = claims.format_table([ours, broken, fine], show_seconds=False)
    assert text.splitlines()[-1] == "1/3 claims verified, 1 not reproduced here, 1 failed"


def test_measured_texts_print_the_band_not_the_raw_value():
    assert claims.within(3.2e-7, 1e-6) == claims.within(9.9e-7, 1e-6) == "<= 1e-06"  # last bits do not show
    assert claims.within(2.5e-6, 1e-6) == "2.5e-06 (> 1e-06)"  # a failure shows its size
    assert (claims.yes(True), claims.yes(False)) == ("yes", "NO")


def test_checks_build_the_test_and_its_texts_from_the_same_numbers():
    ok = claims.close("g1", 0.7071, 0.705, 0.005)
    assert ok.passed and ok.expected == "g1 = 0.705 ± 0.005" and ok.measured == "g1 = 0.7071"
    assert not claims.close("g1", 0.72, 0.705, 0.005).passed
    assert not claims.close("g1", 0.0, 0.705, 0.005).passed  # 0 does not pass
    band = claims.between("bias", 0.2225, 0.2, 0.25)
    assert band.passed and band.expected == "bias in (0.2, 0.25)"
    assert not claims.between("bias", 0.25, 0.2, 0.25).passed and not claims.between("x", 1.0, low=1.0).passed
    hidden = claims.between("max norm", 212.0, low=100.0, show_value=False)
    assert hidden.measured == "max norm > 100: yes"
    count = claims.count_between("MSGD-C", 9, 10, low=8)
    assert count.passed and count.measured == "MSGD-C >= 8/10: yes"
    assert not claims.count_between("MSGD", 5, 10, high=4).passed
    result = claims.combine(ok, count)
    assert result.passed and result.expected == "g1 = 0.705 ± 0.005; MSGD-C >= 8/10"
    assert not claims.combine(ok, claims.count_between("MSGD", 5, 10, high=4)).passed
    with pytest.raises(ValueError):
        claims.between("x", 1.0)


def test_report_marks_a_claim_as_the_table_does():
    text = claims.report("tour.gd_rate")
    assert text.splitlines()[0] == "tour.gd_rate: ✓" and "expected" in text.splitlines()[1]
    not_reproduced = next(c for c in ALL if not c.reproduced)
    assert claims.report(not_reproduced.id).splitlines()[0] == f"{not_reproduced.id}: {claims.NOT_REPRODUCED}"


def _outcomes():
    from steplab.claims import Claim, Outcome, Result

    def outcome(claim_id, statement, passed, reproduced=True):
        result = Result("a < 1; b in (0.2, 0.3)", "a = 0.5; b > 0.2: yes" if passed else "a = 2; b > 0.2: NO", passed)
        return Outcome(Claim(claim_id, "Doe 2024", "Thm 1 & Fig. 2", statement, lambda: result, reproduced),
                       result, 1.25)

    return [outcome("x.ok", "GD <converges> & stops", True), outcome("x.bad", "fails", False),
            outcome("x.ours", "paper band", True, reproduced=False)]


def test_html_table_escapes_every_text_and_marks_each_row():
    html = claims.format_html(_outcomes())
    assert html.count("<tr>") == 4 and html.count("<th ") == 5  # a header row and one row per claim
    assert "GD &lt;converges&gt; &amp; stops" in html and "<converges>" not in html
    assert "Doe 2024, Thm 1 &amp; Fig. 2" in html
    assert "a &lt; 1<br>b in (0.2, 0.3)" in html and "a = 2<br>b &gt; 0.2: NO" in html  # one condition per line
    rows = html.split("<tr>")[2:]
    assert "color:#1a7f37" in rows[0] and "<b>✓</b>" in rows[0]
    assert "color:#cf222e" in rows[1] and "<b>✗</b>" in rows[1] and "✓" not in rows[1]
    assert f"<b>{claims.NOT_REPRODUCED}</b>" in rows[2] and "✓" not in rows[2]
    assert "1/3 claims verified, 1 not reproduced here, 1 failed" in html
    assert "1.2" not in html  # no timings: the same on every machine


def test_table_prints_text_and_renders_html():
    table = claims.Table(_outcomes())
    assert str(table) == repr(table) == claims.format_table(_outcomes(), show_seconds=False)
    assert table._repr_html_() == claims.format_html(_outcomes())
    tour = claims.table("tour")
    assert "tour.gd_diverges" in str(tour) and "<code>tour.gd_diverges</code>" in tour._repr_html_()
    assert "x.ok" in str(table)
