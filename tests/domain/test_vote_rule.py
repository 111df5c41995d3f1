"""The vote rule of PRC Civil Code Art. 278 (DESIGN 2.3), against an oracle.

The oracle below is written from the article's wording, not from the module:

    业主共同决定事项，应当由专有部分面积占比三分之二以上的业主且人数占比三分之二
    以上的业主参与表决。决定前款第六项至第八项规定的事项，应当经参与表决专有部分
    面积四分之三以上的业主且参与表决人数四分之三以上的业主同意。决定前款其他事项，
    应当经参与表决专有部分面积过半数的业主且参与表决人数过半数的业主同意。

"以上" includes the bound (Civil Code Art. 1259); "过半数" is strictly more
than half. An owner who abstains has taken part in the vote (参与表决) and
has not agreed (同意). The oracle works on whole hundredths of a m² and
compares by cross-multiplying integers, so it shares no arithmetic with the
module (which divides Fractions of Decimals).
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from math import gcd

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from domain.consultation import MATTERS, tally
from domain.errors import InvalidValue

# Items 6 to 8 of the article: raising the maintenance fund, rebuilding or
# reconstructing, changing the use of common parts.
ITEMS_6_TO_8 = {"raise_maintenance_fund", "rebuild_or_reconstruct", "change_common_parts_use"}

# One owner: (exclusive area in hundredths of a m², their vote or None).
Owner = tuple[int, str | None]


def oracle(owners: list[Owner], matter: str) -> str:
    total_area = sum(area for area, _ in owners)
    total_heads = len(owners)
    took_part = [(area, vote) for area, vote in owners if vote is not None]
    part_area = sum(area for area, _ in took_part)
    part_heads = len(took_part)
    # 面积占比三分之二以上 且 人数占比三分之二以上 参与表决
    if not (3 * part_area >= 2 * total_area and 3 * part_heads >= 2 * total_heads):
        return "no_quorum"
    agree_area = sum(area for area, vote in took_part if vote == "for")
    agree_heads = sum(1 for _, vote in took_part if vote == "for")
    if matter in ITEMS_6_TO_8:
        # 参与表决专有部分面积四分之三以上 且 参与表决人数四分之三以上 同意
        passed = 4 * agree_area >= 3 * part_area and 4 * agree_heads >= 3 * part_heads
    else:
        # 参与表决专有部分面积过半数 且 参与表决人数过半数 同意
        passed = 2 * agree_area > part_area and 2 * agree_heads > part_heads
    return "adopted" if passed else "rejected"


def ratio(numerator: int, denominator: int) -> str:
    divisor = gcd(numerator, denominator)
    return f"{numerator // divisor}/{denominator // divisor}"


def run(owners: list[Owner], matter: str):  # noqa: ANN201
    electorate = {f"owner-{i}": Decimal(area).scaleb(-2) for i, (area, _) in enumerate(owners)}
    votes = {f"owner-{i}": vote for i, (_, vote) in enumerate(owners) if vote is not None}
    return tally(electorate, votes, matter)


def check_against_oracle(owners: list[Owner], matter: str) -> None:
    result = run(owners, matter)
    assert result.outcome == oracle(owners, matter)
    # The figures a supervisor checks it by.
    took_part = [(a, v) for a, v in owners if v is not None]
    total_area = sum(a for a, _ in owners)
    part_area = sum(a for a, _ in took_part)
    assert str(result.participation_area) == str(eval_fraction(part_area, total_area))
    assert f"{result.participation_owners.numerator}/{result.participation_owners.denominator}" == (
        ratio(len(took_part), len(owners))
    )
    fields = result.event_fields()
    assert fields["participation_area"] == ratio(part_area, total_area)
    assert fields["participation_owners"] == ratio(len(took_part), len(owners))
    if took_part:
        agree_area = sum(a for a, v in took_part if v == "for")
        agree_heads = sum(1 for _, v in took_part if v == "for")
        assert fields["approval_area"] == ratio(agree_area, part_area)
        assert fields["approval_owners"] == ratio(agree_heads, len(took_part))
    else:
        assert fields["approval_area"] is None
    assert result.total_area == Decimal(total_area).scaleb(-2)
    assert result.participating_area == Decimal(part_area).scaleb(-2)
    assert result.for_owners + result.against_owners + result.abstain_owners == len(took_part)


def eval_fraction(numerator: int, denominator: int) -> str:
    # Fraction's own str, for the module's Fraction attribute ("1" for 1/1).
    divisor = gcd(numerator, denominator)
    n, d = numerator // divisor, denominator // divisor
    return str(n) if d == 1 else f"{n}/{d}"


# Areas: mostly a few round values, so that ties and exact boundaries are
# common; sometimes any area up to 100000 m² in hundredths.
areas = st.one_of(
    st.sampled_from([100, 200, 300, 9000, 9050, 12025]),
    st.integers(min_value=1, max_value=10_000_000),
)
votes = st.sampled_from(["for", "against", "abstain", None])
electorates = st.lists(st.tuples(areas, votes), min_size=1, max_size=15)


@settings(max_examples=300, deadline=None)
@given(owners=electorates, matter=st.sampled_from(MATTERS))
# 2/3 exactly is a quorum (area and heads), and 2 of 2 pass.
@example(owners=[(100, "for"), (100, "for"), (100, None)], matter="ordinary")
# 1/2 exactly does not pass.
@example(owners=[(100, "for"), (100, "for"), (100, "against"), (100, "against")], matter="ordinary")
# 3/4 exactly passes a matter of items 6 to 8.
@example(
    owners=[(100, "for"), (100, "for"), (100, "for"), (100, "against")],
    matter="raise_maintenance_fund",
)
def test_the_vote_rule_agrees_with_the_article(owners: list[Owner], matter: str) -> None:
    check_against_oracle(owners, matter)


def test_every_small_electorate_agrees_with_the_article() -> None:
    """Exhaustively: up to 4 owners of 1 or 2 units of area, every vote, every matter."""
    count = 0
    for size in range(1, 5):
        for area_list in itertools.product([100, 200], repeat=size):
            for vote_list in itertools.product(["for", "against", "abstain", None], repeat=size):
                owners = list(zip(area_list, vote_list, strict=True))
                for matter in ("ordinary", "rebuild_or_reconstruct"):
                    check_against_oracle(owners, matter)
                    count += 1
    assert count == 2 * sum(2**n * 4**n for n in range(1, 5))


# ----- the boundaries, one by one ---------------------------------------------------


def outcome(owners: list[Owner], matter: str = "ordinary") -> str:
    return run(owners, matter).outcome


def test_two_thirds_exactly_is_a_quorum() -> None:
    result = run([(100, "for"), (100, "for"), (100, None)], "ordinary")
    assert result.quorum_reached
    assert result.event_fields()["participation_area"] == "2/3"
    assert result.event_fields()["participation_owners"] == "2/3"
    assert result.outcome == "adopted"


def test_just_under_two_thirds_of_the_area_is_no_quorum_even_with_two_thirds_of_heads() -> None:
    assert outcome([(100, "for"), (100, "for"), (201, None)]) == "no_quorum"


def test_two_thirds_of_the_area_but_fewer_heads_is_no_quorum() -> None:
    # One large owner holds 4/5 of the area: one head of three is not enough.
    assert outcome([(800, "for"), (100, None), (100, None)]) == "no_quorum"


def test_half_exactly_does_not_pass() -> None:
    result = run([(100, "for"), (100, "for"), (100, "against"), (100, "against")], "ordinary")
    assert result.event_fields()["approval_area"] == "1/2"
    assert result.event_fields()["approval_owners"] == "1/2"
    assert result.outcome == "rejected"


def test_more_than_half_of_both_passes_but_not_of_one_only() -> None:
    assert outcome([(100, "for"), (100, "for"), (100, "against")]) == "adopted"
    # Two heads of three for, but only 200 of 500 m².
    assert outcome([(100, "for"), (100, "for"), (300, "against")]) == "rejected"
    # 300 of 500 m² for, but one head of three.
    assert outcome([(300, "for"), (100, "against"), (100, "against")]) == "rejected"


def test_three_quarters_exactly_passes_a_major_matter() -> None:
    owners: list[Owner] = [(100, "for"), (100, "for"), (100, "for"), (100, "against")]
    for matter in ITEMS_6_TO_8:
        result = run(owners, matter)
        assert result.event_fields()["approval_area"] == "3/4"
        assert result.outcome == "adopted"


def test_two_thirds_for_passes_an_ordinary_matter_but_not_a_major_one() -> None:
    owners: list[Owner] = [(100, "for"), (100, "for"), (100, "against")]
    assert outcome(owners, "ordinary") == "adopted"
    for matter in ITEMS_6_TO_8:
        assert outcome(owners, matter) == "rejected"


def test_abstaining_takes_part_but_does_not_agree() -> None:
    # Quorum only with the abstainer; with them, 2 of 4 for is not a majority.
    owners: list[Owner] = [(100, "for"), (100, "for"), (100, "abstain"), (100, "against")]
    result = run(owners, "ordinary")
    assert result.quorum_reached
    assert result.participating_owners == 4
    assert result.outcome == "rejected"
    assert outcome([(100, "for"), (100, "abstain"), (100, None)]) == "rejected"
    assert outcome([(100, "for"), (100, None), (100, None)]) == "no_quorum"


def test_nobody_voting_is_no_quorum_without_an_approval_figure() -> None:
    result = run([(100, None), (200, None)], "ordinary")
    assert result.outcome == "no_quorum"
    assert result.approval_area is None
    assert result.event_fields()["participation_area"] == "0/1"


# Areas for which a float computation lands on the wrong side of the bound;
# exact fractions do not.
def test_exact_two_thirds_where_floats_fall_short() -> None:
    a, b, c = Decimal("272.96"), Decimal("771.68"), Decimal("522.32")
    assert (float(a) + float(b)) / (float(a) + float(b) + float(c)) < 2 / 3
    result = tally({"a": a, "b": b, "c": c}, {"a": "for", "b": "for"}, "ordinary")
    assert result.event_fields()["participation_area"] == "2/3"
    assert result.outcome == "adopted"


def test_exact_half_where_floats_exceed_it() -> None:
    a, b, c = Decimal("255.84"), Decimal("551.95"), Decimal("807.79")
    assert (float(a) + float(b)) / (float(a) + float(b) + float(c)) > 0.5
    result = tally(
        {"a": a, "b": b, "c": c}, {"a": "for", "b": "for", "c": "against"}, "ordinary"
    )
    assert result.event_fields()["approval_area"] == "1/2"
    assert result.outcome == "rejected"


def test_exact_three_quarters_where_floats_fall_short() -> None:
    areas_for = [Decimal("788.34"), Decimal("419.47"), Decimal("232.55")]
    against = Decimal("480.12")
    total_for = sum(float(x) for x in areas_for)
    assert total_for / (total_for + float(against)) < 0.75
    electorate = {"a": areas_for[0], "b": areas_for[1], "c": areas_for[2], "d": against}
    result = tally(
        electorate, {"a": "for", "b": "for", "c": "for", "d": "against"}, "rebuild_or_reconstruct"
    )
    assert result.event_fields()["approval_area"] == "3/4"
    assert result.outcome == "adopted"


@pytest.mark.parametrize(
    ("electorate", "votes", "matter", "field"),
    [
        ({}, {}, "ordinary", "electorate"),
        ({"a": Decimal(1)}, {"b": "for"}, "ordinary", "owner_id"),
        ({"a": Decimal(1)}, {"a": "yes"}, "ordinary", "choice"),
        ({"a": Decimal(1)}, {}, "item_9", "matter"),
        ({"a": Decimal(0)}, {}, "ordinary", "exclusive_area"),
    ],
)
def test_tally_refuses_what_is_not_a_vote(
    electorate: dict, votes: dict, matter: str, field: str
) -> None:
    with pytest.raises(InvalidValue) as error:
        tally(electorate, votes, matter)
    assert error.value.field == field


def test_an_owner_of_several_units_may_hold_more_than_one_units_maximum() -> None:
    """An owner is counted once with the sum of their units (SPC interpretation
    on building unit ownership disputes, Art. 9: 同一买受人拥有一个以上专有部分的，
    按一人计算), so one owner's area may exceed what one unit may have (100000 m²)."""
    electorate = {"p": Decimal("150000"), "h3": Decimal("90"), "q": Decimal("70")}
    # Took part: p and q, 2 of 3 owners; 150070 of 150160 m². For: p, 1 of 2: rejected.
    result = tally(electorate, {"p": "for", "q": "against"}, "ordinary")
    assert result.total_owners == 3
    assert result.total_area == Decimal("150160")
    assert result.event_fields()["participation_owners"] == "2/3"
    assert result.event_fields()["approval_owners"] == "1/2"
    assert result.outcome == "rejected"
