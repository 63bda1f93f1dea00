"""The figure registry: every span-gap figure of the paper, each a distinct view of the span summary."""
from featspan.figures import FIGURES


def test_gap_figures_cover_direction_state_and_evaluation_set():
    gaps = {name: spec for name, spec in FIGURES.items() if spec["kind"] == "gap"}
    views = {(s["options"]["direction"], s["options"]["state"], s["options"]["eval"]) for s in gaps.values()}
    assert len(views) == len(gaps) == 8  # Figures 1, 2, 7, 8 and their test-split versions 11-14
    assert FIGURES["fig11"]["options"] == {**FIGURES["fig1"]["options"], "eval": "test"}
    assert FIGURES["fig8"]["options"] == {"direction": "reverse", "state": "init", "eval": "validation"}
    assert len({s["slug"] for s in FIGURES.values()}) == len(FIGURES)
    for spec in FIGURES.values():
        assert spec["title"] and spec["caption"]
