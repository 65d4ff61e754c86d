"""Every promise of the README has a row in docs/CLAIMS.md naming the tests that hold it (tests/claims.py reads
both; the rule that turns the README into promises is stated at the top of docs/CLAIMS.md)."""

from __future__ import annotations

import re

from tests import claims
from tests.support import ROOT


def test_every_readme_promise_has_a_row_whose_tests_exist_at_their_level():
    """No promise without a row, no row whose promise left the README, no row naming a test that does not exist or
    giving it another level than the suite does (`python -m tests.claims` prints the same list)."""
    found = claims.problems()
    assert found == [], "\n".join(found)


def test_the_rule_reads_the_promises_of_each_kind():
    promises = claims.read_promises()
    assert "A local cluster listens on 127.0.0.1 only." in promises.sentences
    assert "`--no-dedupe` (`dedupe=False`) treats every repeat as a hold." in promises.sentences
    assert not any("PySceneDetect" in s for s in promises.sentences)  # the bench's section is not a promise
    assert not any(s.startswith("*Above:") for s in promises.sentences)  # nor a picture's caption
    assert "deepshop splice clip.mp4 edited.mp4 out.mp4 --window 4.8s:6.0s" in promises.commands
    assert 'SlowMotion().run("clip.mp4", slow_rate=0.25, frame_range=[], slow_range=[120, 150])' in promises.python
    assert promises.nodes == ("Slow Motion", "Speed Curve", "Load Video Frames", "Select Slow-Motion Range",
                              "DAIN Interpolate", "Slow Motion Retime", "Save Video", "Load Interpolation Model")
    assert {"--version", "--format", "--quality", "--window", "--json"} <= set(promises.options)


README = """# Tool

Does a thing. It never loses a file.

## Use

```bash
deepshop go clip.mp4   # the command
```

| node | what it does |
|---|---|
| Go | goes |

## Tests

The suite is fast.
"""

CLAIMS = """## Sentences

| promise | tests | level |
|---|---|---|
| Does a thing. | tests/test_cli.py::test_version | unit |
| It was fast once. | tests/test_cli.py::test_version | unit |
| It never loses | tests/test_cli.py::test_no_such_test | unit |

## Commands

| promise | tests | level |
|---|---|---|
| `deepshop go clip.mp4` | tests/test_cli.py::test_version | server |
"""


def test_a_missing_row_a_stale_row_a_missing_test_and_a_wrong_level_are_reported():
    read = claims.read_promises(README)
    promises = claims.Promises(read.sentences, read.commands, read.python, read.nodes, ())  # options: none here
    assert promises.sentences == ("Does a thing.", "It never loses a file.")  # "The suite is fast." is not one
    found = claims.problems(promises, claims.read_claims(CLAIMS))
    assert found == [
        "no row for the README's node: Go",
        "docs/CLAIMS.md line 6: the promise is no longer in the README: It was fast once.",
        "docs/CLAIMS.md line 7: no such test: tests/test_cli.py::test_no_such_test",
        "docs/CLAIMS.md line 13: level server, but its tests are unit",
    ]


def test_make_test_fast_is_the_unit_level_and_make_test_is_what_ci_runs():
    makefile = (ROOT / "Makefile").read_text()
    targets = dict(re.findall(r"^([\w-]+):.*\n((?:\t.*\n)+)", makefile, flags=re.M))
    assert targets["test-fast"].split()[-3:] == ["pytest", "-m", "unit"]
    assert targets["test"].split()[-2:] == ["-m", "pytest"]  # every level
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'export CI="${CI:-true}"' in ci and ci.rstrip().endswith("make test")
