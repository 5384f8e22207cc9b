"""NTU RGB+D 120 action names, loaded from the package's reference table (index = label = action - 1)."""

from __future__ import annotations

from pathlib import Path

from data_pipeline.ntu import num_classes

NUM_ACTIONS = num_classes("ntu120")  # the table covers every NTU120 action

# 1-based action IDs performed by two people (NTU60: A050-A060; NTU120 adds A106-A120).
TWO_PERSON_ACTIONS: frozenset[int] = frozenset(list(range(50, 61)) + list(range(106, 121)))


def _load_names() -> list[str]:
    # A path beside the module, not importlib.resources: under the editable install the package
    # can resolve as a namespace package, which resources.files() rejects.
    path = Path(__file__).resolve().with_name("reference") / "action_names.tsv"
    text = path.read_text("utf-8")
    names: dict[int, str] = {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        if line_no == 1 or not line.strip():
            continue  # header "action<TAB>name"
        code, sep, name = line.partition("\t")
        if not sep or not code.startswith("A") or not code[1:].isdigit():
            raise ValueError(f"{path} line {line_no}: expected 'Annn<TAB>name', got {line!r}")
        names[int(code[1:])] = name.strip()
    if sorted(names) != list(range(1, NUM_ACTIONS + 1)):
        raise ValueError(f"{path}: expected actions A001-A{NUM_ACTIONS:03d}, got {len(names)} distinct")
    return [names[a] for a in range(1, NUM_ACTIONS + 1)]


ACTION_NAMES: list[str] = _load_names()


def action_name(label: int) -> str:
    """Name of a 0-based label (= action - 1), e.g. action_name(0) == "drink water"."""
    if isinstance(label, bool) or int(label) != label or not 0 <= int(label) < NUM_ACTIONS:
        raise ValueError(f"action label {label!r} out of range: labels are 0..{NUM_ACTIONS - 1} (action - 1)")
    return ACTION_NAMES[int(label)]


def is_two_person(action: int) -> bool:
    """Whether a 1-based action ID is a two-person interaction."""
    return int(action) in TWO_PERSON_ACTIONS
