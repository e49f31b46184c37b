"""The errors a lesson shows on purpose with `checker.expect_error`, read from a notebook's stored outputs."""
MARK = " (an error this cell shows on purpose):"


def shown_errors(cells) -> list[tuple[str, str, str]]:
    """(error type, message, cell source) for each deliberate error shown in `cells` (notebook JSON cells)."""
    found = []
    for cell in cells:
        for out in cell.get("outputs", []):
            text = "".join(out.get("data", {}).get("text/plain", ""))
            if MARK in text:
                kind, _, rest = text.partition(MARK)
                message = rest.strip("\n").rsplit("\n  at line ", 1)[0]
                found.append((kind, message, "".join(cell["source"])))
    return found
