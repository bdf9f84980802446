"""Every problem of a recipe file is one entry of the error's ``problems``, whichever part of the file it
is in. Touches: corpuslake.recipes.recipe_from_mapping and corpuslake.typed.Problems, in memory."""

import pytest

from corpuslake.recipes import recipe_from_mapping
from corpuslake.typed import DefinitionError, Problems

SOURCE = {"uri": "corpuslake://web@1"}


def test_a_recipe_with_both_sources_and_phases_lists_that_beside_its_other_problems() -> None:
    bad = {"name": "mix", "target_tokens": 10, "seed": "7", "sources": [SOURCE], "phases": []}
    with pytest.raises(DefinitionError) as raised:
        recipe_from_mapping(bad, "m.yaml")
    assert raised.value.problems == [
        "m.yaml: seed must be a whole number, not '7' (a string): remove the quotes",
        "m.yaml: give either sources (one phase) or phases",
    ]


def test_problems_collects_each_part_and_raises_them_together() -> None:
    problems = Problems(["f.yaml: first"])

    def parse(index: int, item: int) -> int:
        if item < 0:
            raise DefinitionError(f"f.yaml: items[{index}] is negative")
        return item * 2

    assert problems.each(parse, [1, -1, 3, -4]) == [2, 6]
    with pytest.raises(DefinitionError) as raised:
        problems.raise_any()
    assert raised.value.problems == ["f.yaml: first", "f.yaml: items[1] is negative", "f.yaml: items[3] is negative"]
    Problems().raise_any()  # no problem: nothing raised
    with pytest.raises(DefinitionError, match="expected a mapping"):
        Problems().values(dict, ["not", "a", "mapping"], "f.yaml")  # nothing more of such data can be read
