"""Every report caption is valid reStructuredText: `snakemake --report` renders it with Docutils, and a
markup error (a `|...|` read as a substitution, a trailing `_` read as a reference) becomes an error block
in the HTML."""

import io

import docutils.core
import docutils.nodes
import pytest

from featspan.catalog import COMPARE, FIGURES, TABLES, TOY_FIGURES

CAPTIONS = {**{f"figure {k}": v["caption"] for k, v in {**FIGURES, **TOY_FIGURES}.items()},
            **{f"table {k}": v["caption"] for k, v in TABLES.items()},
            "compare": COMPARE["caption"]}


def docutils_messages(text: str) -> list[str]:
    """What Docutils reports on ``text`` (warnings and errors), as an HTML build would show them."""
    stream = io.StringIO()
    doctree = docutils.core.publish_doctree(text, settings_overrides={"report_level": 2, "halt_level": 5,
                                                                      "warning_stream": stream})
    problems = [node.astext() for node in doctree.findall(docutils.nodes.problematic)]
    return problems + [line for line in stream.getvalue().splitlines() if line.strip()]


def test_docutils_reports_bad_markup():  # the check is not vacuous
    assert docutils_messages("FSE |<w_r, v_j>| above b")


@pytest.mark.parametrize("name", sorted(CAPTIONS))
def test_caption_is_valid_restructuredtext(name):
    assert docutils_messages(CAPTIONS[name]) == []
